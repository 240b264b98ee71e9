"""Shared pieces of the monitoring tests: estates, targets, a real Prometheus on loopback."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from egov.inventory import load_estate
from egov.inventory.model import Estate
from egov.monitoring.rules import render_rules
from egov.monitoring.targets import MonitoringTargets, make_targets
from tests.deploys.support import get_free_port

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "inventory" / "lab.yaml"
CAMAU = ROOT / "inventory" / "camau.yaml"
SONGXANH = ROOT / "tests" / "inventory" / "data" / "songxanh.yaml"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def lab() -> Estate:
    return load_estate(LAB).estate


@pytest.fixture(scope="session")
def lab_targets(lab: Estate) -> MonitoringTargets:
    return make_targets(lab)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (apt-get install prometheus)")
    return path


@contextlib.contextmanager
def run_prometheus(directory: Path, config: str) -> Iterator[str]:
    """Debian's prometheus on a free loopback port, with ``config`` and its TSDB in ``directory``.

    Yield its URL once it is ready; skip the test when it cannot start.
    """
    binary = need("prometheus")
    (directory / "prometheus.yml").write_text(config, encoding="utf-8")
    port = get_free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "log").open("w"),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.skip(
                    "prometheus could not start: "
                    + (directory / "log").read_text(encoding="utf-8")[-500:]
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def prometheus_url(
    tmp_path_factory: pytest.TempPathFactory, lab_targets: MonitoringTargets
) -> Iterator[str]:
    """Debian's prometheus on 127.0.0.1 with an empty TSDB and the lab's rules loaded."""
    directory = tmp_path_factory.mktemp("prometheus")
    (directory / "egov.yml").write_text(render_rules(lab_targets), encoding="utf-8")
    config = (
        "global: {scrape_interval: 15s, evaluation_interval: 1s}\n"
        f"rule_files: [{directory / 'egov.yml'}]\n"
        "scrape_configs: []\n"
    )
    with run_prometheus(directory, config) as url:
        yield url
