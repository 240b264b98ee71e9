"""A second province on the lab: other names, counts and layout than Cà Mau's.

``inventory/songxanh-lab.yaml`` (sites ``north``/``south``, no offsite store, storage and
monitoring on one host, one service, datasets ``records-db``/``records-files``/``configs``) is
brought up, deployed, backed up and replicated with the same commands a new user runs, and
every shipped scenario that applies to it runs unchanged: the quarterly test failover in test
mode, the others' readiness (their failover modes are the Cà Mau suite's). The scenarios that
need an offsite store say so in ``egov drill list`` and are refused by ``egov drill run``.

Its own pytest run (``make lab-test`` runs it after ``tests/lab``), so the two estates are
never up at once on CI's two cores; it takes its lab down at the end unless it found it up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from egov.lab.paths import get_host_dir, get_state_dir
from tests.lab.bringup import running_lab

pytestmark = [pytest.mark.lab]

INVENTORY = Path(__file__).resolve().parents[2] / "inventory" / "songxanh-lab.yaml"
EGOV = str(Path(sys.executable).parent / "egov")
LAB_DRILL_KEY = get_state_dir() / "drill-signing.key"
APPLIES = {"loss-of-primary-database", "loss-of-primary-site", "quarterly-test-failover"}
NEEDS_OFFSITE = {"ransomware-recovery", "vnpt-link-cut-during-replication"}


def egov(*arguments: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    """The egov console script on the second province's inventory; never raises."""
    return subprocess.run(
        [EGOV, *arguments, "-i", str(INVENTORY)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "EGOV_DRILL_KEY": str(LAB_DRILL_KEY)},
    )


def drill(drills: Path, scenario: str, mode: str) -> tuple[int, dict[str, Any], str]:
    result = egov(
        "drill", "run", scenario, "--mode", mode, "--drill-dir", str(drills), "-o", "json",
        "--reason", "second province on the lab",
    )  # fmt: skip
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        report = {}
    return result.returncode, report, result.stderr


@pytest.fixture(scope="module")
def province() -> Iterator[None]:
    """The second province's lab up, deployed, backed up and replicated."""
    with running_lab(INVENTORY):
        for step in (("deploy",), ("backup", "run"), ("backup", "replicate")):
            result = egov(*step)
            assert result.returncode == 0, f"egov {' '.join(step)}: {result.stderr[-3000:]}"
        yield


def test_every_dataset_is_fresh_at_both_sites(province: None) -> None:
    state = get_host_dir("songxanh-lab", "north-ops-1") / "root" / "var" / "lib" / "egov" / "state"
    result = egov("backup", "status", "--state-dir", str(state), "-o", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    seen = {(row["dataset"], row["site"]): row for row in rows}
    assert {dataset for dataset, _ in seen} == {"records-db", "records-files", "configs"}
    assert {site for _, site in seen} == {"north", "south"}
    stale = [key for key, row in seen.items() if not row["fresh"]]
    assert stale == [], result.stdout


def test_drill_list_says_which_scenarios_apply_and_why_not(province: None) -> None:
    result = egov("drill", "list", "-o", "json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {name for name, row in rows.items() if row["applies"]} == APPLIES
    for name in NEEDS_OFFSITE:
        assert "no active offsite site" in " ".join(rows[name]["unmet"].values()), rows[name]
    refused = egov("drill", "run", "ransomware-recovery", "--mode", "readiness")
    assert refused.returncode == 2, refused.stderr
    assert "does not apply to estate songxanh-lab" in refused.stderr


@pytest.mark.parametrize("scenario", sorted(APPLIES))
def test_every_applicable_scenario_is_ready(province: None, scenario: str, tmp_path: Path) -> None:
    code, report, stderr = drill(tmp_path, scenario, "readiness")
    assert code == 0, stderr + json.dumps(report.get("probes"))
    assert report["status"] == "succeeded"


def test_the_quarterly_test_failover_passes_at_the_south_site(
    province: None, tmp_path: Path
) -> None:
    code, report, stderr = drill(tmp_path, "quarterly-test-failover", "test")
    assert code == 0, stderr + json.dumps(report.get("failures"))
    assert report["status"] == "succeeded"
    (service,) = report["services"]
    assert service["service"] == "hoso"
    assert service["rto_seconds"] is not None and service["rto_seconds"] <= 180
    assert service["lost_records"] == 0 and service["failed_writes"] == 0, service
    assert service["files_rpo_seconds"] is not None and service["files_rpo_ok"], service
