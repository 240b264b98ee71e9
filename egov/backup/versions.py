"""Purging the versions restic's deletes leave behind in a locked, versioned S3 bucket.

In a versioned bucket restic's deletes (``forget`` removing a snapshot file, ``prune`` a
pack, every run its lock file) name no version: S3 only stacks a *delete marker* on the
object, which object lock allows, and restic sees a success. The bytes stay as a noncurrent
version, so without a second step a retention would never free any space. This step runs
after ``forget --prune`` with the same prune key (boto3, ``DeleteObject`` with a
``VersionId``):

- only keys whose newest entry is a delete marker older than ``purge_after`` (the
  retention's ``within``) are purged: a thief's ``forget --prune`` with the replication key
  looks exactly like ours, and leaves that long to notice it and bring everything back
  (``egov backup undelete``);
- a version still locked is refused (AccessDenied). That is not an error: it is counted,
  its key keeps its marker, and a later run purges it once the lock has ended. A refusal of
  a version whose lock has ended (or that has none) is an error: the key lacks
  ``s3:DeleteObjectVersion``.
- the marker goes last, once no version is left under it, or the object would come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from egov.backup.undelete import ObjectVersion, get_object_versions, sort_newest_first
from egov.errors import BackupError


@dataclass(frozen=True)
class PurgePlan:
    """What to delete, version by version: object versions first, then the markers."""

    versions: tuple[ObjectVersion, ...] = ()
    markers: tuple[ObjectVersion, ...] = ()


@dataclass(frozen=True)
class PurgeResult:
    """What the purge removed, and the keys it left because a version is still locked."""

    purged: int = 0
    markers_removed: int = 0
    still_locked: tuple[str, ...] = ()


def make_purge_plan(
    versions: Sequence[ObjectVersion], now: datetime, purge_after: timedelta
) -> PurgePlan:
    """The versions and markers of every key deleted (newest entry a delete marker) at least
    ``purge_after`` before ``now``; keys still visible are never touched."""
    by_key: dict[str, list[ObjectVersion]] = {}
    for version in versions:
        by_key.setdefault(version.key, []).append(version)
    doomed: list[ObjectVersion] = []
    markers: list[ObjectVersion] = []
    for key in sorted(by_key):
        stack = sort_newest_first(by_key[key])
        top = stack[0]
        if not top.delete_marker or now - top.modified < purge_after:
            continue
        doomed += [version for version in stack if not version.delete_marker]
        # the newest marker last: while a version is left, it keeps the object hidden
        markers += [version for version in reversed(stack) if version.delete_marker]
    return PurgePlan(tuple(doomed), tuple(markers))


def is_locked(client: Any, bucket: str, version: ObjectVersion, now: datetime) -> bool:
    """Whether ``version`` is under a retention (either mode) or a legal hold at ``now``.

    Read with HeadObject, which carries both; moto 5.2 answers GetObjectRetention with a 500
    for a version locked by the bucket's default retention.
    """
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
    except ClientError:
        return False
    until = head.get("ObjectLockRetainUntilDate")
    held = head.get("ObjectLockLegalHoldStatus") == "ON"
    return held or (isinstance(until, datetime) and until > now)


def run_purge(client: Any, bucket: str, plan: PurgePlan, now: datetime) -> PurgeResult:
    """Delete the plan's versions, then the markers of the keys left with none.

    A version refused because it is still locked is counted in ``still_locked``; raise
    BackupError on any other refusal (naming the key, never a secret).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    purged = 0
    locked: list[str] = []
    for version in plan.versions:
        try:
            client.delete_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code == "AccessDenied" and is_locked(client, bucket, version, now):
                locked.append(version.key)
                continue
            raise BackupError(
                f"S3 bucket {bucket}: cannot delete version {version.version_id} of "
                f"{version.key}: {code}",
                "the retention key needs s3:DeleteObjectVersion on the bucket",
            ) from None
        except BotoCoreError as error:
            raise BackupError(f"S3 bucket {bucket}: {error}") from None
        purged += 1
    kept = set(locked)
    removed = 0
    for marker in plan.markers:
        if marker.key in kept:
            continue
        try:
            client.delete_object(Bucket=bucket, Key=marker.key, VersionId=marker.version_id)
        except (BotoCoreError, ClientError) as error:
            raise BackupError(
                f"S3 bucket {bucket}: cannot remove the delete marker of {marker.key}: {error}"
            ) from None
        removed += 1
    return PurgeResult(purged, removed, tuple(sorted(kept)))


def run_version_purge(
    client: Any, bucket: str, now: datetime, purge_after: timedelta
) -> PurgeResult:
    """List the bucket's versions, plan (``make_purge_plan``) and purge (``run_purge``)."""
    plan = make_purge_plan(get_object_versions(client, bucket), now, purge_after)
    return run_purge(client, bucket, plan, now)
