"""Where each repository is and how restic reaches it, without a secret leaving the process.

A ``RepositoryConfig`` names a repository's location (secret-free, safe to log and to write
into /etc/egov/agent.json) and the *references* of its secrets: the inventory's on the
control node, files under /etc/egov/secrets on the hosts. ``open_repository`` reads them and
gives restic, for the duration of a ``with`` block, a private 0700 directory holding the
password file and the repository file (the REST URL carries the REST password, and restic
0.14 takes it only in the URL): restic gets ``RESTIC_PASSWORD_FILE`` and
``RESTIC_REPOSITORY_FILE`` and never an argv with a secret. S3 keys go in the child's
environment only (``/proc/<pid>/environ`` is readable by root and the same user alone).

The S3 bucket is set up with boto3: versioning on, object lock where the endpoint offers it
(a default GOVERNANCE retention keeps every object version for ``lock_days``), and a
warning where it does not: versioning alone still keeps deleted objects as old versions.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from egov.backup.restic import (
    PROGRESS_FPS,
    Outcome,
    make_cat_config_command,
    make_init_command,
)
from egov.backup.runner import Restic
from egov.errors import BackupError, InputError
from egov.inventory.backup import RepositoryKind
from egov.inventory.model import Estate
from egov.secrets import read_secret

REST_USER = "backup"
DEFAULT_CACHE_DIR = Path("/var/cache/egov/restic")


class AccessKind(StrEnum):
    """How this process reaches the repository (``local``: the store host's own directory)."""

    REST = "rest"
    S3 = "s3"
    LOCAL = "local"


class RepositoryConfig(BaseModel):
    """A repository as one process reaches it; secrets are references, never values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    site: str
    kind: AccessKind
    location: str = Field(
        description="restic repository string without credentials.",
        examples=["rest:http://10.213.1.14:8000/", "s3:http://10.213.2.10:9000/egov", "/srv/x"],
    )
    password: str = Field(description="Secret reference of the restic password.")
    rest_password: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "us-east-1"


def make_repository_config(
    estate: Estate, name: str, secret_directory: str | None = None
) -> RepositoryConfig:
    """The inventory's repository ``name`` reached over the network.

    With ``secret_directory`` (on hosts: /etc/egov/secrets), secret references point at the
    files the deploy writes there (`make_secret_files`); without, they are the inventory's.
    Raise InputError when the repository or its host is unknown.
    """
    repository = estate.backup.repositories.get(name)
    if repository is None:
        raise InputError(
            f"unknown repository {name!r}",
            f"repositories: {', '.join(estate.backup.repositories) or 'none declared'}",
        )
    references = {
        "password": repository.password,
        "rest_password": repository.rest_password,
        "access_key": repository.access_key,
        "secret_key": repository.secret_key,
    }
    if secret_directory is not None:
        references = {
            key: f"file:{secret_directory}/{get_secret_file_name(name, key)}"
            for key, value in references.items()
            if value is not None
        }
    if repository.kind is RepositoryKind.REST:
        ref = estate.find_host(repository.site, repository.host or "")
        if ref is None:
            raise InputError(f"repository {name}: host {repository.site}/{repository.host} unknown")
        location = f"rest:http://{ref.host.address}:{repository.port}/"
        return RepositoryConfig(
            name=name, site=repository.site, kind=AccessKind.REST, location=location,
            password=references["password"] or "", rest_password=references.get("rest_password"),
        )  # fmt: skip
    store = estate.sites[repository.site].object_store
    endpoint = (repository.endpoint or (store.endpoint if store else "")).rstrip("/")
    return RepositoryConfig(
        name=name,
        site=repository.site,
        kind=AccessKind.S3,
        location=f"s3:{endpoint}/{repository.bucket}",
        password=references["password"] or "",
        access_key=references.get("access_key"),
        secret_key=references.get("secret_key"),
        region=store.region if store else "us-east-1",
    )


def get_secret_file_name(repository: str, key: str) -> str:
    """File name of one secret of a repository under /etc/egov/secrets: ``restic-primary``."""
    return {
        "password": f"restic-{repository}",
        "rest_password": f"rest-{repository}",
        "access_key": f"s3-{repository}-access-key",
        "secret_key": f"s3-{repository}-secret-key",
    }[key]


def make_secret_files(estate: Estate, name: str, secret_directory: str) -> dict[str, str]:
    """Host path → inventory secret reference, for the deploy to copy (``secret_file``)."""
    repository = estate.backup.repositories[name]
    values = {
        "password": repository.password,
        "rest_password": repository.rest_password,
        "access_key": repository.access_key,
        "secret_key": repository.secret_key,
    }
    return {
        f"{secret_directory}/{get_secret_file_name(name, key)}": reference
        for key, reference in values.items()
        if reference is not None
    }


def make_credential_url(location: str, user: str, password: str) -> str:
    """``rest:http://host:port/`` → ``rest:http://user:password@host:port/`` (quoted)."""
    prefix, _, url = location.partition(":")
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return f"{prefix}:{urlunsplit(parts._replace(netloc=netloc))}"


@dataclass(frozen=True)
class _Opened:
    repository_file: Path
    password_file: Path
    secrets: list[str] = field(default_factory=list)
    aws: dict[str, str] = field(default_factory=dict)


def _write_private(path: Path, text: str) -> Path:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return path


def _open(config: RepositoryConfig, directory: Path, prefix: str) -> _Opened:
    password = read_secret(config.password)
    secrets = [password]
    location = config.location
    aws: dict[str, str] = {}
    if config.kind is AccessKind.REST and config.rest_password is not None:
        rest_password = read_secret(config.rest_password)
        secrets.append(rest_password)
        location = make_credential_url(location, REST_USER, rest_password)
    if config.kind is AccessKind.S3:
        if config.access_key is None or config.secret_key is None:
            raise InputError(f"repository {config.name} is S3 but has no access_key/secret_key")
        aws = {
            "AWS_ACCESS_KEY_ID": read_secret(config.access_key),
            "AWS_SECRET_ACCESS_KEY": read_secret(config.secret_key),
            "AWS_DEFAULT_REGION": config.region,
        }
        secrets += [aws["AWS_ACCESS_KEY_ID"], aws["AWS_SECRET_ACCESS_KEY"]]
    return _Opened(
        _write_private(directory / f"{prefix}repository", location),
        _write_private(directory / f"{prefix}password", password),
        secrets,
        aws,
    )


@contextmanager
def open_repository(
    config: RepositoryConfig,
    *,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    source: RepositoryConfig | None = None,
    timeout_seconds: float | None = None,
) -> Iterator[Restic]:
    """restic bound to ``config`` (and to ``source`` as ``--from`` repository for copy/init).

    The secret files live only inside the ``with`` block. Raise InputError when a secret
    cannot be read, BackupError when source and target are both S3 with different keys
    (restic 0.14 has one set of AWS variables per process).
    """
    with tempfile.TemporaryDirectory(prefix="egov-restic-") as scratch:
        directory = Path(scratch)
        directory.chmod(0o700)
        target = _open(config, directory, "")
        environment = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(directory),
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
            "RESTIC_REPOSITORY_FILE": str(target.repository_file),
            "RESTIC_PASSWORD_FILE": str(target.password_file),
            "RESTIC_CACHE_DIR": str(cache_dir),
            "RESTIC_PROGRESS_FPS": PROGRESS_FPS,
            **target.aws,
        }
        secrets = list(target.secrets)
        if source is not None:
            origin = _open(source, directory, "from-")
            if origin.aws and target.aws and origin.aws != target.aws:
                raise BackupError(
                    f"cannot copy from S3 repository {source.name} to S3 repository "
                    f"{config.name} with different keys in one restic process",
                    "copy through a REST repository, or give both the same keys",
                )
            environment |= origin.aws
            environment["RESTIC_FROM_REPOSITORY_FILE"] = str(origin.repository_file)
            environment["RESTIC_FROM_PASSWORD_FILE"] = str(origin.password_file)
            secrets += origin.secrets
        yield Restic(
            environment, tuple(secrets), f"{config.name} (site {config.site})", timeout_seconds
        )


def get_repository_state(restic: Restic) -> Outcome:
    """OK when the repository exists and opens, MISSING when nothing is there, or why not
    (NETWORK, WRONG_PASSWORD, UNAUTHORIZED, FAILED): "missing" must never be guessed from
    "unreachable", or a cut link would make us ``init`` over a live repository."""
    return restic.run(make_cat_config_command()).outcome


def ensure_repository(restic: Restic, *, copy_chunker_params: bool = False) -> bool:
    """Initialise the repository when (and only when) it is missing; True if created.

    Raise BackupError when it cannot be reached or opened.
    """
    state = get_repository_state(restic)
    if state is Outcome.OK:
        return False
    if state is not Outcome.MISSING:
        result = restic.run(make_cat_config_command())
        restic.check(result, "opening")
    restic.check(restic.run(make_init_command(copy_chunker_params=copy_chunker_params)), "init")
    return True


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
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
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

    try:
        current = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError:
        return False  # bucket created without lock: it cannot be switched on later
    configuration = current.get("ObjectLockConfiguration", {})
    if configuration.get("ObjectLockEnabled") != "Enabled":
        return False
    if "Rule" not in configuration:
        client.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": max(lock_days, 1)}},
            },
        )
    return True
