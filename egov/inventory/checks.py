"""Cross-checks the types cannot express: references, overlaps, targets, secrets, placeholders.

Each check is a pure function of the validated estate returning findings; an error stops the
estate from being used, a warning means it can still run but something deserves attention.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from egov.inventory.addresses import get_url_address, is_placeholder, is_placeholder_network
from egov.inventory.alerting_checks import check_alerting
from egov.inventory.backup_checks import check_datasets, check_repositories, check_rpo_targets
from egov.inventory.fields import is_secret_reference
from egov.inventory.findings import Finding, Severity
from egov.inventory.findings import make_error as _error
from egov.inventory.findings import make_placeholder_finding as _placeholder
from egov.inventory.findings import make_warning as _warning
from egov.inventory.model import Environment, Estate, HostRef, SiteRole
from egov.inventory.roles import LAB_ONLY_ROLES, ROLES
from egov.inventory.yamlsource import PathKey

Check = Callable[[Estate], Iterator[Finding]]


def check_estate(estate: Estate) -> list[Finding]:
    """Run every cross-check; errors first, each group in inventory order.

    Without exactly one primary site the other checks have no primary to check against:
    that finding alone is returned.
    """
    primary = list(check_primary_site(estate))
    if primary:
        return primary
    findings = [finding for check in CHECKS for finding in check(estate)]
    return sorted(findings, key=lambda finding: finding.severity is not Severity.ERROR)


def check_primary_site(estate: Estate) -> Iterator[Finding]:
    """Exactly one site is primary; two are reported at each one's ``role:`` line."""
    primaries = [name for name, site in estate.sites.items() if site.role is SiteRole.PRIMARY]
    if not primaries:
        yield _error(
            ("sites",),
            "no site has role primary; exactly one must",
            "give the provincial data centre `role: primary`",
        )
    if len(primaries) > 1:
        for name in primaries:
            others = ", ".join(other for other in primaries if other != name)
            yield _error(
                ("sites", name, "role"),
                f"site {name} has role primary, and so does {others}: exactly one site must "
                "have role primary",
                "give the others role dr or offsite",
            )


def check_host_names(estate: Estate) -> Iterator[Finding]:
    """Qualified names (``site-host``) must be unique: they name lab machines and metrics."""
    seen: dict[str, HostRef] = {}
    for ref in estate.iter_hosts():
        other = seen.get(ref.qualified_name)
        if other is not None:
            yield _error(
                ("sites", ref.site, "hosts", ref.name),
                f"host {ref.selector} and {other.selector} both become "
                f"{ref.qualified_name!r} when qualified by their site",
                "rename one of them",
            )
        seen[ref.qualified_name] = ref


def check_addresses(estate: Estate) -> Iterator[Finding]:
    """Addresses are unique and inside their site's range; placeholders are flagged."""
    seen: dict[Any, HostRef] = {}
    for ref in estate.iter_hosts():
        path: PathKey = ("sites", ref.site, "hosts", ref.name, "address")
        address = ref.host.address
        network = estate.sites[ref.site].network
        if address in seen:
            yield _error(
                path,
                f"address {address} of {ref.selector} is also used by {seen[address].selector}",
                "give every host its own address",
            )
        seen[address] = ref
        if address not in network:
            yield _error(
                path,
                f"address {address} of {ref.selector} is outside its site's network {network}",
                f"use an address in {network} or correct sites.{ref.site}.network",
            )
        elif address in (network.network_address, network.broadcast_address):
            yield _error(path, f"{address} is the network or broadcast address of {network}")
        if is_placeholder(address):
            yield _placeholder(estate, path, f"{ref.selector} has placeholder address {address}")


def check_site_networks(estate: Estate) -> Iterator[Finding]:
    """Site networks must not overlap: routing between sites would be ambiguous."""
    names = list(estate.sites)
    for index, name in enumerate(names):
        network = estate.sites[name].network
        for other in names[index + 1 :]:
            if network.overlaps(estate.sites[other].network):
                yield _error(
                    ("sites", other, "network"),
                    f"network of site {other} overlaps site {name} ({network})",
                    "give each site its own range",
                )
        if is_placeholder_network(network) and estate.environment is Environment.LAB:
            yield _error(("sites", name, "network"), "a lab site uses a documentation range")


def check_roles(estate: Estate) -> Iterator[Finding]:
    """Every role has a deploy; replicas name an existing upstream database host."""
    for ref in estate.iter_hosts():
        path: PathKey = ("sites", ref.site, "hosts", ref.name)
        for index, role in enumerate(ref.host.roles):
            if role not in ROLES:
                yield _error(
                    (*path, "roles", index),
                    f"unknown role {role!r} on {ref.selector}",
                    f"known roles: {', '.join(ROLES)}",
                )
            elif role in LAB_ONLY_ROLES and estate.environment is Environment.PRODUCTION:
                yield _warning(
                    (*path, "roles", index),
                    f"role {role!r} is a lab stand-in; production uses the real service",
                )
        yield from _check_upstream(estate, ref, path)


