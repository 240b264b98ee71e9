"""The status verdict: pure, from records only."""

from __future__ import annotations

from datetime import timedelta

from egov.backup.freshness import make_protection_notes, make_status
from egov.inventory.derive import get_backup_target
from egov.inventory.model import Estate, ObjectLockMode
from egov.records import BackupRecord, CatalogRecord, LatestSnapshot, Result

NOW = 1_800_000_000.0


def catalog(repository: str, site: str, latest: dict[str, dict[str, float]]) -> CatalogRecord:
    return CatalogRecord(
        repository=repository,
        site=site,
        refreshed_at=NOW,
        result=Result.SUCCESS,
        snapshot_count=10,
        size_bytes=1000,
        latest={
            dataset: {host: LatestSnapshot(id="ab" * 32, time=time) for host, time in hosts.items()}
            for dataset, hosts in latest.items()
        },
    )


def test_files_target_is_the_strictest_covered_rpo(lab: Estate) -> None:
    # the lab's file trees' rpo (10m: what site 2's copies of a 5-minute schedule can hold)
    target = get_backup_target(lab, "files")
    assert target.rpo == timedelta(minutes=10)
    assert target.target == timedelta(minutes=10)


def test_replicated_database_falls_back_to_the_schedule(lab: Estate) -> None:
    # portal's 5 s RPO is met by the site-2 streaming replica, not by the nightly dump:
    # the day, its 5-minute delay and the catalog refresh (every 5 minutes, as the files)
    target = get_backup_target(lab, "databases")
    assert target.rpo is None
    assert target.target == timedelta(days=1, minutes=10)


def test_fresh_at_primary_and_stale_where_a_copy_is_missing(lab: Estate) -> None:
    fresh = {"databases": {"primary-db-01": NOW - 3600}}
    rows = make_status(
        lab,
        [catalog("primary", "primary", fresh), catalog("vnpt", "vnpt", {})],
        [],
        [],
        [],
        NOW,
    )
    by_site = {(row.dataset, row.site): row for row in rows}
    assert by_site[("databases", "primary")].fresh
    assert by_site[("databases", "primary")].age_seconds == 3600
    assert not by_site[("databases", "vnpt")].fresh
    assert by_site[("databases", "site2")].catalog_refreshed_at is None


def test_a_dataset_on_every_host_is_as_old_as_its_oldest_host(lab: Estate) -> None:
    hosts = [ref.qualified_name for ref in lab.iter_hosts()]
    latest = {"etc": dict.fromkeys(hosts, NOW - 600) | {hosts[0]: NOW - 5 * 86400}}
    row = next(
        row
        for row in make_status(lab, [catalog("primary", "primary", latest)], [], [], [], NOW)
        if row.dataset == "etc" and row.site == "primary"
    )
    assert row.hosts_present == row.hosts_expected == len(hosts)
    assert row.age_seconds == 5 * 86400
    assert not row.fresh


def test_last_backup_result_reports_any_failing_host(lab: Estate) -> None:
    record = BackupRecord(
        dataset="files", host="primary-store-01", site="primary", repository="primary",
        started_at=NOW, finished_at=NOW, result=Result.FAILURE, error="boom",
    )  # fmt: skip
    row = next(row for row in make_status(lab, [], [record], [], [], NOW) if row.dataset == "files")
    assert row.last_backup_result == "failure"
    assert row.age_seconds is None and not row.fresh


def test_status_says_what_the_vnpt_protection_depends_on(lab: Estate) -> None:
    (note,) = make_protection_notes(lab)
    assert note.startswith("vnpt: COMPLIANCE object lock, 2 d") and "vnpt-s3-01" in note
    store = lab.sites["vnpt"].object_store
    assert store is not None
    governed = store.model_copy(update={"object_lock": ObjectLockMode.GOVERNANCE})
    sites = dict(lab.sites)
    sites["vnpt"] = sites["vnpt"].model_copy(update={"object_store": governed})
    (note,) = make_protection_notes(lab.model_copy(update={"sites": sites}))
    assert "GOVERNANCE" in note and "depends on the bucket policy" in note
    assert "egov backup bucket-policy --repository vnpt" in note
