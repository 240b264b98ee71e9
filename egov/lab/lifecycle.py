"""Bringing a lab up and down, and running commands in its hosts.

``lab_up`` is idempotent: it records each resource before making it, completes whatever is
missing and leaves what runs alone, so it also repairs a half-built lab. Order matters for the
"closed" promise: the nftables table is loaded before forwarding is switched on and before any
container starts. ``lab_down`` undoes exactly what the state file and the lab's own cgroups and
mount points say the lab made, even after a killed ``up``.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Sequence

from egov.errors import LabError, LabInputError
from egov.lab import container, corruption, disk, firewall, hosts, network, ssh
from egov.lab.image import ImageStatus, image_build, image_prune
from egov.lab.overview import LabStatus, lab_status
from egov.lab.paths import (
    CGROUP_ROOTS,
    DEFAULT_STATE_DIR,
    get_cgroup_dirs,
    get_estate_dir,
    get_host_dir,
    get_state_dir,
)
from egov.lab.prerequisites import check_host_prerequisites
from egov.lab.progress import NoProgress, Progress
from egov.lab.spec import LabSpec, check_lab_spec
from egov.lab.state import (
    LabState,
    estate_lock,
    get_state_path,
    list_estates,
    load_state,
    save_state,
)

BOOT_TIMEOUT_SECONDS = 120.0
HALT_TIMEOUT_SECONDS = 12.0
KILL_TIMEOUT_SECONDS = 10.0
POWER_OFF_KINDS = ("power-off-host", "power-off-site")


def make_site_links(spec: LabSpec) -> list[firewall.SiteLink]:
    """Return the firewall's view of ``spec``'s sites."""
    return [
        firewall.SiteLink(network.make_bridge_name(spec.name, s.name), s.network, s.gateway)
        for s in spec.sites
    ]


def get_powered_off(state: LabState) -> set[str]:
    """Return the machines a power-off fault keeps off."""
    off = {f.target for f in state.find_faults("power-off-host")}
    for fault in state.find_faults("power-off-site"):
        off |= {h.machine for h in state.spec.get_site(fault.target).hosts}
    return off


def lab_up(spec: LabSpec, progress: Progress | None = None) -> LabStatus:
    """Build and start ``spec``'s lab (or complete it); return its status.

    Raise LabInputError (nothing created) when the machine lacks prerequisites, the spec is
    invalid or overlaps this machine's networks, or another topology of the estate is up; raise
    LabError when hosts do not answer SSH within ``BOOT_TIMEOUT_SECONDS`` (the lab stays up for
    inspection; ``lab_down`` removes it).
    """
    progress = progress or NoProgress()
    check_host_prerequisites()
    own_bridges = [link.bridge for link in make_site_links(spec)]
    check_lab_spec(spec, network.get_host_networks(exclude=own_bridges))
    with estate_lock(spec.name):
        state = load_state(spec.name)
        if state is not None and state.spec != spec:
            raise LabInputError(
                f"estate {spec.name!r} is up with another topology",
                hint="run `egov lab down` first",
            )
        image = image_build(progress=progress)
        state = state or LabState(spec=spec, image_key=image.key)
        if state.image_key != image.key:
            raise LabInputError(
                f"estate {spec.name!r} runs on image {state.image_key}, not {image.key}",
                hint="run `egov lab down` first",
            )
        for host in spec.hosts:
            disk.check_disk_image_key(get_host_dir(spec.name, host.machine), image.key)
        save_state(state)
        _run_up_network(state, progress)
        _run_up_hosts(state, image, progress)
    return lab_status(spec)


def _run_up_network(state: LabState, progress: Progress) -> None:
    """Bridges, then the nftables table, then forwarding (never open without the table)."""
    spec = state.spec
    progress.step(f"network: {len(spec.sites)} site bridges and the lab firewall")
    for site, link in zip(spec.sites, make_site_links(spec), strict=True):
        if link.bridge not in state.bridges:
            state.bridges.append(link.bridge)
            save_state(state)
        network.run_create_bridge(site, link.bridge)
    table = firewall.make_table_name(spec.name)
    if state.nft_table is None:
        state.nft_table = table
        save_state(state)
    if not firewall.table_exists(table):
        firewall.run_apply(firewall.build_ruleset(table, make_site_links(spec)))
        cut = [network.make_bridge_name(spec.name, f.target) for f in state.find_faults("cut-link")]
        firewall.run_apply(firewall.build_cut_links_script(table, cut))
    for fault in state.find_faults("shape-link"):
        bridge = network.make_bridge_name(spec.name, fault.target)
        if network.get_shaping_kbit(bridge) is None:
            network.run_shape_link(
                bridge,
                network.make_ifb_name(spec.name, fault.target),
                int(fault.parameters["rate_kbit"]),
            )
    if state.ip_forward_before is None:
        state.ip_forward_before = network.get_ip_forward()
        save_state(state)
    network.set_ip_forward("1")


def _run_up_hosts(state: LabState, image: ImageStatus, progress: Progress) -> None:
    """Prepare every host, start those not running (nor powered off), wait for their SSH."""
    spec = state.spec
    ssh.run_ensure_key()
    progress.step(f"preparing {len(spec.hosts)} hosts")
    keys = {}
    for done, host in enumerate(spec.hosts, start=1):
        keys[host.machine] = hosts.run_prepare(spec, host, image)
        progress.advance(done, len(spec.hosts))
    ssh.run_write_known_hosts(spec, keys)
    off = get_powered_off(state)
    to_start = [
        h for h in spec.hosts if h.machine not in off and not hosts.is_running(state, h.machine)
    ]
    progress.step(f"starting {len(to_start)} hosts")
    for host in to_start:
        hosts.run_start(state, host, image)
        save_state(state)
    cut = {f.target for f in state.find_faults("cut-link")}
    # Hosts behind a cut link cannot be reached from here: they boot, but are not waited for.
    wanted = [h for h in spec.hosts if h.machine not in off and h.site not in cut]
    progress.step(f"waiting for SSH on {len(wanted)} hosts")
    silent = ssh.wait_for_banners([str(h.address) for h in wanted], BOOT_TIMEOUT_SECONDS)
    if silent:
        raise LabError(
            f"hosts did not answer SSH within {BOOT_TIMEOUT_SECONDS:.0f} s: {', '.join(silent)}",
            hint="see console.log in each host's state directory; `egov lab down` cleans up",
        )


def lab_down(
    spec: LabSpec | None = None,
    *,
    purge: bool = False,
    purge_image: bool = False,
    progress: Progress | None = None,
) -> list[str]:
    """Stop ``spec``'s lab (every recorded estate when None) and remove what it created.

    Containers are halted cleanly (killed after ``HALT_TIMEOUT_SECONDS``), then mounts, cgroups,
    shaping, bridges and the nftables table go and ``ip_forward`` gets its old value back once
    no estate is left. Host disks stay for the next ``up`` unless ``purge``; ``purge_image`` also
    empties the image cache. Return the estates taken down.
    """
    progress = progress or NoProgress()
    check_host_prerequisites()
    estates = [spec.name] if spec is not None else list_estates()
    if spec is None and purge and get_state_dir().joinpath("estates").is_dir():
        estates = sorted(
            {*estates, *(p.name for p in get_state_dir().joinpath("estates").iterdir())}
        )
    for estate in estates:
        with estate_lock(estate):
            _run_down_estate(estate, spec, purge, progress)
    if purge and not list_estates():
        remaining = get_state_dir() / "estates"
        if not remaining.is_dir() or not any(remaining.iterdir()):
            disk.run_remove_host_dir(get_state_dir())
            parent = get_state_dir().parent
            # /var/lib/egov was made for the lab: leave no empty directory behind.
            if (
                get_state_dir() == DEFAULT_STATE_DIR
                and parent.is_dir()
                and not any(parent.iterdir())
            ):
                parent.rmdir()
    if purge_image:
        progress.step("removing the image cache")
        image_prune(get_image_in_use(), keep_current=False)
    for root in CGROUP_ROOTS:
        if root.is_dir() and not any(p.is_dir() for p in root.iterdir()):
            root.rmdir()
    return estates


def _run_down_estate(estate: str, spec: LabSpec | None, purge: bool, progress: Progress) -> None:
    state = load_state(estate)
    if state is None and spec is not None:
        state = LabState(spec=spec)
    estate_dir = get_estate_dir(estate)
    if state is not None:
        progress.step(f"{estate}: stopping {len(state.processes)} hosts")
        records = [r for r in state.processes.values() if container.is_alive(r)]
        for record in records:
            container.run_halt(record)
        for record in container.wait_stopped(records, HALT_TIMEOUT_SECONDS):
            container.run_power_off(record)
        container.wait_stopped(records, KILL_TIMEOUT_SECONDS)
    container.run_kill_cgroups(get_cgroup_dirs(estate), KILL_TIMEOUT_SECONDS)
    if state is not None and not purge:
        # the record of a corrupted file's bytes goes with the state: repair it now
        for fault in state.find_faults("corrupt-file"):
            with contextlib.suppress(LabInputError, OSError):
                corruption.run_repair(state.spec, fault)
    progress.step(f"{estate}: unmounting host disks")
    disk.run_unmount_under(estate_dir)
    if state is not None:
        progress.step(f"{estate}: removing bridges and firewall")
        spec_links = [link.bridge for link in make_site_links(state.spec)]
        for site in state.spec.sites:
            network.run_unshape_link(
                network.make_bridge_name(estate, site.name),
                network.make_ifb_name(estate, site.name),
            )
        for bridge in dict.fromkeys([*state.bridges, *spec_links]):
            network.run_delete_link(bridge)
        for ifb in state.ifbs:
            network.run_delete_link(ifb)
        firewall.run_delete_table(state.nft_table or firewall.make_table_name(estate))
        others = [e for e in list_estates() if e != estate]
        if state.ip_forward_before is not None and not others:
            network.set_ip_forward(state.ip_forward_before)
        if purge:
            ssh.run_forget_known_hosts(state.spec)
    get_state_path(estate).unlink(missing_ok=True)
    if purge:
        disk.run_remove_host_dir(estate_dir)


def lab_exec(
    spec: LabSpec,
    machine: str,
    argv: Sequence[str],
    *,
    input_text: str | None = None,
    capture: bool = True,
    check: bool = False,
    timeout_seconds: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as root inside host ``machine`` (via nsenter, so it works with links cut).

    Return the completed process (``check`` raises CommandFailed on non-zero exit). Raise
    LabInputError for an unknown host, LabError when the host is not running.
    """
    from egov import execute

    spec.get_host(machine)
    state = load_state(spec.name)
    leader = hosts.get_leader(state, machine) if state is not None else None
    if leader is None:
        raise LabError(f"lab host {machine} is not running", hint="`egov lab status` shows why")
    return execute.run_command(
        container.build_enter_argv(leader, list(argv)),
        input_text=input_text,
        capture=capture,
        check=check,
        timeout_seconds=timeout_seconds,
    )


def get_image_in_use() -> frozenset[str]:
    """Return the image keys of every recorded estate (not to be pruned)."""
    keys = set()
    for estate in list_estates():
        state = load_state(estate)
        if state is not None and state.image_key:
            keys.add(state.image_key)
    return frozenset(keys)
