"""The names a host's certificate carries, derived from the inventory and nothing else.

A CSR's subject and SANs are written by whoever holds the host's key; trusting them would
let one host ask for another's name. So the certificate's names come from this one function,
which every consumer (``egov pki issue`` today, the deploys' TLS settings later) calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from egov.errors import InputError
from egov.inventory.model import Estate, HostRef


@dataclass(frozen=True)
class HostNames:
    """What a host answers to: DNS names (first is the certificate's common name) and IPs."""

    dns_names: tuple[str, ...]
    addresses: tuple[IPv4Address, ...]

    @property
    def common_name(self) -> str:
        """The qualified name ``site-host``: unique across the estate."""
        return self.dns_names[0]

    def as_strings(self) -> tuple[str, ...]:
        """Every name as text, DNS names then addresses (what the index records)."""
        return (*self.dns_names, *(str(address) for address in self.addresses))


def make_host_names(estate: Estate, ref: HostRef) -> HostNames:
    """The names of ``ref`` in ``estate``: its qualified name ``site-host``, its short name,
    ``host.site``, and its address as an IP SAN.

    >>> names = make_host_names(estate, ref)  # primary/db-01 at 10.213.1.20
    >>> names.as_strings()
    ('primary-db-01', 'db-01', 'db-01.primary', '10.213.1.20')

    The short name is shared by hosts of the same name at other sites (``db-01`` at both
    sites of the lab): a client reaching it by that name is at its own site. Raise
    InputError when ``ref`` is not a host of ``estate`` (names from another inventory).
    """
    site = estate.sites.get(ref.site)
    if site is None or site.hosts.get(ref.name) != ref.host:
        raise InputError(
            f"host {ref.selector} is not in the estate {estate.name}",
            "name a host of this inventory (egov inventory show)",
        )
    return HostNames(
        dns_names=(ref.qualified_name, ref.name, f"{ref.name}.{ref.site}"),
        addresses=(ref.host.address,),
    )
