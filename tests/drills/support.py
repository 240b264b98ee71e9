"""Helpers of the drill tests: the fake catalog's record, scenario files, a dead PID."""

from __future__ import annotations

import subprocess
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path

from egov.drills.loader import LoadedScenario, load_scenario
from egov.drills.signing import SigningKey, get_or_create_signing_key, get_signing_key_path
from egov.inventory.model import Estate

LAB_INVENTORY = Path(__file__).resolve().parents[2] / "inventory" / "lab.yaml"
BARRIER_TIMEOUT_SECONDS = 5.0
SECRET_VARIABLE = "EGOV_TEST_APP_PASSWORD"


@dataclass
class FakeCatalog:
    """What the fake entries did, in order (appends from several threads are atomic)."""

    calls: list[str] = field(default_factory=list)
    barrier: threading.Barrier = field(
        default_factory=lambda: threading.Barrier(2, timeout=BARRIER_TIMEOUT_SECONDS)
    )


def write_scenario(directory: Path, name: str, body: str, estate: Estate) -> LoadedScenario:
    """Write ``<directory>/<name>.yaml`` (``body`` is the YAML after name and title) and load it."""
    path = directory / f"{name}.yaml"
    path.write_text(f"name: {name}\ntitle: A test drill\n{textwrap.dedent(body)}", "utf-8")
    return load_scenario(path, estate)


def write_lab_inventory(directory: Path) -> Path:
    """The lab inventory with its app password read from ``$EGOV_TEST_APP_PASSWORD``, which a
    test controls (the other secrets stay the lab's files)."""
    path = directory / "lab.yaml"
    text = LAB_INVENTORY.read_text(encoding="utf-8")
    path.write_text(
        text.replace("file:/var/lib/egov/lab/secrets/pg-app", f"env:{SECRET_VARIABLE}"), "utf-8"
    )
    return path


def get_test_key() -> SigningKey:
    """The test's drill signing key (conftest points ``$EGOV_DRILL_KEY`` at a temporary file)."""
    return get_or_create_signing_key(get_signing_key_path("test"), "test")


def get_dead_pid() -> int:
    """The PID of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
