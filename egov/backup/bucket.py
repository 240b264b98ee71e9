"""The S3 bucket of a repository, set up and inspected with boto3.

restic creates a missing bucket bare; egov creates it first, with versioning on and object
lock where the endpoint offers it: a default retention keeps every new object version for
``lock_days``, in the mode the inventory's object store names (``object_lock``):

- ``compliance`` (the default): no key can delete a locked version or shorten its lock, not
  even with ``x-amz-bypass-governance-retention``: the replication key can hide objects
  behind delete markers but not destroy them.
- ``governance``: a key allowed ``s3:BypassGovernanceRetention`` deletes locked versions at
  will. The protection then depends on the bucket policy ``make_bucket_policy`` writes, which
  the province applies with the bucket owner's key (egov never holds that key).
- ``none``: versioning alone; deleted objects stay as old versions, but a key with delete
  rights could purge those.

A bucket's default retention can be changed in place (S3 ``PutObjectLockConfiguration``), so
the deploy moves an existing bucket to the inventory's mode and days; versions written before
keep the mode they were locked with until their own lock ends (at most ``lock_days``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from egov.backup.repositories import RepositoryConfig
from egov.errors import BackupError
from egov.inventory.model import ObjectLockMode
from egov.secrets import read_secret

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class BucketReport:
    """What the bucket set-up found or did; warnings do not stop backups."""

    bucket: str
    created: bool
    versioning: bool
    object_lock: bool
    #: the default retention's mode as found or set (``COMPLIANCE``, ``GOVERNANCE``), if any
    mode: str | None = None
    warnings: tuple[str, ...] = ()


def make_s3_client(config: RepositoryConfig) -> Any:
    """A boto3 S3 client for the repository's endpoint, path-style (S3-compatible stores)."""
    import boto3
    from botocore.config import Config

    endpoint, _, _bucket = config.location.removeprefix("s3:").rpartition("/")
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=config.region,
        aws_access_key_id=read_secret(config.access_key or ""),
        aws_secret_access_key=read_secret(config.secret_key or ""),
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3},
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        ),
    )


def get_bucket_name(config: RepositoryConfig) -> str:
    """The bucket of an S3 location ``s3:http://host:9000/bucket``."""
    return config.location.rstrip("/").rpartition("/")[2]


def ensure_bucket(
    client: Any,
    bucket: str,
    lock_days: int,
    mode: ObjectLockMode = ObjectLockMode.COMPLIANCE,
) -> BucketReport:
    """Create ``bucket`` (object lock in ``mode`` where offered) and switch versioning on.

    An existing bucket is checked, never recreated; its default retention is set to ``mode``
    and ``lock_days``. Raise BackupError when the endpoint cannot be reached or refuses
    versioning (without it, a client could destroy data).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    warnings: list[str] = []
    created = False
    try:
        if not _bucket_exists(client, bucket):
            try:
                client.create_bucket(
                    Bucket=bucket, ObjectLockEnabledForBucket=mode is not ObjectLockMode.NONE
                )
            except ClientError:
                client.create_bucket(Bucket=bucket)
            created = True
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
        found = None
        if mode is not ObjectLockMode.NONE:
            found = _ensure_object_lock(client, bucket, lock_days, mode, warnings)
    except (BotoCoreError, ClientError) as error:
        raise BackupError(
            f"S3 bucket {bucket}: {error}", "check the endpoint and the S3 keys"
        ) from None
    if not versioning:
        raise BackupError(f"S3 bucket {bucket}: versioning could not be enabled")
    if found is None:
        why = "none in the inventory" if mode is ObjectLockMode.NONE else "the endpoint has none"
        warnings.append(
            f"S3 bucket {bucket}: no object lock ({why}); "
            "deleted objects stay as old versions, but a key with delete rights could still "
            "purge them"
        )
    elif found == "GOVERNANCE":
        warnings.append(
            f"S3 bucket {bucket}: GOVERNANCE object lock: a key allowed "
            "s3:BypassGovernanceRetention can delete locked versions; the protection holds "
            "only once the province applies the bucket policy of `egov backup bucket-policy`"
        )
    return BucketReport(bucket, created, versioning, found is not None, found, tuple(warnings))


def _bucket_exists(client: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def _ensure_object_lock(
    client: Any, bucket: str, lock_days: int, mode: ObjectLockMode, warnings: list[str]
) -> str | None:
    """The bucket's default retention mode once set to ``mode``/``lock_days``; None when the
    bucket has no object lock and cannot get one."""
    from botocore.exceptions import ClientError

    wanted_mode = mode.value.upper()
    wanted = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": wanted_mode, "Days": max(lock_days, 1)}},
    }
    try:
        current = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError:
        current = {}
    configuration = current.get("ObjectLockConfiguration", {})
    enabled = configuration.get("ObjectLockEnabled") == "Enabled"
    default = configuration.get("Rule", {}).get("DefaultRetention", {})
    previous = default.get("Mode")
    # compared field by field: stores add their own (moto answers "Years": 0 too)
    if enabled and previous == wanted_mode and default.get("Days") == max(lock_days, 1):
        return wanted_mode
    try:
        # AWS switches lock on for an existing versioned bucket; other stores (moto) only
        # for an empty one, and a bucket restic created before has objects: then no lock.
        client.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=wanted)
    except ClientError as error:
        if not enabled:
            return None
        warnings.append(
            f"S3 bucket {bucket}: the default retention could not be set to {wanted_mode} "
            f"for {max(lock_days, 1)} days ({error}); it stays {previous}"
        )
        return str(previous) if previous else None
    if previous and previous != wanted_mode:
        warnings.append(
            f"S3 bucket {bucket}: default retention changed from {previous} to {wanted_mode}; "
            f"versions written before keep their {previous} lock until it ends "
            f"(at most {max(lock_days, 1)} days after they were written)"
        )
    return wanted_mode


def ensure_s3_bucket(
    config: RepositoryConfig, lock_days: int, mode: ObjectLockMode | None = None
) -> BucketReport:
    """Set up the bucket of S3 repository ``config`` (see ``ensure_bucket``), in ``mode`` or
    the repository's own (``config.object_lock``)."""
    return ensure_bucket(
        make_s3_client(config), get_bucket_name(config), lock_days, mode or config.object_lock
    )


#: What the replication key must never do on a GOVERNANCE bucket: delete past a lock, delete
#: a version at all, change the lock, or lift the policy that forbids the rest.
DENIED_TO_REPLICATION_KEY = (
    "s3:BypassGovernanceRetention",
    "s3:DeleteObjectVersion",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutObjectRetention",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
)


def make_bucket_policy(bucket: str, principal: str) -> dict[str, Any]:
    """The bucket policy that makes a GOVERNANCE bucket hold against the replication key
    ``principal`` (the ARN the endpoint gives that key's user, e.g.
    ``arn:aws:iam::123456789012:user/egov-replication``): an explicit Deny, which no Allow
    elsewhere overrides, of every action in ``DENIED_TO_REPLICATION_KEY``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EgovReplicationKeyCannotDestroyLockedVersions",
                "Effect": "Deny",
                "Principal": {"AWS": [principal]},
                "Action": list(DENIED_TO_REPLICATION_KEY),
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def render_bucket_policy(bucket: str, principal: str) -> str:
    """``make_bucket_policy`` as the JSON text ``aws s3api put-bucket-policy`` takes."""
    return json.dumps(make_bucket_policy(bucket, principal), indent=2) + "\n"
