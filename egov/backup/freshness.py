"""``egov backup status``: per dataset and site, how fresh the data is against its target.

It reads only records (catalogs, backups, verifications, restore tests, ``load_status``
reads them from the state directory), never a repository, so it answers in the same time
for 10 snapshots or 10 million; ``make_status`` is pure.

The target, the hosts a dataset covers and the repositories holding it are the inventory's
derived facts (``egov.inventory.derive``), the exporter's own: status and monitoring cannot
disagree on what is fresh. A dataset is fresh at a repository when its *least* recent host
is within the target: the oldest host is the one that would lose the most. Hosts at a
planned site are not expected (they run nothing yet); a dataset with no active host has no
row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from egov.backup.agentconfig import get_retention_host, make_object_lock_days
from egov.inventory.backup import RepositoryKind
from egov.inventory.derive import get_backup_target, get_dataset_hosts, get_repository_order
from egov.inventory.model import Estate, ObjectLockMode
from egov.records import (
    BackupRecord,
    CatalogRecord,
    RestoreTestRecord,
    Result,
    VerificationRecord,
    read_records,
)


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
        repositories = get_repository_order(estate, dataset)
        hosts = [ref.qualified_name for ref in get_dataset_hosts(estate, name)]
        if not repositories or not hosts:
            continue
        target = get_backup_target(estate, name)
        mine = backups_by_dataset.get(name, [])
        own = repositories[0]
        for repository in repositories:
            if repository not in estate.backup.repositories:
                continue
            site = estate.backup.repositories[repository].site
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
                    target_seconds=target.target.total_seconds(),
                    fresh=target.is_fresh(age),
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


def load_status(estate: Estate, state_dir: Path, now: float) -> list[DatasetStatus]:
    """The status rows from the records in ``state_dir`` (no repository is listed)."""
    return make_status(
        estate,
        read_records(CatalogRecord, state_dir),
        read_records(BackupRecord, state_dir),
        read_records(VerificationRecord, state_dir),
        read_records(RestoreTestRecord, state_dir),
        now,
    )


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
