"""Creating, starting and stopping one lab host: its disk, its files, its container.

Shared by ``lifecycle`` (up/down) and ``faults`` (power off/on). Files written here land in the
host's overlay root, hence on its own disk: they survive power cycles and are rewritten at each
``up`` so a changed spec (another host added to /etc/hosts, say) reaches every host, except
/etc/hosts once ``egov deploy`` has written its own (else every power cycle would undo it).
"""

from __future__ import annotations

from pathlib import Path

from egov.errors import LabError
from egov.lab import container, disk, network, ssh
from egov.lab.container import ContainerConfig
from egov.lab.image import ImageStatus
from egov.lab.paths import get_cgroup_dirs, get_host_dir
from egov.lab.spec import LabHost, LabSpec
from egov.lab.state import LabState

NETWORK_FILE_PATH = "etc/systemd/network/10-host0.network"
POWER_OFF_SECONDS = 15.0


def get_root(spec: LabSpec, host: LabHost) -> Path:
    """Return the host's root as seen from this machine (the overlay mount point)."""
    return get_host_dir(spec.name, host.machine) / "root"


def make_container_config(spec: LabSpec, host: LabHost, image: ImageStatus) -> ContainerConfig:
    """Return how ``host``'s container is started."""
    host_dir = get_host_dir(spec.name, host.machine)
    return ContainerConfig(
        machine=host.machine,
        root=host_dir / "root",
        bridge=network.make_bridge_name(spec.name, host.site),
        repository=image.repository,
        cgroups=get_cgroup_dirs(spec.name, host.machine),
        log=host_dir / "console.log",
    )


def run_prepare(spec: LabSpec, host: LabHost, image: ImageStatus) -> str:
    """Mount the host's root and write its identity and network files; return its host key.

    Raise LabInputError when the host's disk belongs to another image.
    """
    root = disk.run_prepare_root(
        get_host_dir(spec.name, host.machine), image.rootfs, image.key, host.disk_bytes
    )
    (root / "etc/hostname").write_text(host.machine + "\n")
    network_file = root / NETWORK_FILE_PATH
    network_file.parent.mkdir(parents=True, exist_ok=True)
    network_file.write_text(network.build_network_file(spec, host))
    hosts_file = root / "etc/hosts"
    if not _is_deployed(hosts_file):  # once `egov deploy` owns /etc/hosts, leave it alone
        hosts_file.unlink(missing_ok=True)
        hosts_file.write_text(network.build_hosts_file(spec))
    ssh.run_authorise_lab_key(root)
    return ssh.run_ensure_host_key(root, host.machine)


def _is_deployed(path: Path) -> bool:
    """Whether ``egov deploy`` wrote this file (its first line says so)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline().startswith("# Written by egov deploy")
    except OSError:
        return False


def is_running(state: LabState, machine: str) -> bool:
    """Return whether the host's recorded nspawn still runs."""
    record = state.processes.get(machine)
    return record is not None and container.is_alive(record)


def get_leader(state: LabState, machine: str) -> int | None:
    """Return the PID of the host's init, or None when it is not running."""
    record = state.processes.get(machine)
    if record is None:
        return None
    return container.get_leader(record, wait_seconds=container.LEADER_WAIT_SECONDS)


def run_start(state: LabState, host: LabHost, image: ImageStatus) -> None:
    """Start the host unless it runs; record its process (caller saves the state)."""
    if is_running(state, host.machine):
        return
    config = make_container_config(state.spec, host, image)
    if container.get_cgroup_pids(config.cgroups):
        # A previous container of this host is still dying (or was not recorded): finish it.
        container.run_kill_cgroups(config.cgroups, timeout_seconds=10)
    state.processes[host.machine] = container.run_start(config)
    # A booting host starts its enabled services: a "stopped service" fault ends with the boot.
    state.faults = [
        f
        for f in state.faults
        if not (f.kind == "stop-service" and f.parameters.get("machine") == host.machine)
    ]


def run_power_off(state: LabState, machines: list[str]) -> None:
    """Cut the power of ``machines`` at once and wait until their containers are gone.

    All are killed before any is waited for: nspawn takes about two seconds to exit after its
    container dies, which would add up host after host.
    """
    records = {m: state.processes[m] for m in machines if is_running(state, m)}
    for record in records.values():
        container.run_power_off(record)
    stuck = container.wait_stopped(list(records.values()), timeout_seconds=POWER_OFF_SECONDS)
    for machine, record in records.items():
        if record in stuck:
            # its init could not be found or did not take nspawn down with it (a loaded
            # machine): SIGKILL everything in the host's cgroups, nspawn included
            cgroups = get_cgroup_dirs(state.spec.name, machine)
            container.run_kill_cgroups(cgroups, timeout_seconds=POWER_OFF_SECONDS)
    stuck = container.wait_stopped(stuck, timeout_seconds=POWER_OFF_SECONDS)
    if stuck:
        names = [m for m, r in records.items() if r in stuck]
        raise LabError(f"hosts did not power off: {', '.join(names)}")
    for machine in records:
        cgroups = get_cgroup_dirs(state.spec.name, machine)
        container.run_kill_cgroups(cgroups, timeout_seconds=POWER_OFF_SECONDS)
        del state.processes[machine]
