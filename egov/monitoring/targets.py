"""What monitoring expects of the estate: label sets and targets, derived from the inventory.

The exporter, the alert rules, the dashboards and ``egov monitor status`` all read these, so a
dataset, a repository or a service added to the inventory appears everywhere at once. The
targets travel to the monitoring hosts as a small JSON file (``MonitoringTargets``): the
exporter needs neither the inventory nor its secret references there.

A dataset's backup target (``backup_target_seconds``) is the tightest RPO of the service data
it holds (a file tree's own ``rpo``, else its service's), but never tighter than its schedule
allows: a database whose 15-minute RPO is met by streaming replication is still backed up
daily, and its dump is then stale only after a day. A dataset holding no service data
(``/etc``) is held to its schedule. What the schedule allows is the interval and its
randomized delay, plus the catalog's lag: monitoring sees a snapshot only once the catalog
refresh after it ran (the replication job, ``deploys.backup.make_replication_calendar``), so
without it the age would cross the target every cycle before the refresh and page for
nothing.
"""

from __future__ import annotations

import fnmatch
from datetime import timedelta
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from egov.deploys import topology
from egov.inputfile import JSON_INPUT, read_input_text
from egov.inventory.backup import Dataset, DatasetKind
from egov.inventory.model import Environment, Estate, HostRef, SiteStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetTarget(_Frozen):
    """One dataset at one site: its hosts there, where its snapshots go, how fresh they must be."""

    dataset: str
    site: str
    hosts: tuple[str, ...] = Field(description="Qualified names of the hosts backed up.")
    repositories: tuple[str, ...] = Field(
        description="Replication order for this dataset: the first is written to."
    )
    backup_target_seconds: float


class RepositoryTarget(_Frozen):
    """A repository and the site its storage is at."""

    repository: str
    site: str


class SiteTarget(_Frozen):
    """A site that exists, and its storage capacity when the inventory gives one."""

    site: str
    role: str
    storage_capacity_bytes: float | None = None


class ServiceTarget(_Frozen):
    """A service's recovery and availability objectives."""

    dr_service: str
    rto_seconds: float
    rpo_seconds: float
    availability_slo: float


class HostTarget(_Frozen):
    """A host that exists, by its qualified name, and its site."""

    host: str
    site: str


class ReplicaTarget(_Frozen):
    """A PostgreSQL replica and the lag its databases tolerate (their tightest RPO)."""

    host: str
    site: str
    upstream: str
    lag_target_seconds: float


class MonitoringTargets(_Frozen):
    """Everything monitoring expects of one estate."""

    estate: str
    environment: str
    datasets: tuple[DatasetTarget, ...]
    repositories: tuple[RepositoryTarget, ...]
    sites: tuple[SiteTarget, ...]
    services: tuple[ServiceTarget, ...]
    replicas: tuple[ReplicaTarget, ...]
    # A default, so that a targets file written before hosts were listed still loads.
    hosts: tuple[HostTarget, ...] = Field(
        default=(), description="Every host of the existing sites, with its site."
    )
    database_hosts: tuple[str, ...] = Field(description="Primaries (heartbeat writers).")
    monitoring_hosts: tuple[str, ...] = Field(description="Hosts running an egov exporter.")
    scenarios: tuple[str, ...]
    drill_interval_seconds: float
    verify_days: int

    @property
    def is_lab(self) -> bool:
        """Whether the estate is the lab (shorter alert windows)."""
        return self.environment == Environment.LAB.value

    def get_host_site(self, host: str) -> str:
        """The site of ``host`` (a qualified name); raise KeyError when it is not a host here."""
        for target in self.hosts:
            if target.host == host:
                return target.site
        raise KeyError(host)

    def to_json(self) -> str:
        """The targets as the JSON file the exporter reads."""
        return self.model_dump_json(indent=1) + "\n"


def load_targets(path: Path) -> MonitoringTargets:
    """The targets written by the deploy at ``path``.

    Raise UnreadableInput when it is not a readable regular file of sane size, ValueError when
    its content is not targets.
    """
    return MonitoringTargets.model_validate_json(read_input_text(path, JSON_INPUT))


def _existing_sites(estate: Estate) -> list[str]:
    return [name for name, site in estate.sites.items() if site.status is not SiteStatus.PLANNED]


def resolve_dataset_hosts(estate: Estate, dataset: Dataset) -> list[HostRef]:
    """The existing hosts a dataset's selectors (``site/host``, ``site/*``, ``*``) name."""
    sites = set(_existing_sites(estate))
    found: list[HostRef] = []
    for ref in estate.iter_hosts():
        if ref.site not in sites:
            continue
        for selector in dataset.hosts:
            pattern = "*/*" if selector == "*" else selector
            if fnmatch.fnmatchcase(ref.selector, pattern) and ref not in found:
                found.append(ref)
    return found


def make_repository_order(estate: Estate, dataset: Dataset) -> tuple[str, ...]:
    """Where ``dataset``'s snapshots go: its repository, then the replication order after it."""
    order = list(estate.backup.replication) or list(estate.backup.repositories)
    first = dataset.repository or (order[0] if order else None)
    if first is None:
        return ()
    if first in order:
        return tuple(order[order.index(first) :])
    return (first,)


