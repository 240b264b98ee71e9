"""The lab suite's fixture: the 14-host lab, up once per session, down at the end.

``lab`` is session-scoped and shared by every test under ``tests/lab/`` (later issues add theirs
beside these). When a lab of the estate is already up before the session it is reused and left
up; otherwise the fixture brings it up and takes it down (purging the host disks) at the end.
Tests that inject faults restore them in ``finally`` so the next test starts from a healthy lab.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import egov.lab as api
from egov.lab.spec import LabSpec
from tests.lab.bringup import running_lab

LAB_INVENTORY = Path(__file__).resolve().parents[2] / "inventory" / "lab.yaml"


@dataclass
class Lab:
    """The running lab: its spec and the ``egov.lab`` API, with shortcuts for tests."""

    spec: LabSpec
    api: ModuleType

    def exec(
        self, machine: str, *argv: str, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``machine`` through nsenter (works with links cut)."""
        return api.lab_exec(self.spec, machine, list(argv), timeout_seconds=timeout)

    def ssh(
        self, machine: str, *argv: str, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``machine`` over SSH with strict host keys; never raises on failure."""
        return subprocess.run(
            api.ssh_argv(self.spec, machine, list(argv)),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def address(self, machine: str) -> str:
        """Return ``machine``'s lab address."""
        return str(self.spec.get_host(machine).address)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """Bring the lab up once for the session (skipped where the lab cannot run)."""
    with running_lab(LAB_INVENTORY) as spec:
        yield Lab(spec=spec, api=api)


INVENTORY = LAB_INVENTORY
EGOV = str(Path(sys.executable).parent / "egov")


def egov(*arguments: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the egov console script with ``arguments`` on the lab's inventory; never raises."""
    return subprocess.run(
        [EGOV, *arguments, "-i", str(INVENTORY)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def replicate(lab: Lab, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """A run of the replication unit on the primary's monitoring host that starts now (after
    any timer-started run in flight, which began before the caller's changes), waited for."""
    from egov.backup.ondemand import make_run_now_command

    return lab.exec(
        "primary-mon-01", *make_run_now_command("egov-replicate.service"), timeout=timeout
    )


TIMER_TEST_DROPIN = "egov-test-no-random-delay.conf"


def fire_timers_as_after_a_missed_night(lab: Lab, timers: dict[str, list[str]]) -> None:
    """Make each timer (machine → timer units) start its unit now, by itself.

    The lab cannot wait for 01:30, so it relies on what the units promise: ``Persistent=true``
    starts a run missed while the host was off as soon as the timer starts. The timer's stamp is
    set two days back and the timer restarted. A runtime drop-in (under /run; removed by
    ``restore_timers``) turns the randomized delay off so the test does not wait up to
    RandomizedDelaySec; the schedule, the units and the agent are the deployed ones.
    """
    for machine, units in timers.items():
        script = []
        for timer in units:
            dropin = f"/run/systemd/system/{timer}.d"
            script += [
                f"mkdir -p '{dropin}'",
                f"printf '[Timer]\\nRandomizedDelaySec=0\\n' > '{dropin}/{TIMER_TEST_DROPIN}'",
                f"touch -d '-2 days' '/var/lib/systemd/timers/stamp-{timer}'",
            ]
        script += ["systemctl daemon-reload", "systemctl restart " + " ".join(units)]
        result = lab.exec(machine, "sh", "-ec", " && ".join(script))
        assert result.returncode == 0, f"{machine}: {result.stderr}"


def restore_timers(lab: Lab, timers: dict[str, list[str]]) -> None:
    """Remove the drop-ins of ``fire_timers_as_after_a_missed_night``: the random delay is back."""
    for machine, units in timers.items():
        paths = " ".join(f"'/run/systemd/system/{t}.d/{TIMER_TEST_DROPIN}'" for t in units)
        lab.exec(machine, "sh", "-c", f"rm -f {paths} && systemctl daemon-reload")


def read_backup_record(lab: Lab, machine: str, key: str) -> dict[str, Any] | None:
    """The agent's backup record ``key`` (``dataset@machine``) on ``machine``, or None."""
    shown = lab.exec(machine, "cat", f"/var/lib/egov/state/backup/{key}.json")
    return json.loads(shown.stdout) if shown.returncode == 0 else None


def get_journal(lab: Lab, machine: str, unit: str, lines: int = 30) -> str:
    """The last ``lines`` of ``unit``'s journal on ``machine``, for an assertion's message."""
    return lab.exec(machine, "journalctl", "-u", unit, "-n", str(lines), "--no-pager").stdout


@dataclass
class DeployRun:
    """One `egov deploy` run: its exit code, JSON report and wall time."""

    code: int
    report: dict[str, Any]
    seconds: float
    stderr: str
    #: `egov monitor status --output json` run the moment this deploy ended (first run only)
    monitor_status: subprocess.CompletedProcess[str] | None = None


def deploy(*arguments: str, timeout: float = 1500) -> DeployRun:
    """Run the egov console script's deploy with ``arguments`` and its JSON report."""
    started = time.monotonic()
    result = subprocess.run(
        [EGOV, "deploy", "-i", str(INVENTORY), "--output", "json", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        report = {}
    return DeployRun(result.returncode, report, time.monotonic() - started, result.stderr)


@pytest.fixture(scope="session")
def deployed(lab: Lab) -> Iterator[tuple[DeployRun, DeployRun]]:
    """The whole lab deployed twice: the first run and the (no-op) second."""
    first = deploy()
    assert first.code == 0, first.stderr[-3000:] + json.dumps(first.report)[-3000:]
    # the moment a new user's `make demo` asks: Prometheus just (re)started, first scrapes
    first.monitor_status = egov("monitor", "status", "--output", "json", timeout=180)
    second = deploy()
    yield first, second
