"""Choosing the hosts of a run: --site, --role, --limit and --exclude, as pyinfra matches them.

A ``--limit``/``--exclude`` pattern names a group first (``site_primary``, ``role_db``,
``service_portal`` or plainly ``primary``, ``db``, ``portal``), else is matched with shell
wildcards against ``site/host`` and ``site-host``. A pattern matching nothing is an input
error: a typo must not silently deploy nothing, or everything.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from egov.errors import InputError
from egov.inventory.model import Estate, HostRef


def _groups(estate: Estate, ref: HostRef) -> set[str]:
    names = {ref.site, f"site_{ref.site}"}
    names |= set(ref.host.roles) | {f"role_{role}" for role in ref.host.roles}
    for name, service in estate.services.items():
        placement = service.sites.get(ref.site)
        if placement and (ref.name in placement.hosts or ref.name == placement.entrypoint):
            names |= {name, f"service_{name}"}
    return {name.replace("-", "_") for name in names} | names


def _matches(estate: Estate, ref: HostRef, pattern: str) -> bool:
    if pattern in _groups(estate, ref) or pattern.replace("-", "_") in _groups(estate, ref):
        return True
    return fnmatchcase(ref.selector, pattern) or fnmatchcase(ref.qualified_name, pattern)


def select_hosts(
    estate: Estate,
    *,
    sites: list[str] | None = None,
    roles: list[str] | None = None,
    limits: list[str] | None = None,
    excludes: list[str] | None = None,
) -> list[HostRef]:
    """The hosts a run acts on, in inventory order; InputError for names matching nothing."""
    for site in sites or []:
        if site not in estate.sites:
            raise InputError(f"unknown site {site!r}", f"sites: {', '.join(estate.sites)}")
    known_roles = {role for ref in estate.iter_hosts() for role in ref.host.roles}
    for role in roles or []:
        if role not in known_roles:
            raise InputError(
                f"no host has role {role!r}", f"roles in use: {', '.join(sorted(known_roles))}"
            )
    every = list(estate.iter_hosts())
    for pattern in [*(limits or []), *(excludes or [])]:
        if not any(_matches(estate, ref, pattern) for ref in every):
            raise InputError(
                f"--limit/--exclude {pattern!r} matches no host",
                "use a site, role or service name, site/host, or a wildcard such as primary/db-*",
            )
    chosen = [
        ref
        for ref in every
        if (not sites or ref.site in sites)
        and (not roles or set(roles) & set(ref.host.roles))
        and (not limits or any(_matches(estate, ref, pattern) for pattern in limits))
        and not any(_matches(estate, ref, pattern) for pattern in excludes or [])
    ]
    if not chosen:
        raise InputError("the selection leaves no host", "loosen --site/--role/--limit/--exclude")
    return chosen
