"""Undelete a restic repository kept in a versioned S3 bucket.

With versioning on, deleting an object without naming a version only stacks a *delete
marker* on it; object lock then refuses to delete the versions themselves (COMPLIANCE to
every key; GOVERNANCE only once the bucket policy denies the bypass, see ``bucket.py``). So
whoever holds the replication job's keys (a thief, a mistaken ``forget --prune``) can hide
snapshots but not destroy them, and removing the markers brings every object back as it was. restic
never overwrites an object (names are content hashes), so the version under the markers is
the one restic wrote.

The plan is pure (``make_undelete_plan`` over ``list_object_versions`` pages): for each key
whose newest versions are delete markers placed since ``since``, remove those markers.
restic's ``locks/`` stay deleted (bringing back a lock would block the repository), and so
does an object deleted before ``since``. Objects written since (a prune's new index or
packs) are left alone: restic reads duplicates fine, and ``restic check`` only hints at them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from egov.errors import BackupError

LOCKS_PREFIX = "locks/"


@dataclass(frozen=True)
class ObjectVersion:
    """One entry of ``list_object_versions``: an object version or a delete marker."""

    key: str
    version_id: str
    modified: datetime
    latest: bool
    delete_marker: bool


@dataclass(frozen=True)
class UndeletePlan:
    """The delete markers to remove, and what stays deleted and why."""

    markers: tuple[ObjectVersion, ...] = ()
    #: keys that come back once their markers are gone
    restored: tuple[str, ...] = ()
    #: restic lock files deleted since: left deleted on purpose
    locks: tuple[str, ...] = ()
    #: keys deleted since whose every version is gone: nothing to bring back
    lost: tuple[str, ...] = ()


def parse_versions(pages: Iterable[Mapping[str, Any]]) -> list[ObjectVersion]:
    """The versions and delete markers of ``list_object_versions`` response pages.

    Example page: ``{"Versions": [{"Key": "config", "VersionId": "v1", "IsLatest": True,
    "LastModified": datetime(…)}], "DeleteMarkers": […]}``.
    """
    found = []
    for page in pages:
        for field, marker in (("Versions", False), ("DeleteMarkers", True)):
            for entry in page.get(field, ()):
                found.append(
                    ObjectVersion(
                        key=str(entry["Key"]),
                        version_id=str(entry["VersionId"]),
                        modified=entry["LastModified"],
                        latest=bool(entry.get("IsLatest", False)),
                        delete_marker=marker,
                    )
                )
    return found


def sort_newest_first(versions: Sequence[ObjectVersion]) -> list[ObjectVersion]:
    """One key's versions and markers, the newest (the one S3 serves) first."""
    # S3 lists a key's versions newest first; sorting keeps that order within a second
    # (LastModified has second resolution on some stores), and IsLatest settles the top.
    ordered = sorted(versions, key=lambda version: version.modified, reverse=True)
    return sorted(ordered, key=lambda version: not version.latest)


def make_undelete_plan(
    versions: Sequence[ObjectVersion], since: datetime | None = None
) -> UndeletePlan:
    """Which delete markers to remove so that every object deleted since ``since`` (ever,
    when None) is visible again; see the module's docstring for what stays deleted."""
    by_key: dict[str, list[ObjectVersion]] = {}
    for version in versions:
        by_key.setdefault(version.key, []).append(version)
    markers: list[ObjectVersion] = []
    restored: list[str] = []
    locks: list[str] = []
    lost: list[str] = []
    for key in sorted(by_key):
        stack = sort_newest_first(by_key[key])
        recent = []
        for version in stack:
            if not version.delete_marker or (since is not None and version.modified < since):
                break
            recent.append(version)
        if not recent:
            continue
        below = stack[len(recent)] if len(recent) < len(stack) else None
        if key.startswith(LOCKS_PREFIX):
            locks.append(key)
        elif below is None:
            lost.append(key)
        elif not below.delete_marker:
            markers += recent
            restored.append(key)
    return UndeletePlan(tuple(markers), tuple(restored), tuple(locks), tuple(lost))


def get_object_versions(client: Any, bucket: str, prefix: str = "") -> list[ObjectVersion]:
    """Every object version and delete marker under ``prefix`` (boto3, paginated).

    Raise BackupError when the bucket cannot be listed.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        paginator = client.get_paginator("list_object_versions")
        return parse_versions(paginator.paginate(Bucket=bucket, Prefix=prefix))
    except (BotoCoreError, ClientError) as error:
        raise BackupError(
            f"S3 bucket {bucket}: cannot list object versions: {error}",
            "check the endpoint and the S3 keys",
        ) from None


def run_undelete(client: Any, bucket: str, plan: UndeletePlan) -> int:
    """Remove the plan's delete markers; return how many. Raise BackupError on a refusal."""
    from botocore.exceptions import BotoCoreError, ClientError

    for marker in plan.markers:
        try:
            client.delete_object(Bucket=bucket, Key=marker.key, VersionId=marker.version_id)
        except (BotoCoreError, ClientError) as error:
            raise BackupError(
                f"S3 bucket {bucket}: cannot remove the delete marker of {marker.key}: {error}",
                "the keys may lack s3:DeleteObjectVersion; ask the store's administrator",
            ) from None
    return len(plan.markers)
