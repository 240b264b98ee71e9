"""The WAL archive's facts, derived once from the inventory: which Barman server archives which
cluster on which host, under what names, with what retention.

Barman runs on each archive host and *pulls*: it streams WAL from the primary through a
replication slot of its own (``pg_receivewal``) and takes base backups with
``pg_basebackup`` (``backup_method = postgres``). The primary only grants the ``egov_archive``
role replication and the backup functions; it holds no key, password or account on an archive
host, so nothing on the database host can reach what was archived, let alone delete it.
Barman was chosen over pgBackRest for that reason: pgBackRest's WAL archiving is always a push
from the database host (``archive-push``) into a repository that host can also write and
remove from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from egov.inventory import derive
from egov.inventory.backup import Dataset, Retention, Schedule
from egov.inventory.model import Estate, HostRef

#: The PostgreSQL role Barman connects as, for streaming and for the backup functions.
ARCHIVE_ROLE = "egov_archive"
#: Debian's barman package: its home holds each server's backups and WAL.
BARMAN_USER = "barman"
BARMAN_HOME = "/var/lib/barman"
BARMAN_CONFIG_DIRECTORY = "/etc/barman.d"
BARMAN_PASSFILE = f"{BARMAN_HOME}/.pgpass"
#: ``barman cron`` starts ``receive-wal``, files streamed segments and applies retention.
CRON_UNIT = "egov-barman-cron"
#: One per server: ``barman receive-wal``, always on.
RECEIVE_UNIT = "egov-barman-receive-wal"
#: Base backups of every server of the host, on the dataset's archive schedule.
BACKUP_UNIT = "egov-barman-backup"
#: Privileges Barman's ``postgres`` backup method and ``barman check`` need (Barman's docs:
#: "Preliminary steps" for PostgreSQL 15), short of a superuser.
ARCHIVE_GRANTS: tuple[str, ...] = (
    "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO egov_archive;",
    "GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO egov_archive;",
    "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO egov_archive;",
    "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO egov_archive;",
    "GRANT pg_read_all_settings TO egov_archive;",
    "GRANT pg_read_all_stats TO egov_archive;",
)


@dataclass(frozen=True)
class ArchivedCluster:
    """One cluster archived on one archive host: a Barman server there."""

    dataset: str
    cluster: HostRef
    archive_host: HostRef
    rpo: timedelta
    schedule: Schedule
    #: the secret reference of the archive role's password (never the password)
    password: str

    @property
    def server(self) -> str:
        """Barman's server name: ``databases-primary-db-01``."""
        return f"{self.dataset}-{self.cluster.site}-{self.cluster.name}"

    @property
    def slot(self) -> str:
        """The replication slot this archive host streams through (one per archive host, so a
        host that is away holds back only its own WAL)."""
        return "egov_archive_" + self.archive_host.qualified_name.replace("-", "_")


def get_archived_clusters(estate: Estate) -> list[ArchivedCluster]:
    """Every (cluster, archive host) pair, datasets and hosts in inventory order.

    The archived clusters are the dataset's hosts with the ``db`` role: the primary of each
    chain (its replicas hold the same data).
    """
    pairs = []
    for name, dataset in estate.backup.datasets.items():
        archive = dataset.archive
        if archive is None:
            continue
        clusters = [
            ref
            for selector in dataset.hosts
            for ref in derive.resolve_host_selector(estate, selector)
            if "db" in ref.host.roles
        ]
        for selector in archive.hosts:
            for host in derive.resolve_host_selector(estate, selector):
                for cluster in clusters:
                    pairs.append(
                        ArchivedCluster(
                            name,
                            cluster,
                            host,
                            archive.rpo,
                            archive.schedule or estate.backup.schedule,
                            archive.password,
                        )
                    )
    return pairs


def get_host_archives(estate: Estate, ref: HostRef) -> list[ArchivedCluster]:
    """The Barman servers ``ref`` runs (empty for a host that archives nothing)."""
    return [pair for pair in get_archived_clusters(estate) if pair.archive_host == ref]


def get_cluster_archives(estate: Estate, ref: HostRef) -> list[ArchivedCluster]:
    """The archive hosts that pull from ``ref``'s replication chain.

    Every member of the chain gets the same client rules (after a promotion any of them is the
    primary), so this is keyed by the chain's root.
    """
    root = derive.get_replication_root(estate, ref)
    return [pair for pair in get_archived_clusters(estate) if pair.cluster == root]


def get_site_archive(estate: Estate, ref: HostRef, site: str | None) -> ArchivedCluster | None:
    """The archive of ``ref``'s replication chain on a host at ``site`` (None: none there):
    a point-in-time recovery at that site needs nothing from the others."""
    pairs = get_cluster_archives(estate, ref)
    return next((pair for pair in pairs if pair.archive_host.site == site), None)


def get_dataset_archives(estate: Estate, dataset: str) -> list[ArchivedCluster]:
    """The Barman servers of one dataset, archive hosts in inventory order."""
    return [pair for pair in get_archived_clusters(estate) if pair.dataset == dataset]


def get_archive_timeout(estate: Estate, ref: HostRef) -> timedelta | None:
    """``archive_timeout`` of ``ref``'s chain: the tightest archive RPO, or None (no archive)."""
    rpos = [pair.rpo for pair in get_cluster_archives(estate, ref)]
    return min(rpos) if rpos else None


def make_retention_policy(retention: Retention) -> str:
    """Barman's ``retention_policy`` from the backup retention: a recovery window as long as
    the daily snapshots reach (and at least ``within``). Points in time older than that are
    the dumps' job, kept by the weekly/monthly/yearly counts."""
    days = max(retention.daily, math.ceil(retention.within / timedelta(days=1)), 1)
    return f"RECOVERY WINDOW OF {days} DAYS"


def make_server_config(
    pair: ArchivedCluster, postgres_version: int, dataset: Dataset, retention: Retention
) -> str:
    """The Barman server file ``/etc/barman.d/<server>.conf``; it holds no password (the
    password is in barman's ``.pgpass``, 0600)."""
    address = pair.cluster.host.address
    databases = ", ".join(dataset.databases)
    return "\n".join(
        [
            "; Written by egov deploy from the inventory; local edits are overwritten.",
            f"[{pair.server}]",
            f"description = {pair.dataset} ({databases}) of {pair.cluster.selector}",
            f"conninfo = host={address} port=5432 user={ARCHIVE_ROLE} dbname=postgres",
            f"streaming_conninfo = host={address} port=5432 user={ARCHIVE_ROLE}",
            "backup_method = postgres",
            "streaming_archiver = on",
            "archiver = off",
            f"slot_name = {pair.slot}",
            "create_slot = auto",
            f"path_prefix = /usr/lib/postgresql/{postgres_version}/bin",
            f"retention_policy = {make_retention_policy(retention)}",
            "wal_retention_policy = main",
            "minimum_redundancy = 1",
            "",
        ]
    )


def make_passfile(pairs: list[ArchivedCluster], read: Callable[[str], str]) -> str:
    """barman's ``.pgpass``: the archive role's password for each archived cluster; ``read``
    turns a secret reference into the secret."""
    lines = {
        f"{pair.cluster.host.address}:5432:*:{ARCHIVE_ROLE}:{read(pair.password)}\n": None
        for pair in pairs
    }
    return "".join(lines)
