"""Undelete: the plan over literal version listings, then for real on moto with object lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from egov.backup.bucket import ensure_bucket, make_s3_client
from egov.backup.undelete import (
    ObjectVersion,
    get_object_versions,
    make_undelete_plan,
    parse_versions,
    run_undelete,
)
from tests.backup.conftest import make_s3

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def version(key: str, minutes: int, *, marker: bool = False, latest: bool = False) -> ObjectVersion:
    return ObjectVersion(key, f"{key}@{minutes}", at(minutes), latest, marker)


def test_markers_placed_since_are_removed_and_their_objects_come_back() -> None:
    plan = make_undelete_plan(
        [
            version("snapshots/a", 0),
            version("snapshots/a", 10, marker=True, latest=True),
            version("data/00/p", 0),
            version("data/00/p", 11, marker=True),
            version("data/00/p", 12, marker=True, latest=True),
            version("index/i", 0, latest=True),
        ],
        since=at(5),
    )
    assert [(m.key, m.modified) for m in plan.markers] == [
        ("data/00/p", at(12)),
        ("data/00/p", at(11)),
        ("snapshots/a", at(10)),
    ]
    assert plan.restored == ("data/00/p", "snapshots/a")
    assert plan.locks == plan.lost == ()


def test_deletions_before_since_locks_and_lost_objects_stay_deleted() -> None:
    plan = make_undelete_plan(
        [
            version("snapshots/old", 0),
            version("snapshots/old", 2, marker=True, latest=True),
            version("locks/l", 6),
            version("locks/l", 7, marker=True, latest=True),
            version("index/gone", 8, marker=True, latest=True),
        ],
        since=at(5),
    )
    assert plan.markers == plan.restored == ()
    assert plan.locks == ("locks/l",)
    assert plan.lost == ("index/gone",)
    # without since, every deletion counts
    assert make_undelete_plan([version("k", 0), version("k", 2, marker=True)]).restored == ("k",)


def test_the_latest_flag_wins_over_a_tie_in_time() -> None:
    plan = make_undelete_plan(
        [version("k", 3, marker=True, latest=True), version("k", 3), version("k", 1)], at(0)
    )
    assert [m.version_id for m in plan.markers] == ["k@3"]
    assert plan.markers[0].delete_marker


def test_parse_reads_versions_and_markers() -> None:
    page = {
        "Versions": [{"Key": "config", "VersionId": "v1", "IsLatest": False, "LastModified": T0}],
        "DeleteMarkers": [
            {"Key": "config", "VersionId": "m1", "IsLatest": True, "LastModified": at(1)}
        ],
    }
    assert parse_versions([page, {}]) == [
        ObjectVersion("config", "v1", T0, False, False),
        ObjectVersion("config", "m1", at(1), True, True),
    ]


def test_locked_versions_survive_deletes_and_come_back(moto_server: str, secrets_dir: Path) -> None:
    client = make_s3_client(make_s3(moto_server, secrets_dir, "egov-undelete"))
    assert ensure_bucket(client, "egov-undelete", lock_days=1).object_lock
    for key in ("config", "snapshots/s1", "locks/l1"):
        client.put_object(Bucket="egov-undelete", Key=key, Body=key.encode())
    since = datetime.now(UTC) - timedelta(seconds=1)
    for key in ("snapshots/s1", "locks/l1"):
        client.delete_object(Bucket="egov-undelete", Key=key)
    stored = get_object_versions(client, "egov-undelete")
    real = next(v for v in stored if v.key == "snapshots/s1" and not v.delete_marker)
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket="egov-undelete", Key=real.key, VersionId=real.version_id)
    plan = make_undelete_plan(stored, since)
    assert (plan.restored, plan.locks) == (("snapshots/s1",), ("locks/l1",))
    assert run_undelete(client, "egov-undelete", plan) == 1
    body = client.get_object(Bucket="egov-undelete", Key="snapshots/s1")["Body"].read()
    assert body == b"snapshots/s1"
    with pytest.raises(ClientError):
        client.head_object(Bucket="egov-undelete", Key="locks/l1")
