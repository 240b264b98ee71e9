"""The estate's names a scenario refers to by role: ``$recovery_site``, ``$files_dataset``, …

A shipped scenario must run unchanged on any valid inventory, so it names no site, dataset,
repository or host: it writes ``$recovery_site`` where Cà Mau's says ``site2`` and another
province's says ``south``. Each name is derived here, once, from the inventory (through
``egov.inventory.derive``); the loader replaces every ``$name`` value before validating, so a
loaded scenario holds only real names and the rest of the drill code never sees a reference.

A name the estate cannot give (``$offsite_site`` where there is no offsite store) is not an
error of the scenario: the scenario does not apply to that estate, ``egov drill list`` says
why, and ``egov drill run`` refuses it with the same reason. Pure.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from egov.backup.walarchive import get_site_archive
from egov.inventory.backup import DatasetKind
from egov.inventory.derive import (
    get_covering_root,
    get_recovery_site,
    get_replicas_of,
    get_repository_order,
    is_active_site,
)
from egov.inventory.fields import format_duration
from egov.inventory.model import Estate, HostRef, SiteRole
from egov.inventory.yamlsource import PathKey

#: A whole value that is a reference: ``$`` and a lower-case name. Only whole values are
#: replaced, so prose (descriptions, instructions) is never rewritten.
REFERENCE_PATTERN = re.compile(r"^\$([a-z][a-z0-9_]*)$")
#: The names whose values are durations: their stand-in must be one too.
DURATION_NAMES = frozenset({"archive_rpo"})
DURATION_STAND_IN = "1m"


@dataclass(frozen=True)
class Bindings:
    """Every reference name: its value on this estate, or why the estate has none."""

    values: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every name a scenario may use, bound or not."""
        return sorted({*self.values, *self.missing})

    def with_stand_ins(self) -> Bindings:
        """These bindings with each missing name bound to itself as a name (``offsite-site``),
        to check the shape of a scenario that does not apply to the estate."""
        stand_ins = {
            name: DURATION_STAND_IN if name in DURATION_NAMES else name.replace("_", "-")
            for name in self.missing
        }
        return Bindings(values={**stand_ins, **self.values})


@dataclass(frozen=True)
class Reference:
    """One ``$name`` found in a scenario, where it stands."""

    path: PathKey
    name: str


def make_bindings(estate: Estate) -> Bindings:
    """Derive every reference name from ``estate``."""
    values: dict[str, str] = {}
    missing: dict[str, str] = {}

    def put(name: str, value: str | None, why: str) -> None:
        if value is None:
            missing[name] = why
        else:
            values[name] = value

    primary = estate.primary_site
    put("primary_site", primary, "")
    recovery = _get_recovery_site(estate)
    put("recovery_site", recovery, _explain_no_recovery_site(estate))
    offsite = _get_site_of_role(estate, SiteRole.OFFSITE)
    put("offsite_site", offsite, "no active offsite site (an off-site backup store)")
    for label, site in (("primary", primary), ("recovery", recovery), ("offsite", offsite)):
        why = missing.get(f"{label}_site") or f"no backup repository at site {site}"
        put(f"{label}_repository", _get_site_repository(estate, site), why)
    files = _get_files_dataset(estate)
    why = "no `files` dataset backs up a path of the services' data files"
    put("files_dataset", files[0] if files else None, why)
    put("files_path", files[1] if files else None, why)
    put("service_files_path", files[2] if files else None, why)
    database = _get_primary_database(estate)
    why = "no service names a database (services.*.data.databases)"
    put("primary_database_host", database.name if database else None, why)
    put("primary_database_machine", database.qualified_name if database else None, why)
    standby = _get_local_standby(estate, database) if database else None
    put(
        "standby_database_host",
        standby.name if standby else None,
        missing.get("primary_database_host")
        or f"no hot standby of {primary}/{database.name if database else ''} at {primary}",
    )
    archive = get_site_archive(estate, database, recovery) if database else None
    why = (
        missing.get("primary_database_host")
        or missing.get("recovery_site")
        or f"{primary}/{database.name if database else ''}'s WAL is archived at no host of "
        f"{recovery} (backup.datasets.*.archive.hosts)"
    )
    put("recovery_archive_host", archive.archive_host.name if archive else None, why)
    put("archive_rpo", format_duration(archive.rpo) if archive else None, why)
    return Bindings(values=values, missing=missing)


