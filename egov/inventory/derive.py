"""The estate's derived facts: each question the inventory answers only indirectly, answered once.

Backup status, the exporter's targets, the inventory checks, the deploys and the drills all
ask here, so they cannot disagree (``tests/inventory/test_derive.py`` holds status and the
exporter to one answer on every shipped inventory). Pure functions of the validated Estate.

Two rules run through the whole module:

- A *planned* site has no running hosts: it backs nothing up, streams no WAL, recovers no
  service. Whatever counts hosts that must have done something (a dataset's hosts, a live
  replica, a recovery site) counts active sites only. Only the inventory checks, which judge
  the estate *as designed*, ask about planned replicas too, and say so.
- Service data (``services.*.data``) lives at the primary site: a database or a file tree
  belongs to the primary-site host named in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

from egov.inventory.backup import Dataset, DatasetKind, Schedule
from egov.inventory.model import Estate, HostRef, SiteStatus

#: The nightly replication (and the catalog refresh it ends with) starts this long after the
#: backups: three hours lets a night's backups finish before their snapshots are copied.
REPLICATION_DELAY = timedelta(hours=3)
#: The nightly replication's randomized delay, kept short: the copy window is the RPO's margin.
REPLICATION_RANDOMIZED_DELAY = timedelta(minutes=5)
#: Replication chains are two or three hosts; the bound stops a misconfigured cycle.
_MAX_CHAIN = 8


# --- sites ---------------------------------------------------------------------------------


def is_active_site(estate: Estate, site: str) -> bool:
    """Whether ``site`` exists now (not ``status: planned``): only such a site runs hosts."""
    return estate.sites[site].status is not SiteStatus.PLANNED


def get_active_sites(estate: Estate) -> list[str]:
    """The sites that exist now, in inventory order."""
    return [name for name in estate.sites if is_active_site(estate, name)]


# --- hosts a dataset covers ----------------------------------------------------------------


def resolve_host_selector(estate: Estate, selector: str) -> list[HostRef]:
    """Every host, planned or not, matched by ``*``, ``site/*`` or ``site/host``.

    This is what the selector *names* (the checks refuse one naming nothing); what a dataset
    must have backed up is ``get_dataset_hosts``.
    """
    return [ref for ref in estate.iter_hosts() if is_selected(selector, ref)]


def is_selected(selector: str, ref: HostRef) -> bool:
    """Whether the selector ``*``, ``site/*`` or ``site/host`` names ``ref``."""
    if selector == "*":
        return True
    site, _, name = selector.partition("/")
    return ref.site == site and name in ("*", ref.name)


def is_backed_up_by(dataset: Dataset, ref: HostRef) -> bool:
    """Whether ``ref`` runs ``dataset``'s backups once it is deployed.

    By its selectors alone, planned site or not: a host being built for a planned site gets
    its jobs with its first deploy, so it backs up from the day the site is switched active.
    """
    return any(is_selected(selector, ref) for selector in dataset.hosts)


def get_dataset_hosts(estate: Estate, dataset: str) -> list[HostRef]:
    """The hosts that must have backed ``dataset`` up: those its selectors name at *active*
    sites, in inventory order. A planned site's hosts are not running, so they have no
    snapshot to be fresh (counting them made ``etc`` NOT FRESH everywhere, 9/13 hosts)."""
    model = estate.backup.datasets[dataset]
    return [
        ref
        for ref in estate.iter_hosts()
        if is_active_site(estate, ref.site) and is_backed_up_by(model, ref)
    ]


@dataclass(frozen=True)
class SiteHosts:
    """The hosts of one site a dataset covers."""

    dataset: str
    site: str
    hosts: tuple[HostRef, ...]

    @property
    def qualified_names(self) -> tuple[str, ...]:
        """restic's ``--host`` of each: ``primary-db-01``."""
        return tuple(ref.qualified_name for ref in self.hosts)


def get_dataset_site_hosts(estate: Estate, dataset: str) -> list[SiteHosts]:
    """``get_dataset_hosts`` grouped by site, sites in inventory order; a site where the
    dataset covers no host is absent (it has nothing to be fresh)."""
    hosts = get_dataset_hosts(estate, dataset)
    sites = dict.fromkeys(ref.site for ref in hosts)
    return [
        SiteHosts(dataset, site, tuple(ref for ref in hosts if ref.site == site)) for site in sites
    ]


def covers_path(dataset: Dataset, path: str) -> bool:
    """Whether one of ``dataset``'s paths is ``path`` or a directory above it.

    By path components, not by string prefix: ``/srv/files2`` is not under ``/srv/files``.
    """
    return get_covering_root(dataset, path) is not None


def get_covering_root(dataset: Dataset, path: str) -> str | None:
    """The first of ``dataset``'s paths that is ``path`` or a directory above it, or None."""
    candidate = PurePosixPath(path)
    return next((root for root in dataset.paths if candidate.is_relative_to(root)), None)


def covers_database(dataset: Dataset, database: str) -> bool:
    """Whether ``dataset`` dumps ``database`` (a postgres dataset names its databases)."""
    return dataset.kind is DatasetKind.POSTGRES and database in dataset.databases


# --- repositories ---------------------------------------------------------------------------


def get_dataset_repository(estate: Estate, dataset: Dataset) -> str | None:
    """The repository a dataset is written to: its own, else the first of the replication."""
    if dataset.repository is not None:
        return dataset.repository
    return estate.backup.replication[0] if estate.backup.replication else None


def get_repository_order(estate: Estate, dataset: Dataset) -> tuple[str, ...]:
    """Every repository holding ``dataset``'s snapshots, the one written to first.

    Replication copies from the first repository of ``backup.replication`` to each following
    one and from nowhere else (``backup/replication.py``): a dataset written there is found
    at every repository of the order; one written elsewhere stays where it is written.
    """
    own = get_dataset_repository(estate, dataset)
    if own is None:
        return ()
    order = estate.backup.replication
    if order and order[0] == own:
        return tuple(order)
    return (own,)


# --- replication chains ---------------------------------------------------------------------


def get_replicas_of(estate: Estate, ref: HostRef) -> list[HostRef]:
    """``db-replica`` hosts streaming directly from ``ref``, in inventory order."""
    return [
        other
        for other in estate.iter_hosts()
        if "db-replica" in other.host.roles
        and (upstream := estate.find_upstream(other)) is not None
        and (upstream.site, upstream.name) == (ref.site, ref.name)
    ]


def get_replication_root(estate: Estate, ref: HostRef) -> HostRef:
    """The primary at the head of ``ref``'s replication chain (``ref`` itself for a primary)."""
    current = ref
    for _ in range(_MAX_CHAIN):
        upstream = estate.find_upstream(current)
        if upstream is None:
            break
        current = upstream
    return current


def get_chain_replicas(estate: Estate, root: HostRef) -> list[HostRef]:
    """Every replica streaming from ``root``, directly or through another replica, planned
    sites included (the deploys configure a chain as designed)."""
    found: list[HostRef] = []
    pending = [root]
    while pending:
        for replica in get_replicas_of(estate, pending.pop()):
            if replica not in found:
                found.append(replica)
                pending.append(replica)
    return found


def get_site_database_members(estate: Estate, database_host: str, site: str) -> list[HostRef]:
    """Every member of ``database_host``'s chain (a primary-site host) located at ``site``,
    in chain order."""
    root = estate.find_host(estate.primary_site, database_host)
    if root is None:
        return []
    return [member for member in [root, *get_chain_replicas(estate, root)] if member.site == site]


def get_site_database(estate: Estate, database_host: str, site: str) -> HostRef | None:
    """The member of ``database_host``'s chain located at ``site``, or None."""
    members = get_site_database_members(estate, database_host, site)
    return members[0] if members else None


@dataclass(frozen=True)
class RemoteReplicas:
    """The replicas of a database host at other sites than its own."""

    host: HostRef
    active: tuple[HostRef, ...]
    planned: tuple[HostRef, ...]

    @property
    def streaming(self) -> bool:
        """Whether a replica at another site receives the host's WAL now."""
        return bool(self.active)

    @property
    def designed(self) -> bool:
        """Whether the inventory gives the host a replica at another site, built or planned."""
        return bool(self.active or self.planned)


def get_remote_replicas(estate: Estate, site: str, host: str) -> RemoteReplicas:
    """The replicas streaming from ``site/host`` (directly or chained) at another site.

    Such a replica meets a database's RPO continuously, so backups need not; it survives the
    loss of the primary site. Raise KeyError when no such host exists.
    """
    ref = estate.find_host(site, host)
    if ref is None:
        raise KeyError(f"{site}/{host}")
    remote = [replica for replica in get_chain_replicas(estate, ref) if replica.site != site]
    return RemoteReplicas(
        host=ref,
        active=tuple(r for r in remote if is_active_site(estate, r.site)),
        planned=tuple(r for r in remote if not is_active_site(estate, r.site)),
    )


# --- freshness targets ----------------------------------------------------------------------


def get_shortest_schedule(estate: Estate) -> Schedule:
    """The schedule of the most frequently backed-up dataset (or the estate's default)."""
    schedules = [estate.backup.schedule] + [
        dataset.schedule for dataset in estate.backup.datasets.values() if dataset.schedule
    ]
    return min(schedules, key=lambda schedule: schedule.interval)


def get_catalog_lag(estate: Estate) -> timedelta:
    """The longest a new snapshot waits for the catalog refresh that makes it visible.

    The refresh ends each replication run: nightly, ``REPLICATION_DELAY`` after the backups
    (plus its randomized delay), or, when a dataset is backed up more often than daily, as
    often as that dataset (``deploys.backup.make_replication_calendar``).
    """
    shortest = get_shortest_schedule(estate)
    if shortest.interval >= timedelta(days=1):
        return REPLICATION_DELAY + REPLICATION_RANDOMIZED_DELAY
    return shortest.interval


@dataclass(frozen=True)
class BackupTarget:
    """How old a dataset's newest snapshot may be, at every site and every repository.

    ``rpo`` is the tightest RPO of the service data the dataset holds and nothing else
    protects (None when there is none); ``floor`` is what its schedule allows. The copies
    need no looser target: the catalog refresh that shows a snapshot at the first repository
    ends the very run that copied it to the others, and ``floor`` already waits for it.
    """

    dataset: str
    rpo: timedelta | None
    floor: timedelta

    @property
    def target(self) -> timedelta:
        """The limit: the RPO, but never tighter than the schedule can meet."""
        return self.floor if self.rpo is None else max(self.rpo, self.floor)

    def is_fresh(self, age_seconds: float | None) -> bool:
        """Whether a snapshot ``age_seconds`` old meets the target (None: no snapshot)."""
        return age_seconds is not None and age_seconds <= self.target.total_seconds()


def get_backup_target(estate: Estate, name: str) -> BackupTarget:
    """``name``'s freshness target, the one rule of ``egov backup status`` and the exporter.

    The RPO counts each database and file tree of a service that the dataset backs up from
    an active primary-site host (a database's or a tree's own ``rpo``, else its service's),
    except a database with a streaming replica at another active site: replication meets
    its RPO, and its dump is held to the schedule. The floor is the schedule's interval and
    randomized delay plus the catalog's lag: status and monitoring see a snapshot only after
    the catalog refresh following it, so a tighter target would cross every cycle and page
    for nothing. A dataset holding no service data (``/etc``) is held to its floor.
    """
    dataset = estate.backup.datasets[name]
    schedule = dataset.schedule or estate.backup.schedule
    floor = schedule.interval + schedule.randomized_delay + get_catalog_lag(estate)
    primary = estate.primary_site
    hosts = {ref.name for ref in get_dataset_hosts(estate, name) if ref.site == primary}
    rpos: list[timedelta] = []
    for service in estate.services.values():
        rpos += [
            database.rpo or service.rpo
            for database in service.data.databases
            if database.host in hosts
            and covers_database(dataset, database.name)
            and not get_remote_replicas(estate, primary, database.host).streaming
        ]
        rpos += [
            files.rpo or service.rpo
            for files in service.data.files
            if files.host in hosts and covers_path(dataset, files.path)
        ]
    return BackupTarget(dataset=name, rpo=min(rpos, default=None), floor=floor)


def get_covering_interval(
    estate: Estate, host: HostRef, *, database: str | None = None, path: str | None = None
) -> timedelta | None:
    """The shortest schedule interval of the datasets backing up ``database`` or ``path``
    from ``host`` (None: nothing backs it up). Judged by selectors, as the checks judge the
    estate as designed."""
    intervals = [
        (dataset.schedule or estate.backup.schedule).interval
        for dataset in estate.backup.datasets.values()
        if is_backed_up_by(dataset, host)
        and (
            (database is not None and database in dataset.databases)
            or (path is not None and covers_path(dataset, path))
        )
    ]
    return min(intervals, default=None)


# --- services -------------------------------------------------------------------------------


def get_recovery_site(estate: Estate, service: str) -> str | None:
    """Where ``service`` fails over to: the first active site it is placed at besides the
    primary (placements list the primary first, then the order to recover in); None when
    no such site exists yet, as for Cà Mau while its second data centre is planned."""
    return next(
        (
            site
            for site in estate.services[service].sites
            if site != estate.primary_site and site in estate.sites and is_active_site(estate, site)
        ),
        None,
    )
