"""Placeholder addresses: the documentation ranges of RFC 5737.

The production template uses them so that it cannot be deployed by accident: egov refuses to
connect to any of them, before any connection is tried.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, ip_address
from urllib.parse import urlsplit

PLACEHOLDER_NETWORKS = (
    IPv4Network("192.0.2.0/24"),
    IPv4Network("198.51.100.0/24"),
    IPv4Network("203.0.113.0/24"),
)


def is_placeholder(address: IPv4Address) -> bool:
    """Tell whether ``address`` lies in an RFC 5737 documentation range."""
    return any(address in network for network in PLACEHOLDER_NETWORKS)


def is_placeholder_network(network: IPv4Network) -> bool:
    """Tell whether ``network`` overlaps an RFC 5737 documentation range."""
    return any(network.overlaps(placeholder) for placeholder in PLACEHOLDER_NETWORKS)


def get_url_address(url: str) -> IPv4Address | None:
    """The IPv4 address a URL names literally, or None for a DNS name or no host."""
    host = urlsplit(url).hostname
    if host is None:
        return None
    try:
        address = ip_address(host)
    except ValueError:
        return None
    return address if isinstance(address, IPv4Address) else None
