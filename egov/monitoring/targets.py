"""What monitoring expects of the estate: label sets and targets, derived from the inventory.

The exporter, the alert rules, the dashboards and ``egov monitor status`` all read these, so a
dataset, a repository or a service added to the inventory appears everywhere at once. The
targets travel to the monitoring hosts as a small JSON file (``MonitoringTargets``): the
exporter needs neither the inventory nor its secret references there.

A dataset's backup target (``backup_target_seconds``), the hosts it covers at each site and
the repositories holding it are the inventory's derived facts (``egov.inventory.derive``,
``get_backup_target``): ``egov backup status`` judges by the same ones.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from egov.backup.archivestate import get_active_archives, get_base_backup_limit, get_wal_limit
from egov.deploys import topology
from egov.inputfile import JSON_INPUT, read_input_text
from egov.inventory.derive import (
    get_active_sites,
    get_backup_target,
    get_chain_replicas,
    get_dataset_site_hosts,
    get_repository_order,
)
from egov.inventory.model import Environment, Estate


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


class ArchiveTarget(_Frozen):
    """A Barman server on an archive host, and how old its newest WAL and base backup may be
    (``archivestate``'s limits, which ``egov backup status`` judges by too)."""

    dataset: str
    site: str = Field(description="The archive host's site.")
    host: str = Field(description="The archive host's qualified name.")
    server: str
    rpo_seconds: float
    wal_limit_seconds: float
    base_backup_limit_seconds: float


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
    # A default, so that a targets file written before the WAL archive still loads.
    archives: tuple[ArchiveTarget, ...] = Field(
        default=(), description="The WAL archive's Barman servers, archive hosts in order."
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


def make_replica_targets(estate: Estate) -> list[ReplicaTarget]:
    """Every existing replica, with the tightest RPO of the databases its chain carries."""
    sites = set(get_active_sites(estate))
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
        for replica in get_chain_replicas(estate, root):
            if replica.site not in sites:
                continue
            upstream = estate.find_upstream(replica)
            targets.append(
                ReplicaTarget(
                    host=replica.qualified_name,
                    site=replica.site,
                    upstream=upstream.qualified_name if upstream else root.qualified_name,
                    lag_target_seconds=min(rpos).total_seconds(),
                )
            )
    return targets


def make_archive_targets(estate: Estate) -> list[ArchiveTarget]:
    """Every Barman server at an existing site, datasets and archive hosts in inventory order."""
    return [
        ArchiveTarget(
            dataset=pair.dataset,
            site=pair.archive_host.site,
            host=pair.archive_host.qualified_name,
            server=pair.server,
            rpo_seconds=pair.rpo.total_seconds(),
            wal_limit_seconds=get_wal_limit(pair.rpo).total_seconds(),
            base_backup_limit_seconds=get_base_backup_limit(pair.schedule).total_seconds(),
        )
        for pair in get_active_archives(estate)
    ]


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
        order = get_repository_order(estate, dataset)
        target = get_backup_target(estate, name).target.total_seconds()
        for covered in get_dataset_site_hosts(estate, name):
            datasets.append(
                DatasetTarget(
                    dataset=name,
                    site=covered.site,
                    hosts=covered.qualified_names,
                    repositories=order,
                    backup_target_seconds=target,
                )
            )
    sites = get_active_sites(estate)
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
        archives=tuple(make_archive_targets(estate)),
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
