"""The lab topology the end-to-end suite runs on: the 14 hosts of ``inventory/lab.yaml``.

``make_lab_spec`` is the one place the suite gets its spec; once the inventory adapter exists it
becomes ``return lab_spec_from_inventory(load_inventory("inventory/lab.yaml"))``.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from egov.lab.spec import LabHost, LabSite, LabSpec

#: site → (network, [(name, last octet, roles)])
LAB_TOPOLOGY: dict[str, tuple[str, list[tuple[str, int, tuple[str, ...]]]]] = {
    "primary": (
        "10.213.1.0/24",
        [
            ("lb-01", 10, ("lb",)),
            ("portal-01", 11, ("app",)),
            ("portal-02", 12, ("app",)),
            ("motcua-01", 13, ("app",)),
            ("motcua-02", 14, ("app",)),
            ("db-01", 20, ("db",)),
            ("db-02", 21, ("db-replica",)),
            ("store-01", 30, ("storage",)),
            ("mon-01", 40, ("monitoring",)),
        ],
    ),
    "vnpt": ("10.213.2.0/24", [("s3-01", 10, ("objectstore",))]),
    "site2": (
        "10.213.3.0/24",
        [
            ("app-01", 10, ("lb", "app")),
            ("db-01", 20, ("db-replica",)),
            ("store-01", 30, ("storage",)),
            ("mon-01", 40, ("monitoring",)),
        ],
    ),
}


def build_spec(
    name: str, topology: dict[str, tuple[str, list[tuple[str, int, tuple[str, ...]]]]]
) -> LabSpec:
    """Return a LabSpec from a compact topology table."""
    sites = []
    for site, (network, members) in topology.items():
        net = IPv4Network(network)
        hosts = tuple(
            LabHost(
                site=site,
                name=host,
                address=IPv4Address(int(net.network_address) + octet),
                roles=roles,
            )
            for host, octet, roles in members
        )
        sites.append(LabSite(name=site, network=net, hosts=hosts))
    return LabSpec(name=name, sites=tuple(sites))


def make_lab_spec() -> LabSpec:
    """Return the spec of the main lab (estate ``camau-lab``, 3 sites, 14 hosts)."""
    return build_spec("camau-lab", LAB_TOPOLOGY)
