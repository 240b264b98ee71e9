"""Up is idempotent and repairs; down leaves the machine as it found it (egov/lab/lifecycle.py).

The down tests use their own two-host estate (other names, other networks) so the session's lab
stays up for the other tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from egov.lab import container, firewall, hosts, lifecycle
from egov.lab.paths import CGROUP_ROOTS, get_estate_dir, get_known_hosts_path
from egov.lab.spec import LabSpec
from egov.lab.state import load_state
from tests.lab.conftest import Lab
from tests.lab.topology import build_spec

pytestmark = pytest.mark.lab

MINI_TOPOLOGY = {
    "alpha": ("10.214.1.0/24", [("h-01", 10, ("app",))]),
    "beta": ("10.214.2.0/24", [("h-01", 10, ("db",))]),
}


def make_mini_spec() -> LabSpec:
    return build_spec("egov-down-test", MINI_TOPOLOGY)


@dataclass(frozen=True)
class Snapshot:
    """What the lab may change on the machine."""

    mounts: frozenset[str]
    links: frozenset[str]
    nft_tables: frozenset[str]
    nspawn_commands: frozenset[str]
    cgroups: frozenset[str]
    loop_devices: frozenset[str]
    ip_forward: str


def take_snapshot() -> Snapshot:
    nspawn = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                # A zombie (a host a drill powered off, not yet reaped by this session, its
                # parent) runs nothing; the lab reaps it at its next call: it counts as gone.
                alive = container.get_process_record(int(proc.name)) is not None
                if (proc / "comm").read_text().strip() == "systemd-nspawn" and alive:
                    nspawn.add((proc / "cmdline").read_text().replace("\0", " "))
            except OSError:
                continue
    # what the lab makes: egov-lab/<estate>/<host>; below that, a running host's own systemd
    # makes and removes unit cgroups all the time (a backup timer firing in the session's lab)
    cgroups = {
        str(p)
        for root in CGROUP_ROOTS
        if root.is_dir()
        for pattern in ("*", "*/*")
        for p in root.glob(pattern)
        if p.is_dir()
    }
    return Snapshot(
        mounts=frozenset(
            line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
        ),
        links=frozenset(p.name for p in Path("/sys/class/net").iterdir()),
        nft_tables=frozenset(
            subprocess.run(
                ["nft", "list", "tables"], capture_output=True, text=True, check=True
            ).stdout.splitlines()
        ),
        nspawn_commands=frozenset(nspawn),
        cgroups=frozenset(cgroups),
        loop_devices=frozenset(
            subprocess.run(
                ["losetup", "-a"], capture_output=True, text=True, check=True
            ).stdout.splitlines()
        ),
        ip_forward=Path("/proc/sys/net/ipv4/ip_forward").read_text().strip(),
    )


def test_up_on_a_running_lab_leaves_it_alone(lab: Lab) -> None:
    before = load_state(lab.spec.name)
    started = time.monotonic()
    status = lab.api.lab_up(lab.spec)
    assert time.monotonic() - started < 20
    after = load_state(lab.spec.name)
    assert before is not None and after is not None
    assert after.processes == before.processes
    assert status.is_up


def test_up_repairs_a_half_broken_lab(lab: Lab) -> None:
    machine = "primary-portal-02"
    state = load_state(lab.spec.name)
    assert state is not None
    record = state.processes[machine]
    container.run_power_off(record)  # behind the lab's back: not recorded as a fault
    container.wait_stopped([record], 10)
    table = firewall.make_table_name(lab.spec.name)
    firewall.run_delete_table(table)
    status = lab.api.lab_up(lab.spec)
    assert status.is_up
    assert firewall.table_exists(table)
    repaired = load_state(lab.spec.name)
    assert repaired is not None and repaired.processes[machine] != record
    assert lab.ssh(machine, "hostname").stdout.strip() == machine


def test_down_leaves_the_machine_as_it_found_it(lab: Lab) -> None:
    spec = make_mini_spec()
    before = take_snapshot()
    lab.api.lab_up(spec)
    try:
        during = take_snapshot()
        assert len(during.nspawn_commands - before.nspawn_commands) == 2
        assert lab.api.lab_status(spec).is_up
        # Faults in force at down are undone with the rest.
        lab.api.shape_link(spec, "alpha", 2000)
        lab.api.cut_link(spec, "beta")
        lab.api.fill_filesystem(spec, "alpha-h-01")
        lab.api.power_off_host(spec, "beta-h-01")
        # The session's lab is untouched by the second estate.
        assert lab.ssh("primary-db-01", "true").returncode == 0
    finally:
        started = time.monotonic()
        lab.api.lab_down(spec, purge=True)
        down_seconds = time.monotonic() - started
    assert take_snapshot() == before
    assert not get_estate_dir(spec.name).exists()
    assert "alpha-h-01" not in get_known_hosts_path().read_text()
    assert down_seconds < 20
    assert lab.ssh("primary-db-01", "true").returncode == 0


@pytest.mark.parametrize("kill_after_seconds", [0.8, 2.0])
def test_down_after_a_killed_up_removes_what_was_made(lab: Lab, kill_after_seconds: float) -> None:
    spec = make_mini_spec()
    before = take_snapshot()
    code = (
        "from tests.lab.test_lifecycle import make_mini_spec\n"
        "from egov.lab import lab_up\n"
        "lab_up(make_mini_spec())\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[2])
    time.sleep(kill_after_seconds)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    lab.api.lab_down(spec, purge=True)
    assert take_snapshot() == before
    assert lab.ssh("primary-db-01", "true").returncode == 0


def test_exec_reaches_a_host_whose_link_is_cut(lab: Lab) -> None:
    lab.api.cut_link(lab.spec, "vnpt")
    try:
        assert lab.exec("vnpt-s3-01", "hostname").stdout.strip() == "vnpt-s3-01"
    finally:
        lab.api.restore_link(lab.spec, "vnpt")


def test_exec_on_a_stopped_host_says_so(lab: Lab) -> None:
    from egov.errors import LabError

    lab.api.power_off_host(lab.spec, "primary-motcua-01")
    try:
        with pytest.raises(LabError, match="not running"):
            lab.exec("primary-motcua-01", "true")
    finally:
        lab.api.power_on_host(lab.spec, "primary-motcua-01")


def test_host_leader_is_the_containers_systemd(lab: Lab) -> None:
    state = load_state(lab.spec.name)
    assert state is not None
    leader = hosts.get_leader(state, "primary-db-01")
    assert leader is not None
    assert Path(f"/proc/{leader}/comm").read_text().strip() == "systemd"
    assert lifecycle.get_powered_off(state) == set()
