"""The lab's only input: which sites and hosts to build, and the checks it must pass first.

The inventory is adapted into these frozen dataclasses so that the lab depends on nothing but
addresses and names. ``check_lab_spec`` runs before anything is created: a bad spec must leave the
machine untouched (exit code 2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, TypeVar

from egov.errors import LabInputError

#: A hostname label (RFC 1123), lower case: it is the container's machine name, its hostname and
#: part of file and cgroup paths, so nothing looser is accepted.
LABEL_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAX_LABEL_LENGTH = 63
#: A site network needs a host side (.1) and at least one host address.
MAX_SITE_PREFIX_LENGTH = 29
#: A host's own disk unless its inventory entry asks for another (``data: {lab_disk: 40 GiB}``).
DEFAULT_DISK_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class LabHost:
    """One server of a site; ``name`` is unique within its site only."""

    site: str
    name: str
    address: IPv4Address
    roles: tuple[str, ...] = ()
    #: the size of the host's own disk (a sparse image: only what is written takes space)
    disk_bytes: int = DEFAULT_DISK_BYTES

    @property
    def machine(self) -> str:
        """The container's machine name and hostname, unique in the estate: ``primary-db-01``."""
        return f"{self.site}-{self.name}"


@dataclass(frozen=True)
class LabSite:
    """A site: one bridge on the host, one network, its hosts. ``.1`` of the network is the host."""

    name: str
    network: IPv4Network
    hosts: tuple[LabHost, ...]

    @property
    def gateway(self) -> IPv4Address:
        """The host side of the site's bridge, the hosts' route to the other sites."""
        return self.network.network_address + 1


NamedT = TypeVar("NamedT")


def _get_named(
    estate: str, what: str, items: Sequence[NamedT], name_of: Callable[[NamedT], str], name: str
) -> NamedT:
    """The first of ``items`` called ``name``; raise LabInputError naming the known ones."""
    for item in items:
        if name_of(item) == name:
            return item
    known = ", ".join(name_of(item) for item in items)
    raise LabInputError(
        f"lab {what} {name!r} does not exist in estate {estate!r}", hint=f"known {what}s: {known}"
    )


@dataclass(frozen=True)
class LabSpec:
    """The estate to build: its name (used in state paths and nftables names) and sites."""

    name: str
    sites: tuple[LabSite, ...]

    @property
    def hosts(self) -> tuple[LabHost, ...]:
        """Every host of every site, in spec order."""
        return tuple(host for site in self.sites for host in site.hosts)

    def get_host(self, machine: str) -> LabHost:
        """Return the host named ``machine`` (``primary-db-01``); raise LabInputError if none."""
        return _get_named(self.name, "host", self.hosts, lambda host: host.machine, machine)

    def get_site(self, name: str) -> LabSite:
        """Return the site called ``name``; raise LabInputError if none."""
        return _get_named(self.name, "site", self.sites, lambda site: site.name, name)

    def get_site_of(self, machine: str) -> LabSite:
        """Return the site holding host ``machine``; raise LabInputError if none."""
        return self.get_site(self.get_host(machine).site)


