"""The lab's wires: one Linux bridge per site on the host, static addressing in the containers.

Pure builders (names, file texts, argv) come first; the few functions that change the host
follow. Bridge names carry a lab-owned prefix and a hash of estate and site so two estates never
share a bridge and ``down`` can recognise its own.

Long machine names: nspawn names the host side of a container's veth ``vb-<machine>``, and since
systemd 250 shortens a name too long for IFNAMSIZ with a hash (``vb-primary-db-01`` becomes
``vb-primary-5DfV``), so ``primary-db-01`` and ``primary-db-02`` do not collide. The lab never
needs those names: it only addresses bridges.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from ipaddress import IPv4Network, ip_network
from pathlib import Path

from egov import execute
from egov.lab.spec import LabHost, LabSite, LabSpec

BRIDGE_PREFIX = "egv-"
IFB_PREFIX = "egi-"
MAX_INTERFACE_NAME_LENGTH = 15
IP_FORWARD_PATH = Path("/proc/sys/net/ipv4/ip_forward")
#: tbf needs a bucket of at least one MTU-sized burst per timer tick; 20 ms worth of the rate,
#: but never below this, keeps throughput close to the rate at low rates.
MIN_BURST_BYTES = 16_000
SHAPING_LATENCY_MS = 100


def _make_link_name(prefix: str, estate: str, site: str) -> str:
    digest = hashlib.sha256(f"{estate}/{site}".encode()).hexdigest()[:4]
    room = MAX_INTERFACE_NAME_LENGTH - len(prefix) - len(digest) - 1
    return f"{prefix}{site[:room].rstrip('-')}-{digest}"


def make_bridge_name(estate: str, site: str) -> str:
    """Return the site's bridge name, at most 15 characters: ``egv-primar-1a2b``."""
    return _make_link_name(BRIDGE_PREFIX, estate, site)


def make_ifb_name(estate: str, site: str) -> str:
    """Return the ifb device shaping traffic that leaves the site: ``egi-primar-1a2b``."""
    return _make_link_name(IFB_PREFIX, estate, site)


def build_network_file(spec: LabSpec, host: LabHost) -> str:
    """Return ``/etc/systemd/network/10-host0.network`` for ``host``.

    A static address, a route to every other site through the site's ``.1``, and nothing else:
    no default route, no DNS, no IPv6 autoconfiguration. The ``10-`` prefix makes it win over
    Debian's ``80-container-host0.network`` (DHCP).
    """
    site = spec.get_site(host.site)
    lines = [
        "# egov lab: static address, routes to the other lab sites only (no default route).",
        "[Match]",
        "Name=host0",
        "",
        "[Network]",
        f"Address={host.address}/{site.network.prefixlen}",
        "LinkLocalAddressing=no",
        "IPv6AcceptRA=no",
    ]
    for other in spec.sites:
        if other.name != site.name:
            lines += ["", "[Route]", f"Destination={other.network}", f"Gateway={site.gateway}"]
    return "\n".join(lines) + "\n"


def build_hosts_file(spec: LabSpec) -> str:
    """Return ``/etc/hosts`` naming every lab host: ``10.213.1.20 primary-db-01 db-01.primary``."""
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    lines += [f"{host.address}\t{host.machine} {host.name}.{host.site}" for host in spec.hosts]
    return "\n".join(lines) + "\n"


