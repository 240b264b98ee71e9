"""``egov backup status``: per dataset and site, how fresh the data is against its target.

Pure: it reads only records (catalogs, backups, verifications, restore tests), never a
repository, so it answers in the same time for 10 snapshots or 10 million.

The target of a dataset is the strictest RPO of the service data it covers (a database's or
a file tree's own ``rpo`` over its service's). A database with a streaming replica at
another site meets its RPO by replication, not by backups, so it does not count; with no
covered data the schedule interval is the target. At the repositories snapshots are copied
to, the target cannot be shorter than the replication interval (the policy's schedule).
A dataset is fresh at a site when its *least* recent host there is within target plus a
grace (the schedule's randomized delay and an hour for the run itself): the oldest host
is the one that would lose the most.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from egov.backup.agentconfig import get_retention_host, make_object_lock_days
from egov.backup.datasets import make_dataset_hosts
from egov.inventory.backup import Dataset, RepositoryKind
from egov.inventory.checks import get_dataset_repository
from egov.inventory.model import Estate, ObjectLockMode
from egov.records import (
    BackupRecord,
    CatalogRecord,
    RestoreTestRecord,
    Result,
    VerificationRecord,
)

RUN_ALLOWANCE = timedelta(hours=1)


class DatasetStatus(BaseModel):
    """One dataset at one repository (one site)."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    site: str
    repository: str
    hosts_expected: int
    hosts_present: int
    last_snapshot_at: float | None
    oldest_host_snapshot_at: float | None
    age_seconds: float | None
    target_seconds: float
    fresh: bool
    last_backup_result: str | None = None
    catalog_refreshed_at: float | None = None
    verified_at: float | None = None
    restore_tested_at: float | None = None
    restore_test_result: str | None = None
    size_bytes: int | None = None
    repository_size_bytes: int | None = None


def _has_remote_replica(estate: Estate, host: str) -> bool:
    primary = estate.primary_site
    pending = [(primary, host)]
    seen: set[tuple[str, str]] = set()
    while pending:
        current = pending.pop()
        seen.add(current)
        for ref in estate.iter_hosts():
            upstream = ref.host.upstream
            if upstream is None or (ref.site, ref.name) in seen:
                continue
            site, _, name = upstream.rpartition("/")
            if (site or ref.site, name) == current:
                if ref.site != primary:
                    return True
                pending.append((ref.site, ref.name))
    return False


def get_dataset_target(estate: Estate, name: str, dataset: Dataset) -> timedelta:
    """The RPO a dataset's backups must meet at its own repository (see module doc)."""
    hosts = {(ref.site, ref.name) for ref in make_dataset_hosts(estate, name)}
    primary = estate.primary_site
    targets = []
    for service in estate.services.values():
        for database in service.data.databases:
            if (
                database.name in dataset.databases
                and (primary, database.host) in hosts
                and not _has_remote_replica(estate, database.host)
            ):
                targets.append(database.rpo or service.rpo)
        for files in service.data.files:
            covered = any(
                files.path == root or files.path.startswith(root.rstrip("/") + "/")
                for root in dataset.paths
            )
            if covered and (primary, files.host) in hosts:
                targets.append(files.rpo or service.rpo)
    schedule = dataset.schedule or estate.backup.schedule
    return min(targets, default=schedule.interval)


def make_status(
    estate: Estate,
    catalogs: Sequence[CatalogRecord],
    backups: Sequence[BackupRecord],
    verifications: Sequence[VerificationRecord],
    restores: Sequence[RestoreTestRecord],
    now: float,
) -> list[DatasetStatus]:
    """One row per dataset and repository it should be in, in inventory order."""
    catalog_by_name = {catalog.repository: catalog for catalog in catalogs}
    verified = {record.repository: record.last_success_at for record in verifications}
    restored = {(record.dataset, record.repository): record for record in restores}
    backups_by_dataset: dict[str, list[BackupRecord]] = {}
    for record in backups:
        backups_by_dataset.setdefault(record.dataset, []).append(record)
    rows = []
    for name, dataset in estate.backup.datasets.items():
        own = get_dataset_repository(estate, dataset)
        if own is None:
            continue
        repositories = [own] + [r for r in estate.backup.replication if r != own]
        hosts = [ref.qualified_name for ref in make_dataset_hosts(estate, name)]
        schedule = dataset.schedule or estate.backup.schedule
        base_target = get_dataset_target(estate, name, dataset)
        grace = schedule.randomized_delay + RUN_ALLOWANCE
        mine = backups_by_dataset.get(name, [])
        for repository in repositories:
            if repository not in estate.backup.repositories:
                continue
            site = estate.backup.repositories[repository].site
            target = base_target
            if repository != own:
                target = max(target, estate.backup.schedule.interval)
            catalog = catalog_by_name.get(repository)
            latest = catalog.latest.get(name, {}) if catalog else {}
            times = [latest[host].time for host in hosts if host in latest]
            oldest = min(times) if len(times) == len(hosts) and times else None
            age = now - oldest if oldest is not None else None
            test = restored.get((name, repository))
            rows.append(
                DatasetStatus(
                    dataset=name,
                    site=site,
                    repository=repository,
                    hosts_expected=len(hosts),
                    hosts_present=len(times),
                    last_snapshot_at=max(times) if times else None,
                    oldest_host_snapshot_at=oldest,
                    age_seconds=age,
                    target_seconds=target.total_seconds(),
                    fresh=age is not None and age <= (target + grace).total_seconds(),
                    last_backup_result=_last_result(mine) if repository == own else None,
                    catalog_refreshed_at=catalog.refreshed_at if catalog else None,
                    verified_at=verified.get(repository),
                    restore_tested_at=test.tested_at if test else None,
                    restore_test_result=test.result.value if test else None,
                    size_bytes=sum(record.bytes_processed for record in mine) or None,
                    repository_size_bytes=catalog.size_bytes if catalog else None,
                )
            )
    return rows


def _last_result(records: Sequence[BackupRecord]) -> str | None:
    """``success`` when every host's last run succeeded, else ``failure``."""
    if not records:
        return None
    ok = all(record.result is Result.SUCCESS for record in records)
    return Result.SUCCESS.value if ok else Result.FAILURE.value


def make_protection_notes(estate: Estate) -> list[str]:
    """What protects each S3 repository from a thief with its clients' keys, and what that
    protection depends on: one sentence per repository, in inventory order."""
    notes = []
    days = make_object_lock_days(estate.backup.retention)
    for name, repository in estate.backup.repositories.items():
        if repository.kind is not RepositoryKind.S3:
            continue
        store = estate.sites[repository.site].object_store
        mode = store.object_lock if store else ObjectLockMode.COMPLIANCE
        if mode is ObjectLockMode.COMPLIANCE:
            note = (
                f"{name}: COMPLIANCE object lock, {days} d: no key can delete a version "
                "younger than that"
            )
        elif mode is ObjectLockMode.GOVERNANCE:
            note = (
                f"{name}: GOVERNANCE object lock, {days} d: the protection depends on the "
                "bucket policy denying the replication key s3:BypassGovernanceRetention and "
                f"s3:DeleteObjectVersion (egov backup bucket-policy --repository {name})"
            )
        else:
            note = (
                f"{name}: NO object lock: versioning alone; a key with delete rights can "
                "destroy the backups"
            )
        host = get_retention_host(estate, name)
        retention = f"retention on {host.qualified_name}" if host else "NO retention (no prune key)"
        notes.append(f"{note}; {retention}")
    return notes