def check_lab_spec(spec: LabSpec, host_networks: Iterable[IPv4Network]) -> None:
    """Raise LabInputError listing every problem of ``spec``; return None when it can be built.

    ``host_networks`` are the networks of the machine's own interfaces and routes (see
    ``network.get_host_networks``); a default route (prefix length 0) is ignored since every
    network "overlaps" it. Problems: names that are not hostname labels, machine names too long,
    duplicate machines, sites or addresses, addresses outside their site network or equal to its
    network, broadcast or ``.1`` address, site networks overlapping each other or the host's.
    """
    problems: list[str] = []
    _check_label(problems, "estate name", spec.name)
    if not spec.sites:
        problems.append(f"estate {spec.name!r} has no sites")
    seen_sites: set[str] = set()
    seen_machines: set[str] = set()
    seen_addresses: dict[IPv4Address, str] = {}
    external = [network for network in host_networks if network.prefixlen > 0]
    for index, site in enumerate(spec.sites):
        _check_label(problems, "site name", site.name)
        if site.name in seen_sites:
            problems.append(f"site {site.name!r} is declared twice")
        seen_sites.add(site.name)
        if site.network.prefixlen > MAX_SITE_PREFIX_LENGTH:
            problems.append(
                f"site {site.name!r}: network {site.network} is too small "
                f"(at most /{MAX_SITE_PREFIX_LENGTH})"
            )
        for other in spec.sites[index + 1 :]:
            if site.network.overlaps(other.network):
                problems.append(
                    f"site {site.name!r} network {site.network} overlaps "
                    f"site {other.name!r} network {other.network}"
                )
        for network in external:
            if site.network.overlaps(network):
                problems.append(
                    f"site {site.name!r} network {site.network} overlaps this machine's "
                    f"network {network}; choose another range for the lab"
                )
        for host in site.hosts:
            _check_host(problems, site, host, seen_machines, seen_addresses)
    if problems:
        raise LabInputError(
            "the lab specification is invalid:\n  " + "\n  ".join(problems),
            hint="fix the lab inventory; nothing was created",
        )


def _check_host(
    problems: list[str],
    site: LabSite,
    host: LabHost,
    seen_machines: set[str],
    seen_addresses: dict[IPv4Address, str],
) -> None:
    """Append the problems of one host to ``problems``."""
    where = f"host {host.site}/{host.name}"
    if host.site != site.name:
        problems.append(f"{where} is listed under site {site.name!r}")
    _check_label(problems, f"{where}: name", host.name)
    if LABEL_PATTERN.match(host.name) and LABEL_PATTERN.match(site.name):
        _check_label(problems, f"{where}: machine name", host.machine)
    if host.machine in seen_machines:
        problems.append(f"{where}: machine name {host.machine!r} is used twice")
    seen_machines.add(host.machine)
    if host.address in seen_addresses:
        problems.append(
            f"{where}: address {host.address} is also used by {seen_addresses[host.address]}"
        )
    seen_addresses[host.address] = host.machine
    if host.address not in site.network:
        problems.append(f"{where}: address {host.address} is outside site network {site.network}")
    elif host.address in (site.network.network_address, site.network.broadcast_address):
        problems.append(f"{where}: address {host.address} is not a usable host address")
    elif host.address == site.gateway:
        problems.append(
            f"{where}: address {host.address} is the site's host side (.1), reserved for the lab"
        )


def _check_label(problems: list[str], what: str, value: str) -> None:
    """Append a problem unless ``value`` is a lower-case hostname label of at most 63 chars."""
    if not LABEL_PATTERN.match(value):
        problems.append(
            f"{what} {value!r} is not a valid host/machine name "
            f"(lower-case letters, digits and '-', at most {MAX_LABEL_LENGTH} characters, "
            "not starting or ending with '-')"
        )


def spec_to_dict(spec: LabSpec) -> dict[str, Any]:
    """Return ``spec`` as JSON-ready data, so ``down`` can work from the state file alone."""
    return {
        "name": spec.name,
        "sites": [
            {
                "name": site.name,
                "network": str(site.network),
                "hosts": [
                    {
                        "name": host.name,
                        "address": str(host.address),
                        "roles": list(host.roles),
                        "disk_bytes": host.disk_bytes,
                    }
                    for host in site.hosts
                ],
            }
            for site in spec.sites
        ],
    }


def spec_from_dict(data: Mapping[str, Any]) -> LabSpec:
    """Inverse of ``spec_to_dict``."""
    sites = tuple(
        LabSite(
            name=site["name"],
            network=IPv4Network(site["network"]),
            hosts=tuple(
                LabHost(
                    site=site["name"],
                    name=host["name"],
                    address=IPv4Address(host["address"]),
                    roles=tuple(host.get("roles", ())),
                    disk_bytes=int(host.get("disk_bytes", DEFAULT_DISK_BYTES)),
                )
                for host in site["hosts"]
            ),
        )
        for site in data["sites"]
    )
    return LabSpec(name=data["name"], sites=sites)