def build_shaping_argvs(bridge: str, ifb: str, rate_kbit: int) -> tuple[tuple[str, ...], ...]:
    """Return the argvs that limit a site's link to ``rate_kbit`` in both directions.

    Into the site: tbf as the bridge's root qdisc (routed traffic leaves the host through it;
    traffic between hosts of the same site is bridged between ports and never queued there).
    Out of the site: what the bridge device receives is redirected to a lab-owned ifb device with
    the same tbf (``tc`` has no ingress shaping of its own; netem is absent from this kernel).
    """
    burst = max(MIN_BURST_BYTES, rate_kbit * 1000 // 8 // 50)
    latency = f"{SHAPING_LATENCY_MS}ms"
    tbf = ("tbf", "rate", f"{rate_kbit}kbit", "burst", str(burst), "latency", latency)
    return (
        ("tc", "qdisc", "replace", "dev", bridge, "root", *tbf),
        ("ip", "link", "add", ifb, "type", "ifb"),
        ("ip", "link", "set", ifb, "up"),
        ("tc", "qdisc", "replace", "dev", ifb, "root", *tbf),
        ("tc", "qdisc", "replace", "dev", bridge, "handle", "ffff:", "ingress"),
        (
            "tc", "filter", "add", "dev", bridge, "parent", "ffff:", "protocol", "all",
            "u32", "match", "u32", "0", "0",
            "action", "mirred", "egress", "redirect", "dev", ifb,
        ),
    )  # fmt: skip


def parse_host_networks(
    addresses_json: str, routes_json: str, exclude: Iterable[str]
) -> list[IPv4Network]:
    """Return the networks in ``ip -j -4 addr`` and ``ip -j -4 route`` output.

    Interfaces and routes of the ``exclude``d links (the lab's own bridges) are left out.

    The default route is dropped: it "overlaps" everything and is not a network of this machine.
    """
    skip = set(exclude)
    networks: list[IPv4Network] = []
    for link in json.loads(addresses_json or "[]"):
        if link.get("ifname") in skip:
            continue
        for info in link.get("addr_info", []):
            network = ip_network(f"{info['local']}/{info['prefixlen']}", strict=False)
            if isinstance(network, IPv4Network):
                networks.append(network)
    for route in json.loads(routes_json or "[]"):
        if route.get("dev") in skip or route.get("dst") in (None, "default"):
            continue
        network = ip_network(route["dst"], strict=False)
        if isinstance(network, IPv4Network) and network.prefixlen > 0:
            networks.append(network)
    return sorted(set(networks))


def get_host_networks(exclude: Iterable[str] = ()) -> list[IPv4Network]:
    """Return this machine's own IPv4 networks (interfaces and routes), minus ``exclude``d links."""
    addresses = execute.run_command(("ip", "-j", "-4", "addr", "show")).stdout
    routes = execute.run_command(("ip", "-j", "-4", "route", "show")).stdout
    return parse_host_networks(addresses, routes, exclude)


def link_exists(name: str) -> bool:
    """Return whether network interface ``name`` exists on the host."""
    return Path("/sys/class/net", name).exists()


def run_create_bridge(site: LabSite, bridge: str) -> None:
    """Create ``bridge`` with the site's ``.1`` and bring it up; an existing one is completed."""
    if not link_exists(bridge):
        execute.run_command(("ip", "link", "add", bridge, "type", "bridge"))
    address = f"{site.gateway}/{site.network.prefixlen}"
    shown = execute.run_command(("ip", "-j", "-4", "addr", "show", "dev", bridge)).stdout
    if address not in {
        f"{info['local']}/{info['prefixlen']}"
        for link in json.loads(shown or "[]")
        for info in link.get("addr_info", [])
    }:
        execute.run_command(("ip", "addr", "add", address, "dev", bridge))
    execute.run_command(("ip", "link", "set", bridge, "up"))


def run_delete_link(name: str) -> None:
    """Delete interface ``name`` if it exists (a bridge or an ifb the lab created)."""
    if link_exists(name):
        execute.run_command(("ip", "link", "delete", name))


def run_shape_link(bridge: str, ifb: str, rate_kbit: int) -> None:
    """Limit the site's link to ``rate_kbit`` both ways (replacing an earlier limit)."""
    run_unshape_link(bridge, ifb)
    for argv in build_shaping_argvs(bridge, ifb, rate_kbit):
        execute.run_command(argv)


def run_unshape_link(bridge: str, ifb: str) -> None:
    """Remove the shaping of a site's link; a link without shaping is left as is."""
    if link_exists(bridge):
        execute.run_command(("tc", "qdisc", "del", "dev", bridge, "root"), check=False)
        execute.run_command(("tc", "qdisc", "del", "dev", bridge, "ingress"), check=False)
    run_delete_link(ifb)


def get_shaping_kbit(bridge: str) -> int | None:
    """Return the tbf rate on ``bridge`` in kbit/s, or None when it is not shaped."""
    if not link_exists(bridge):
        return None
    shown = execute.run_command(("tc", "-j", "qdisc", "show", "dev", bridge), check=False).stdout
    for qdisc in json.loads(shown or "[]"):
        if qdisc.get("kind") == "tbf":
            rate = qdisc.get("options", {}).get("rate")
            if isinstance(rate, int):
                return rate * 8 // 1000
    return None


def get_ip_forward() -> str:
    """Return the host's ``net.ipv4.ip_forward`` ("0" or "1")."""
    return IP_FORWARD_PATH.read_text().strip()


def set_ip_forward(value: str) -> None:
    """Set the host's ``net.ipv4.ip_forward``."""
    IP_FORWARD_PATH.write_text(value + "\n")
