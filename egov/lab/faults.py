"""Faults the drills and reliability tests inject, each reversible and recorded in the state.

Every fault names its target (a machine such as ``primary-db-01`` or a site such as ``site2``);
an unknown target raises LabInputError before anything changes. What is in force shows in
``lab_status`` and is undone by ``lab_down``; ``lab_up`` keeps it (a powered-off host stays off,
a cut link stays cut).

- power off/on a host or a site: abrupt, like a pulled plug; the host's disk survives.
- cut/restore a site's link: see ``firewall`` (the site is isolated from the other sites and
  from this machine; ``lab_exec`` still works).
- shape a site's link: tbf both ways (``network.build_shaping_argvs``).
- stop/start a service: ``systemctl`` inside the host.
- fill/unfill a filesystem: only the host's own bounded disk (see ``disk``), never this machine's.
- corrupt/repair a file: flip bytes in place inside a host's disk (a repository's pack file,
  as a failing disk or a tampering hand would); the original bytes are kept in the fault's
  record and written back by ``repair_file`` (and by ``lab_down``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from egov.errors import LabError, LabInputError
from egov.lab import corruption, disk, firewall, hosts, network, ssh
from egov.lab.image import get_image_status
from egov.lab.lifecycle import lab_exec
from egov.lab.paths import get_host_dir
from egov.lab.spec import LabHost, LabSpec
from egov.lab.state import Fault, LabState, estate_lock, load_state, save_state

FAULT_KINDS: tuple[str, ...] = (
    "power-off-host",
    "power-off-site",
    "cut-link",
    "shape-link",
    "stop-service",
    "fill-filesystem",
    "corrupt-file",
)
POWER_ON_TIMEOUT_SECONDS = 60.0
SYSTEMCTL_UNIT_NOT_FOUND = 5


@contextmanager
def _lab_state(spec: LabSpec) -> Iterator[LabState]:
    """Hold the estate lock and yield its state, saved on the way out; LabError when not up."""
    with estate_lock(spec.name):
        state = load_state(spec.name)
        if state is None:
            raise LabError(f"the lab of {spec.name!r} is not up", hint="run `egov lab up` first")
        try:
            yield state
        finally:
            save_state(state)


def _record(state: LabState, fault: Fault) -> None:
    state.remove_faults(fault.kind, fault.target)
    state.faults.append(fault)


def power_off_host(spec: LabSpec, machine: str) -> None:
    """Cut the power of host ``machine`` (its disk keeps what was written)."""
    spec.get_host(machine)
    with _lab_state(spec) as state:
        _record(state, Fault("power-off-host", machine))
        hosts.run_power_off(state, [machine])


def power_on_host(spec: LabSpec, machine: str, *, wait: bool = True) -> None:
    """Power host ``machine`` on again; with ``wait``, return once it answers SSH.

    Raise LabInputError when its whole site is powered off (power the site on instead).
    """
    host = spec.get_host(machine)
    with _lab_state(spec) as state:
        if state.find_faults("power-off-site", host.site):
            raise LabInputError(
                f"site {host.site} is powered off", hint=f"power on site {host.site} instead"
            )
        state.remove_faults("power-off-host", machine)
        _run_power_on(state, [host], wait)


def is_powered_on(spec: LabSpec, machine: str) -> bool:
    """Whether host ``machine`` runs (a host not recorded, or whose nspawn died, is off)."""
    spec.get_host(machine)
    with _lab_state(spec) as state:
        return hosts.is_running(state, machine)


def mask_units_while_off(spec: LabSpec, machine: str, units: Sequence[str]) -> None:
    """Mask ``units`` on the disk of the powered-off host ``machine``, so that it boots
    without them: what production's "bring it back with PostgreSQL stopped" is for a lab host.

    Raise LabInputError when the host runs (mask there with systemctl). A mask in
    ``/etc/systemd/system`` wins over every link that would start the unit, generators' too.
    """
    spec.get_host(machine)
    with _lab_state(spec) as state:
        if hosts.is_running(state, machine):
            raise LabInputError(f"{machine} is running", hint="mask its units with systemctl")
        directory = get_host_dir(spec.name, machine) / "root" / "etc" / "systemd" / "system"
        directory.mkdir(parents=True, exist_ok=True)
        for unit in units:
            link = directory / unit
            link.unlink(missing_ok=True)
            link.symlink_to("/dev/null")


def power_off_site(spec: LabSpec, site: str) -> None:
    """Cut the power of every host of ``site``."""
    machines = [h.machine for h in spec.get_site(site).hosts]
    with _lab_state(spec) as state:
        _record(state, Fault("power-off-site", site))
        hosts.run_power_off(state, machines)


def power_on_site(spec: LabSpec, site: str, *, wait: bool = True) -> None:
    """Power every host of ``site`` on (hosts powered off on their own stay off)."""
    site_hosts = spec.get_site(site).hosts
    with _lab_state(spec) as state:
        state.remove_faults("power-off-site", site)
        off = {f.target for f in state.find_faults("power-off-host")}
        _run_power_on(state, [h for h in site_hosts if h.machine not in off], wait)


def _run_power_on(state: LabState, targets: list[LabHost], wait: bool) -> None:
    image = get_image_status()
    for host in targets:
        hosts.run_start(state, host, image)
    cut = {f.target for f in state.find_faults("cut-link")}
    reachable = [str(h.address) for h in targets if h.site not in cut]
    if wait:
        silent = ssh.wait_for_banners(reachable, POWER_ON_TIMEOUT_SECONDS)
        if silent:
            raise LabError(f"hosts did not answer SSH after power on: {', '.join(silent)}")


def cut_link(spec: LabSpec, site: str) -> None:
    """Cut ``site``'s link: nothing passes between it and the other sites or this machine."""
    spec.get_site(site)
    with _lab_state(spec) as state:
        _record(state, Fault("cut-link", site))
        _run_apply_cuts(state)


