"""One lab host: a systemd-nspawn container booting Debian with systemd, detached from us.

The machine's PID 1 is not systemd, hence ``--register=no --keep-unit``. Each nspawn is started
by a tiny shell that first moves itself into the host's own cgroups (``paths.CGROUP_ROOTS``,
``<root>/<estate>/<machine>`` in the unified and the named systemd hierarchies): with
``--keep-unit`` nspawn builds its ``supervisor``/``payload`` cgroups inside the caller's, so
hosts started from one cgroup would share a payload cgroup and each container's systemd would
see (and stop) the others' services. Those cgroups are also the lab's record of "processes we
started": ``down`` kills only what is in them.

Power off is abrupt, like a pulled plug: SIGKILL to the container's PID 1 ends its whole PID
namespace, then nspawn exits. ``down`` is graceful: SIGTERM to nspawn halts the container's
systemd cleanly (about two seconds), with SIGKILL after a timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from egov import execute
from egov.errors import LabError
from egov.lab.aptrepo import CONTAINER_REPOSITORY_PATH
from egov.lab.state import ProcessRecord

CONTAINER_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
LEADER_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ContainerConfig:
    """What one container is started with."""

    machine: str
    root: Path
    bridge: str
    repository: Path
    cgroups: tuple[Path, ...]
    log: Path


def build_nspawn_argv(config: ContainerConfig) -> tuple[str, ...]:
    """Return the systemd-nspawn argv that boots ``config.root`` as ``config.machine``.

    ``--resolv-conf=off``: nspawn would otherwise copy the host's resolver in (no DNS beyond the
    lab). ``--link-journal=no``: the container's journal stays in the container.
    """
    return (
        "systemd-nspawn",
        "--quiet",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--machine={config.machine}",
        f"--directory={config.root}",
        f"--network-bridge={config.bridge}",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--console=passive",
        f"--bind-ro={config.repository}:{CONTAINER_REPOSITORY_PATH}",
    )


def build_launcher_argv(config: ContainerConfig) -> tuple[str, ...]:
    """Return the argv that joins the host's cgroups, then execs nspawn (same PID)."""
    script = (
        'for p; do [ "$p" = -- ] && break; echo $$ > "$p" || exit 1; shift; done; shift; exec "$@"'
    )
    procs = [str(cgroup / "cgroup.procs") for cgroup in config.cgroups]
    return ("/bin/sh", "-c", script, "egov-lab-launch", *procs, "--", *build_nspawn_argv(config))


def build_enter_argv(leader: int, argv: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Return the nsenter argv that runs ``argv`` inside the container whose PID 1 is ``leader``.

    Every namespace, its root and working directory, and a clean environment: it works with the
    network cut, since it never touches the network.
    """
    return (
        "nsenter",
        f"--target={leader}",
        "--mount",
        "--uts",
        "--ipc",
        "--net",
        "--pid",
        "--cgroup",
        "--root",
        "--wd",
        "--",
        "/usr/bin/env",
        "-i",
        f"PATH={CONTAINER_PATH}",
        "HOME=/root",
        "LANG=C.UTF-8",
        "TERM=xterm",
        *argv,
    )


def parse_start_ticks(stat_text: str) -> int:
    """Return a process's start time (field 22 of ``/proc/PID/stat``), in clock ticks since boot."""
    after_name = stat_text.rsplit(")", 1)[1].split()
    return int(after_name[19])


def get_process_record(pid: int) -> ProcessRecord | None:
    """Return the record of live process ``pid``, or None when it is gone.

    A zombie is gone: it ended and waits only for its parent to reap it. That parent may be
    another process than the one asking (the test session that brought the lab up, while a
    drill it started powers a host off), so waiting for it to disappear would never end.
    """
    try:
        stat_text = Path(f"/proc/{pid}/stat").read_text()
        if stat_text.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return None
        return ProcessRecord(pid, parse_start_ticks(stat_text))
    except (OSError, IndexError, ValueError):
        return None


def is_alive(record: ProcessRecord) -> bool:
    """Return whether the recorded process still runs (same PID *and* same start time)."""
    current = get_process_record(record.pid)
    return current is not None and current.start_ticks == record.start_ticks


def run_start(config: ContainerConfig) -> ProcessRecord:
    """Start the container detached; return its nspawn process record."""
    for cgroup in config.cgroups:
        cgroup.mkdir(parents=True, exist_ok=True)
    pid = execute.spawn_detached(build_launcher_argv(config), config.log)
    record = get_process_record(pid)
    if record is None:
        raise LabError(f"{config.machine}: systemd-nspawn exited at once; see {config.log}")
    return record


def get_leader(record: ProcessRecord, wait_seconds: float = 0.0) -> int | None:
    """Return the PID of the container's init (nspawn's child in its own PID namespace).

    Wait up to ``wait_seconds`` for it to appear; return None when nspawn is not running.
    """
    deadline = time.monotonic() + wait_seconds
    own_namespace = Path("/proc/self/ns/pid").readlink()
    while True:
        if not is_alive(record):
            return None
        for child in _children(record.pid):
            try:
                if Path(f"/proc/{child}/ns/pid").readlink() != own_namespace:
                    return child
            except OSError:
                continue
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_SECONDS)


def _children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return []
    return children


def run_power_off(record: ProcessRecord) -> None:
    """Cut the container's power: SIGKILL its init, which ends every process inside it."""
    leader = get_leader(record, wait_seconds=LEADER_WAIT_SECONDS)
    if leader is not None:
        _signal(leader, signal.SIGKILL)


def run_halt(record: ProcessRecord) -> None:
    """Ask the container to shut down cleanly (nspawn turns SIGTERM into a halt of its init)."""
    if is_alive(record):
        _signal(record.pid, signal.SIGTERM)


def wait_stopped(records: list[ProcessRecord], timeout_seconds: float) -> list[ProcessRecord]:
    """Wait until the recorded processes exit; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout_seconds
    remaining = [r for r in records if is_alive(r)]
    while remaining and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        execute.reap_detached()
        remaining = [r for r in remaining if is_alive(r)]
    execute.reap_detached()
    return remaining


def get_cgroup_pids(cgroups: tuple[Path, ...]) -> list[int]:
    """Return every PID in ``cgroups`` and their descendants (the processes the lab started)."""
    pids: set[int] = set()
    for cgroup in cgroups:
        if not cgroup.is_dir():
            continue
        for procs in cgroup.rglob("cgroup.procs"):
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except OSError:
                continue
    return sorted(pids)


def run_kill_cgroups(cgroups: tuple[Path, ...], timeout_seconds: float) -> None:
    """SIGKILL every process left in ``cgroups`` and remove the cgroup trees once empty.

    Raise LabError if processes remain after ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        pids = get_cgroup_pids(cgroups)
        if not pids:
            break
        if time.monotonic() >= deadline:
            raise LabError(f"processes {pids} in {', '.join(map(str, cgroups))} did not stop")
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        time.sleep(POLL_SECONDS)
        execute.reap_detached()
    for cgroup in cgroups:
        if cgroup.is_dir():
            for directory in sorted((p for p in cgroup.rglob("*") if p.is_dir()), reverse=True):
                directory.rmdir()
            cgroup.rmdir()


def _signal(pid: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)