def _check_upstream(estate: Estate, ref: HostRef, path: PathKey) -> Iterator[Finding]:
    upstream = ref.host.upstream
    if "db-replica" in ref.host.roles and upstream is None:
        yield _error(
            path,
            f"{ref.selector} has role db-replica but no upstream",
            "add `upstream: db-01` (same site) or `upstream: primary/db-01`",
        )
    if upstream is None:
        return
    target = estate.find_upstream(ref)
    if target is None:
        yield _error((*path, "upstream"), f"upstream {upstream!r} of {ref.selector} is not a host")
    elif target.selector == ref.selector:
        yield _error(
            (*path, "upstream"),
            f"{ref.selector} names itself as its upstream",
            "name the database it streams from, e.g. primary/db-01",
        )
    elif not {"db", "db-replica"} & set(target.host.roles):
        yield _error(
            (*path, "upstream"),
            f"upstream {target.selector} of {ref.selector} has no db or db-replica role",
        )
    else:
        cycle = _upstream_cycle(estate, ref)
        if cycle:
            yield _error(
                (*path, "upstream"),
                f"the replicas stream from each other in a circle: {' → '.join(cycle)}",
                "one of them must stream from the primary database (a host with role db)",
            )


def _upstream_cycle(estate: Estate, ref: HostRef) -> list[str]:
    """The selectors of the circle ``ref``'s upstream chain comes back to ``ref`` by, or []."""
    chain = [ref.selector]
    current = estate.find_upstream(ref)
    while current is not None and current.selector not in chain:
        chain.append(current.selector)
        current = estate.find_upstream(current)
    if current is not None and current.selector == ref.selector:
        return [*chain, ref.selector]
    return []


def check_services(estate: Estate) -> Iterator[Finding]:
    """Services are placed on hosts that exist, and own data on hosts that exist."""
    primary = estate.primary_site
    for service_name, service in estate.services.items():
        base: PathKey = ("services", service_name)
        for site_name, placement in service.sites.items():
            site_path: PathKey = (*base, "sites", site_name)
            if site_name not in estate.sites:
                yield _error(site_path, f"service {service_name} is placed at unknown site")
                continue
            names = list(placement.hosts)
            if placement.entrypoint is not None:
                names.append(placement.entrypoint)
            for host_name in names:
                if estate.find_host(site_name, host_name) is None:
                    yield _error(
                        site_path,
                        f"service {service_name} names host {site_name}/{host_name}, "
                        "which does not exist",
                        f"hosts at {site_name}: {', '.join(estate.sites[site_name].hosts) or '-'}",
                    )
        for index, database in enumerate(service.data.databases):
            target = estate.find_host(primary, database.host)
            if target is None or "db" not in target.host.roles:
                yield _error(
                    (*base, "data", "databases", index, "host"),
                    f"database {database.name} of {service_name} is on {primary}/{database.host},"
                    " which is not a host with the db role",
                )
        for index, files in enumerate(service.data.files):
            if estate.find_host(primary, files.host) is None:
                yield _error(
                    (*base, "data", "files", index, "host"),
                    f"files {files.path} of {service_name} are on {primary}/{files.host},"
                    " which does not exist",
                )


_SECRET_KEY_RE = re.compile(r"(password|passwd|secret|token|private_key|api_key)$", re.IGNORECASE)


def check_inline_secrets(estate: Estate) -> Iterator[Finding]:
    """Host data must not carry secrets: they belong in files referenced as ``file:``."""
    for ref in estate.iter_hosts():
        for path, value in _walk(ref.host.data, ("sites", ref.site, "hosts", ref.name, "data")):
            key = str(path[-1])
            if _SECRET_KEY_RE.search(key) and value is not None and not is_secret_reference(value):
                yield _error(
                    path,
                    f"inline secret in host data key {key!r} of {ref.selector} (value not shown)",
                    "keep it in a file (mode 0600) and write file:/etc/egov/secrets/NAME",
                )


def _walk(value: Any, path: PathKey) -> Iterator[tuple[PathKey, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, str(key)), child
            yield from _walk(child, (*path, str(key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, (*path, index))


def check_postgres_settings(estate: Estate) -> Iterator[Finding]:
    """Database hosts need the clusters' credentials declared."""
    if estate.postgres is None and any(
        {"db", "db-replica"} & set(ref.host.roles) for ref in estate.iter_hosts()
    ):
        yield _error(
            (),
            "hosts have the db role but the inventory has no `postgres:` section",
            "add postgres: {replication_password: file:..., app_password: file:...}",
        )


def check_object_stores(estate: Estate) -> Iterator[Finding]:
    """A site's S3 endpoint is a connection target too: placeholders are flagged."""
    for name, site in estate.sites.items():
        if site.object_store is None:
            continue
        address = get_url_address(site.object_store.endpoint)
        if address is not None and is_placeholder(address):
            yield _placeholder(
                estate,
                ("sites", name, "object_store", "endpoint"),
                f"site {name} has placeholder object store endpoint {address}",
            )


CHECKS: tuple[Check, ...] = (
    check_host_names,
    check_addresses,
    check_site_networks,
    check_roles,
    check_services,
    check_repositories,
    check_datasets,
    check_rpo_targets,
    check_inline_secrets,
    check_postgres_settings,
    check_object_stores,
    check_alerting,
)
