"""The S3 bucket of a repository, set up and inspected with boto3.

restic creates a missing bucket bare; egov creates it first, with versioning on and object
lock where the endpoint offers it (a default GOVERNANCE retention keeps every new object
version for ``lock_days``), and warns where it does not: versioning alone still keeps
deleted objects as old versions, but a key with delete rights could purge those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from egov.backup.repositories import RepositoryConfig
from egov.errors import BackupError
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


def ensure_bucket(client: Any, bucket: str, lock_days: int) -> BucketReport:
    """Create ``bucket`` (object lock where offered) and switch versioning on.

    An existing bucket is checked, never recreated. Raise BackupError when the endpoint
    cannot be reached or refuses versioning (without it, a client could destroy data).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    warnings: list[str] = []
    created = False
    try:
        if not _bucket_exists(client, bucket):
            try:
                client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
            except ClientError:
                client.create_bucket(Bucket=bucket)
            created = True
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
        object_lock = _ensure_object_lock(client, bucket, lock_days)
    except (BotoCoreError, ClientError) as error:
        raise BackupError(
            f"S3 bucket {bucket}: {error}", "check the endpoint and the S3 keys"
        ) from None
    if not versioning:
        raise BackupError(f"S3 bucket {bucket}: versioning could not be enabled")
    if not object_lock:
        warnings.append(
            f"S3 bucket {bucket}: the endpoint offers no object lock; deleted objects stay "
            "as old versions, but a key with delete rights could still purge them"
        )
    return BucketReport(bucket, created, versioning, object_lock, tuple(warnings))


def _bucket_exists(client: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def _ensure_object_lock(client: Any, bucket: str, lock_days: int) -> bool:
    from botocore.exceptions import ClientError

    wanted = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": max(lock_days, 1)}},
    }
    try:
        current = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError:
        current = {}
    configuration = current.get("ObjectLockConfiguration", {})
    if configuration.get("ObjectLockEnabled") == "Enabled" and "Rule" in configuration:
        return True
    try:
        # AWS switches lock on for an existing versioned bucket; other stores (moto) only
        # for an empty one, and a bucket restic created before has objects: then no lock.
        client.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=wanted)
    except ClientError:
        return False
    return True


def ensure_s3_bucket(config: RepositoryConfig, lock_days: int) -> BucketReport:
    """Set up the bucket of S3 repository ``config`` (see ``ensure_bucket``)."""
    return ensure_bucket(make_s3_client(config), get_bucket_name(config), lock_days)