def restore_link(spec: LabSpec, site: str) -> None:
    """Restore ``site``'s link."""
    spec.get_site(site)
    with _lab_state(spec) as state:
        state.remove_faults("cut-link", site)
        _run_apply_cuts(state)


def _run_apply_cuts(state: LabState) -> None:
    estate = state.spec.name
    cut = [network.make_bridge_name(estate, f.target) for f in state.find_faults("cut-link")]
    firewall.run_apply(firewall.build_cut_links_script(firewall.make_table_name(estate), cut))


def shape_link(spec: LabSpec, site: str, rate_kbit: int) -> None:
    """Limit ``site``'s link to ``rate_kbit`` kbit/s in each direction (replacing a limit)."""
    spec.get_site(site)
    if rate_kbit <= 0:
        raise LabInputError(f"link rate must be a positive number of kbit/s, not {rate_kbit}")
    with _lab_state(spec) as state:
        ifb = network.make_ifb_name(spec.name, site)
        if ifb not in state.ifbs:
            state.ifbs.append(ifb)
            save_state(state)
        _record(state, Fault("shape-link", site, {"rate_kbit": str(rate_kbit)}))
        network.run_shape_link(network.make_bridge_name(spec.name, site), ifb, rate_kbit)


def unshape_link(spec: LabSpec, site: str) -> None:
    """Remove the limit on ``site``'s link."""
    spec.get_site(site)
    with _lab_state(spec) as state:
        state.remove_faults("shape-link", site)
        ifb = network.make_ifb_name(spec.name, site)
        network.run_unshape_link(network.make_bridge_name(spec.name, site), ifb)
        if ifb in state.ifbs:
            state.ifbs.remove(ifb)


def stop_service(spec: LabSpec, machine: str, unit: str) -> None:
    """Stop systemd ``unit`` on host ``machine``; LabInputError when the unit does not exist."""
    spec.get_host(machine)
    with _lab_state(spec) as state:
        _run_systemctl(spec, machine, "stop", unit)
        _record(
            state, Fault("stop-service", f"{machine}:{unit}", {"machine": machine, "unit": unit})
        )


def start_service(spec: LabSpec, machine: str, unit: str) -> None:
    """Start systemd ``unit`` on host ``machine`` again."""
    spec.get_host(machine)
    with _lab_state(spec) as state:
        _run_systemctl(spec, machine, "start", unit)
        state.remove_faults("stop-service", f"{machine}:{unit}")


def _run_systemctl(spec: LabSpec, machine: str, verb: str, unit: str) -> None:
    result = lab_exec(spec, machine, ["systemctl", verb, unit])
    if result.returncode == SYSTEMCTL_UNIT_NOT_FOUND:
        raise LabInputError(f"{machine} has no unit {unit!r}: {result.stderr.strip()}")
    if result.returncode != 0:
        raise LabError(f"systemctl {verb} {unit} on {machine} failed: {result.stderr.strip()}")


def fill_filesystem(spec: LabSpec, machine: str, path: str = "/") -> None:
    """Fill the disk holding ``path`` on host ``machine`` until no byte is free."""
    host = spec.get_host(machine)
    with _lab_state(spec) as state:
        target = f"{machine}:{path}"
        _record(state, Fault("fill-filesystem", target, {"machine": machine, "path": path}))
        save_state(state)
        disk.run_fill(hosts.get_root(spec, host), path)


def unfill_filesystem(spec: LabSpec, machine: str, path: str = "/") -> None:
    """Free what ``fill_filesystem`` took on ``path`` of host ``machine``."""
    host = spec.get_host(machine)
    with _lab_state(spec) as state:
        disk.run_unfill(hosts.get_root(spec, host), path)
        state.remove_faults("fill-filesystem", f"{machine}:{path}")


def corrupt_file(
    spec: LabSpec,
    machine: str,
    path: str,
    offset: int | None = None,
    length: int = corruption.CORRUPT_BYTES,
) -> int:
    """Flip ``length`` bytes of file ``path`` on host ``machine`` at ``offset`` (default:
    the middle) and return the offset. LabInputError when it is already corrupted."""
    file = corruption.get_host_file(spec, machine, path)
    target = f"{machine}:{path}"
    with _lab_state(spec) as state:
        if state.find_faults("corrupt-file", target):
            raise LabInputError(f"{target} is already corrupted", hint="repair it first")
        chosen = corruption.make_corruption_offset(file.stat().st_size, length, offset)
        with file.open("r+b") as handle:
            handle.seek(chosen)
            original = handle.read(length)
            parameters = {"machine": machine, "path": path, "offset": str(chosen)}
            _record(state, Fault("corrupt-file", target, parameters | {"original": original.hex()}))
            save_state(state)  # the original bytes are on record before any is changed
            handle.seek(chosen)
            handle.write(corruption.flip_bytes(original))
    return chosen


def repair_file(spec: LabSpec, machine: str, path: str) -> None:
    """Write back the bytes ``corrupt_file`` flipped in ``path`` on host ``machine``."""
    with _lab_state(spec) as state:
        for fault in state.find_faults("corrupt-file", f"{machine}:{path}"):
            corruption.run_repair(spec, fault)
        state.remove_faults("corrupt-file", f"{machine}:{path}")