def find_references(data: Any, path: PathKey = ()) -> Iterator[Reference]:
    """Every ``$name`` value in ``data`` (the scenario as read), in document order."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from find_references(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from find_references(value, (*path, index))
    elif isinstance(data, str) and (match := REFERENCE_PATTERN.match(data)):
        yield Reference(path=path, name=match.group(1))


def bind(data: Any, bindings: Bindings) -> Any:
    """``data`` with every bound ``$name`` value replaced by its value (a new structure)."""
    if isinstance(data, dict):
        return {key: bind(value, bindings) for key, value in data.items()}
    if isinstance(data, list):
        return [bind(value, bindings) for value in data]
    if isinstance(data, str) and (match := REFERENCE_PATTERN.match(data)):
        return bindings.values.get(match.group(1), data)
    return data


def explain_unknown(name: str, bindings: Bindings) -> str:
    """The hint for a ``$name`` that is no reference at all (a typo)."""
    close = difflib.get_close_matches(name, bindings.names, n=1)
    return f"did you mean ${close[0]}?" if close else f"known: ${', $'.join(bindings.names)}"


def get_unmet(data: Any, bindings: Bindings) -> dict[str, str]:
    """The references ``data`` uses that this estate cannot give: name → why, in order."""
    return {
        ref.name: bindings.missing[ref.name]
        for ref in find_references(data)
        if ref.name in bindings.missing
    }


# --- the derivations ------------------------------------------------------------------------


def _get_recovery_site(estate: Estate) -> str | None:
    """The first service's recovery site: every service fails over there in the shipped
    scenarios (a province whose services recover at different sites writes its own)."""
    sites = (get_recovery_site(estate, service) for service in estate.services)
    return next((site for site in sites if site is not None), None)


def _explain_no_recovery_site(estate: Estate) -> str:
    planned = [
        site
        for service in estate.services.values()
        for site in service.sites
        if site != estate.primary_site and site in estate.sites
    ]
    if planned:
        return f"the services' recovery site {planned[0]} is planned, not built yet"
    return "no site besides the primary in the services' placements to fail over to"


def _get_site_of_role(estate: Estate, role: SiteRole) -> str | None:
    return next(
        (
            name
            for name, site in estate.sites.items()
            if site.role is role and is_active_site(estate, name)
        ),
        None,
    )


def _get_site_repository(estate: Estate, site: str | None) -> str | None:
    """The repository at ``site`` that comes first in the replication order."""
    if site is None:
        return None
    at_site = [n for n, r in estate.backup.repositories.items() if r.site == site]
    ordered = [n for n in estate.backup.replication if n in at_site]
    return next(iter(ordered + at_site), None)


def _get_files_dataset(estate: Estate) -> tuple[str, str, str] | None:
    """The dataset backing up the first service file tree: its name, the path of it that
    holds that tree, and the tree's own path."""
    for service in estate.services.values():
        for tree in service.data.files:
            for name, dataset in estate.backup.datasets.items():
                root = get_covering_root(dataset, tree.path)
                if (
                    dataset.kind is DatasetKind.FILES
                    and root
                    and get_repository_order(estate, dataset)
                ):
                    return name, root, tree.path
    return None


def _get_primary_database(estate: Estate) -> HostRef | None:
    """The primary-site host of the first database a service names."""
    for service in estate.services.values():
        for database in service.data.databases:
            ref = estate.find_host(estate.primary_site, database.host)
            if ref is not None:
                return ref
    return None


def _get_local_standby(estate: Estate, database: HostRef) -> HostRef | None:
    """A replica of ``database`` at its own site: the one promoted when the host alone is lost."""
    return next((r for r in get_replicas_of(estate, database) if r.site == database.site), None)
