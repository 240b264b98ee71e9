"""Host selectors: the one way a command names hosts (``--limit``, ``--exclude``, ``--host``,
``--to-host``, a lab host argument).

The forms, each matched against the inventory (the part after a prefix may hold shell
wildcards, ``*``, ``?``, ``[…]``)::

    primary/db-01        site/host
    primary-db-01        site-host, the qualified name (restic's and the lab's host name)
    primary/*  *-db-*    a wildcard over site/host and site-host
    site:primary         every host of a site
    role:db-replica      every host with a role
    service:portal       every host a service runs on (its hosts and its entrypoint)
    host:db-01           the host of that name at every site
    primary  db  portal  a bare name: a site, role, service or host of that name (any of them)

pyinfra's group names (``site_primary``, ``role_db``, ``service_portal``, with ``_`` for
``-``) are bare names too, so what ``egov deploy --limit`` took before still works. A
selector matching no host is an InputError naming it and these forms: a typo must not
silently act on nothing, or on everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from egov.errors import InputError
from egov.inventory.model import Estate, HostRef

SELECTOR_FORMS = (
    "site/host, site-host, a wildcard (primary/db-*, *-db-*), site:NAME, role:NAME, "
    "service:NAME, host:NAME, or a bare site, role, service or host name"
)


class SelectorKind(StrEnum):
    """What a selector names: the prefix it was written with, or ANY for a bare one."""

    SITE = "site"
    ROLE = "role"
    SERVICE = "service"
    HOST = "host"
    ANY = "any"


@dataclass(frozen=True)
class Selector:
    """A parsed selector: ``text`` as the operator wrote it, the ``kind`` it names and the
    ``pattern`` (a name or a shell wildcard) matched against names of that kind."""

    text: str
    kind: SelectorKind
    pattern: str


def parse_selector(text: str) -> Selector:
    """``"role:db"`` → Selector(kind=ROLE, pattern="db"); a bare word is kind ANY.

    Raise InputError for an empty selector or an unknown prefix (``rol:db``), naming the
    valid forms."""
    stripped = text.strip()
    if not stripped:
        raise InputError("an empty host selector", f"write one of: {SELECTOR_FORMS}")
    prefix, colon, rest = stripped.partition(":")
    if not colon:
        return Selector(text, SelectorKind.ANY, stripped)
    kinds = {kind.value: kind for kind in SelectorKind if kind is not SelectorKind.ANY}
    if prefix not in kinds or not rest:
        raise InputError(
            f"host selector {text!r}: not a selector form", f"write one of: {SELECTOR_FORMS}"
        )
    return Selector(text, kinds[prefix], rest)


def _services(estate: Estate, ref: HostRef) -> set[str]:
    names = set()
    for name, service in estate.services.items():
        placement = service.sites.get(ref.site)
        if placement and (ref.name in placement.hosts or ref.name == placement.entrypoint):
            names.add(name)
    return names


def _names(estate: Estate, ref: HostRef, kind: SelectorKind) -> set[str]:
    """The names ``ref`` answers to as ``kind``; for ANY, every exact name (pyinfra's group
    names included, with ``_`` for ``-`` too)."""
    if kind is SelectorKind.SITE:
        return {ref.site}
    if kind is SelectorKind.ROLE:
        return set(ref.host.roles)
    if kind is SelectorKind.SERVICE:
        return _services(estate, ref)
    if kind is SelectorKind.HOST:
        return {ref.name}
    services = _services(estate, ref)
    groups = {f"site_{ref.site}"} | {f"role_{role}" for role in ref.host.roles}
    groups |= {f"service_{name}" for name in services}
    names = {ref.site, ref.name, ref.selector, ref.qualified_name, *ref.host.roles, *services}
    return names | groups | {name.replace("-", "_") for name in names | groups}


def _matches(estate: Estate, ref: HostRef, selector: Selector) -> bool:
    if selector.kind is not SelectorKind.ANY:
        return any(
            fnmatchcase(name, selector.pattern) for name in _names(estate, ref, selector.kind)
        )
    # a bare wildcard matches host names only (site/host or site-host), as deploy's --limit
    # always has: primary* must not also take every host whose role starts with primary
    if any(character in selector.pattern for character in "*?["):
        return fnmatchcase(ref.selector, selector.pattern) or fnmatchcase(
            ref.qualified_name, selector.pattern
        )
    names = _names(estate, ref, SelectorKind.ANY)
    return selector.pattern in names or selector.pattern.replace("-", "_") in names


def match_selector(estate: Estate, text: str, option: str = "host selector") -> list[HostRef]:
    """The hosts ``text`` names, in inventory order; InputError (naming ``option``, the
    selector and the valid forms) when it is malformed or names no host."""
    selector = parse_selector(text)
    chosen = [ref for ref in estate.iter_hosts() if _matches(estate, ref, selector)]
    if not chosen:
        raise InputError(f"{option} {text!r} matches no host", f"write one of: {SELECTOR_FORMS}")
    return chosen


def resolve_host(estate: Estate, text: str, option: str = "host") -> HostRef:
    """The one host ``text`` names (``primary/db-01``, ``primary-db-01``, …); InputError
    when it names none or several."""
    chosen = match_selector(estate, text, option)
    if len(chosen) > 1:
        names = ", ".join(ref.selector for ref in chosen[:8])
        raise InputError(
            f"{option} {text!r} names {len(chosen)} hosts ({names}), not one",
            "write it as site/host",
        )
    return chosen[0]


def select_hosts(
    estate: Estate,
    *,
    sites: Sequence[str] | None = None,
    roles: Sequence[str] | None = None,
    limits: Sequence[str] | None = None,
    excludes: Sequence[str] | None = None,
) -> list[HostRef]:
    """The hosts a run acts on (``--site``, ``--role``, ``--limit``, ``--exclude``), in
    inventory order: of the given sites, with one of the given roles, matching one of the
    limits, and matching no exclude. InputError for a name or selector matching nothing, and
    for a selection that leaves no host."""
    for site in sites or []:
        if site not in estate.sites:
            raise InputError(f"unknown site {site!r}", f"sites: {', '.join(estate.sites)}")
    known_roles = {role for ref in estate.iter_hosts() for role in ref.host.roles}
    for role in roles or []:
        if role not in known_roles:
            raise InputError(
                f"no host has role {role!r}", f"roles in use: {', '.join(sorted(known_roles))}"
            )
    limited = [match_selector(estate, text, "--limit") for text in limits or []]
    excluded = [match_selector(estate, text, "--exclude") for text in excludes or []]
    chosen = [
        ref
        for ref in estate.iter_hosts()
        if (not sites or ref.site in sites)
        and (not roles or set(roles) & set(ref.host.roles))
        and (not limited or any(ref in refs for refs in limited))
        and not any(ref in refs for refs in excluded)
    ]
    if not chosen:
        raise InputError("the selection leaves no host", "loosen --site/--role/--limit/--exclude")
    return chosen
