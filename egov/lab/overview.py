"""What the lab looks like right now: hosts, links, faults, image. Read-only.

``lab_status`` never changes anything; it reads processes, links, the nftables table and the
state file, and (unless told not to) logs in to every running host over SSH with strict host keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from egov.lab import firewall, hosts, network, ssh
from egov.lab.image import get_image_status
from egov.lab.spec import LabSpec
from egov.lab.state import Fault, LabState, load_state


@dataclass(frozen=True)
class HostStatus:
    """One host: ``running`` (its container is up) and ``ssh_ok`` (None when not checked)."""

    machine: str
    site: str
    name: str
    address: str
    roles: tuple[str, ...]
    running: bool
    ssh_ok: bool | None


@dataclass(frozen=True)
class SiteStatus:
    """One site: ``link`` is ``up``, ``cut`` or ``absent`` (no bridge); shaping in kbit/s."""

    name: str
    network: str
    bridge: str
    link: str
    shaping_kbit: int | None


@dataclass(frozen=True)
class LabStatus:
    """The whole lab. ``image_state`` is ``ready`` or ``missing``."""

    estate: str
    image_key: str
    image_state: str
    hosts: tuple[HostStatus, ...]
    sites: tuple[SiteStatus, ...]
    faults: tuple[Fault, ...]
    counters: dict[str, int]

    @property
    def running(self) -> tuple[str, ...]:
        """Machines whose container runs."""
        return tuple(h.machine for h in self.hosts if h.running)

    @property
    def is_up(self) -> bool:
        """Whether every host runs and answers SSH (faults aside)."""
        return all(h.running and h.ssh_ok is not False for h in self.hosts)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data for ``--output json``."""
        return asdict(self)


def lab_status(spec: LabSpec, *, check_ssh: bool = True) -> LabStatus:
    """Return the state of ``spec``'s lab (all hosts stopped when it is not up)."""
    state = load_state(spec.name) or LabState(spec=spec)
    image = get_image_status()
    cut = {f.target for f in state.find_faults("cut-link")}
    running = {h.machine for h in spec.hosts if hosts.is_running(state, h.machine)}
    logged_in = ssh.run_login_check(spec, sorted(running)) if check_ssh else {}
    host_statuses = tuple(
        HostStatus(
            machine=h.machine,
            site=h.site,
            name=h.name,
            address=str(h.address),
            roles=h.roles,
            running=h.machine in running,
            ssh_ok=logged_in.get(h.machine) if check_ssh else None,
        )
        for h in spec.hosts
    )
    site_statuses = []
    for site in spec.sites:
        bridge = network.make_bridge_name(spec.name, site.name)
        exists = network.link_exists(bridge)
        link = "absent" if not exists else "cut" if site.name in cut else "up"
        site_statuses.append(
            SiteStatus(
                name=site.name,
                network=str(site.network),
                bridge=bridge,
                link=link,
                shaping_kbit=network.get_shaping_kbit(bridge) if exists else None,
            )
        )
    return LabStatus(
        estate=spec.name,
        image_key=state.image_key or image.key,
        image_state=image.state,
        hosts=host_statuses,
        sites=tuple(site_statuses),
        faults=tuple(state.faults),
        counters=firewall.get_counters(firewall.make_table_name(spec.name)),
    )
