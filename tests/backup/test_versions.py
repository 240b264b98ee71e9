"""Purging the versions behind restic's deletes: the pure plan, then moto on loopback."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from egov.backup.bucket import ensure_bucket, make_s3_client
from egov.backup.undelete import ObjectVersion, get_object_versions
from egov.backup.versions import make_purge_plan, run_purge, run_version_purge
from tests.backup.conftest import make_s3

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def version(key: str, hours: float, *, marker: bool = False, latest: bool = False) -> ObjectVersion:
    return ObjectVersion(key, f"{key}@{hours}", at(hours), latest, marker)


def test_only_keys_deleted_longer_ago_than_purge_after_are_planned() -> None:
    versions = [
        version("data/old", 0),
        version("data/old", 10, marker=True, latest=True),  # deleted 2 days before now
        version("data/recent", 0),
        version("data/recent", 50, marker=True, latest=True),  # deleted 8 h before now
        version("data/live", 0, latest=True),  # visible: never touched
        version("snapshots/undeleted", 0, latest=True),
    ]
    plan = make_purge_plan(versions, now=at(58), purge_after=timedelta(hours=24))
    assert [v.version_id for v in plan.versions] == ["data/old@0"]
    assert [v.version_id for v in plan.markers] == ["data/old@10"]


def test_the_newest_marker_goes_last() -> None:
    versions = [
        version("k", 0),
        version("k", 1, marker=True),
        version("k", 2),
        version("k", 3, marker=True, latest=True),
    ]
    plan = make_purge_plan(versions, now=at(100), purge_after=timedelta(0))
    assert [v.version_id for v in plan.versions] == ["k@2", "k@0"]
    assert [v.version_id for v in plan.markers] == ["k@1", "k@3"]


def test_a_locked_version_is_not_an_error_and_keeps_its_marker(
    moto_server: str, secrets_dir: Path
) -> None:
    client = make_s3_client(make_s3(moto_server, secrets_dir, "egov-purge"))
    ensure_bucket(client, "egov-purge", lock_days=1)  # COMPLIANCE, one day
    soon = datetime.now(UTC) + timedelta(seconds=2)
    client.put_object(Bucket="egov-purge", Key="data/locked", Body=b"still locked")
    client.put_object(  # a lock that ends in two seconds: a version the purge may take
        Bucket="egov-purge",
        Key="data/expiring",
        Body=b"lock ends soon",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=soon,
    )
    client.put_object(Bucket="egov-purge", Key="config", Body=b"kept")
    for key in ("data/locked", "data/expiring"):
        client.delete_object(Bucket="egov-purge", Key=key)  # what restic's prune does
    now = datetime.now(UTC)
    early = run_version_purge(client, "egov-purge", now, timedelta(0))
    assert early.purged == 0 and early.markers_removed == 0
    assert early.still_locked == ("data/expiring", "data/locked")
    time.sleep(max((soon - datetime.now(UTC)).total_seconds(), 0) + 1.5)
    later = run_version_purge(client, "egov-purge", datetime.now(UTC), timedelta(0))
    assert (later.purged, later.markers_removed, later.still_locked) == (1, 1, ("data/locked",))
    left = {(v.key, v.delete_marker) for v in get_object_versions(client, "egov-purge")}
    assert left == {("config", False), ("data/locked", False), ("data/locked", True)}


def test_a_recent_deletion_is_left_for_undelete(moto_server: str, secrets_dir: Path) -> None:
    client = make_s3_client(make_s3(moto_server, secrets_dir, "egov-purge-recent"))
    client.create_bucket(Bucket="egov-purge-recent")
    client.put_bucket_versioning(
        Bucket="egov-purge-recent", VersioningConfiguration={"Status": "Enabled"}
    )
    client.put_object(Bucket="egov-purge-recent", Key="snapshots/s1", Body=b"s")
    client.delete_object(Bucket="egov-purge-recent", Key="snapshots/s1")
    stored = get_object_versions(client, "egov-purge-recent")
    plan = make_purge_plan(stored, datetime.now(UTC), timedelta(days=2))
    assert plan.versions == plan.markers == ()
    result = run_purge(client, "egov-purge-recent", plan, datetime.now(UTC))
    assert result.purged == 0 and len(get_object_versions(client, "egov-purge-recent")) == 2