def _covered_rpos(estate: Estate, dataset: Dataset, hosts: list[HostRef]) -> list[timedelta]:
    names = {ref.name for ref in hosts if ref.site == estate.primary_site}
    rpos: list[timedelta] = []
    for service in estate.services.values():
        if dataset.kind is DatasetKind.POSTGRES:
            rpos += [
                database.rpo or service.rpo
                for database in service.data.databases
                if database.name in dataset.databases and database.host in names
            ]
        else:
            rpos += [
                item.rpo or service.rpo
                for item in service.data.files
                if item.host in names
                and any(PurePosixPath(item.path).is_relative_to(path) for path in dataset.paths)
            ]
    return rpos


def make_backup_target(estate: Estate, name: str) -> timedelta:
    """The age ``name``'s newest snapshot may reach (see the module docstring)."""
    dataset = estate.backup.datasets[name]
    schedule = dataset.schedule or estate.backup.schedule
    floor = schedule.interval + schedule.randomized_delay + get_catalog_lag(estate)
    rpos = _covered_rpos(estate, dataset, resolve_dataset_hosts(estate, dataset))
    return max(min(rpos), floor) if rpos else floor


def get_catalog_lag(estate: Estate) -> timedelta:
    """The longest a new snapshot waits for the catalog refresh that makes it visible."""
    from egov.deploys.backup import (
        REPLICATION_DELAY,
        REPLICATION_RANDOMIZED_DELAY,
        get_shortest_schedule,
    )

    shortest = get_shortest_schedule(estate)
    if shortest.interval >= timedelta(days=1):  # nightly, three hours after the backups
        return REPLICATION_DELAY + REPLICATION_RANDOMIZED_DELAY
    return shortest.interval  # as often as the most frequent dataset


def make_replica_targets(estate: Estate) -> list[ReplicaTarget]:
    """Every existing replica, with the tightest RPO of the databases its chain carries."""
    sites = set(_existing_sites(estate))
    targets = []
    for root in topology.get_hosts_with_role(estate, "db", estate.primary_site):
        rpos = [
            database.rpo or service.rpo
            for service in estate.services.values()
            for database in service.data.databases
            if database.host == root.name
        ]
        if not rpos:
            continue
        for replica in topology.get_chain_replicas(estate, root):
            if replica.site not in sites:
                continue
            upstream = topology.get_upstream(estate, replica)
            targets.append(
                ReplicaTarget(
                    host=replica.qualified_name,
                    site=replica.site,
                    upstream=upstream.qualified_name if upstream else root.qualified_name,
                    lag_target_seconds=min(rpos).total_seconds(),
                )
            )
    return targets


def _site_target(estate: Estate, name: str) -> SiteTarget:
    capacity = estate.sites[name].storage_capacity
    return SiteTarget(
        site=name,
        role=estate.sites[name].role.value,
        storage_capacity_bytes=None if capacity is None else float(int(capacity)),
    )


def make_targets(estate: Estate) -> MonitoringTargets:
    """Everything monitoring expects of ``estate``, in inventory order."""
    datasets = []
    for name, dataset in estate.backup.datasets.items():
        hosts = resolve_dataset_hosts(estate, dataset)
        order = make_repository_order(estate, dataset)
        target = make_backup_target(estate, name).total_seconds()
        for site in dict.fromkeys(ref.site for ref in hosts):
            datasets.append(
                DatasetTarget(
                    dataset=name,
                    site=site,
                    hosts=tuple(ref.qualified_name for ref in hosts if ref.site == site),
                    repositories=order,
                    backup_target_seconds=target,
                )
            )
    sites = _existing_sites(estate)
    return MonitoringTargets(
        estate=estate.name,
        environment=estate.environment.value,
        datasets=tuple(datasets),
        repositories=tuple(
            RepositoryTarget(repository=name, site=repository.site)
            for name, repository in estate.backup.repositories.items()
        ),
        sites=tuple(_site_target(estate, name) for name in sites),
        services=tuple(
            ServiceTarget(
                dr_service=name,
                rto_seconds=service.rto.total_seconds(),
                rpo_seconds=service.rpo.total_seconds(),
                availability_slo=service.availability_slo,
            )
            for name, service in estate.services.items()
        ),
        hosts=tuple(
            HostTarget(host=ref.qualified_name, site=ref.site)
            for ref in estate.iter_hosts()
            if ref.site in sites
        ),
        replicas=tuple(make_replica_targets(estate)),
        database_hosts=tuple(
            ref.qualified_name
            for ref in topology.get_hosts_with_role(estate, "db")
            if ref.site in sites
        ),
        monitoring_hosts=tuple(
            ref.qualified_name
            for ref in topology.get_hosts_with_role(estate, "monitoring")
            if ref.site in sites
        ),
        scenarios=tuple(estate.drills.scenarios),
        drill_interval_seconds=estate.drills.interval.total_seconds(),
        verify_days=estate.backup.verify_days,
    )
