"""Where each repository is and how restic reaches it, without a secret leaving the process.

A ``RepositoryConfig`` names a repository's location (secret-free, safe to log and to write
into /etc/egov/agent.json) and the *references* of its secrets: the inventory's on the
control node, files under /etc/egov/secrets on the hosts. ``open_repository`` reads them and
gives restic, for the duration of a ``with`` block, a private 0700 directory holding the
password file and the repository file (the REST URL carries the REST password, and restic
0.14 takes it only in the URL): restic gets ``RESTIC_PASSWORD_FILE`` and
``RESTIC_REPOSITORY_FILE`` and never an argv with a secret. S3 keys go in the child's
environment only (``/proc/<pid>/environ`` is readable by root and the same user alone).

The S3 bucket itself is set up in ``bucket.py``.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from egov.backup.restic import PROGRESS_FPS, make_cat_config_command, make_init_command
from egov.backup.resticexec import Restic
from egov.backup.resticoutcome import Outcome
from egov.errors import BackupError, InputError
from egov.hostlayout import RESTIC_CACHE_DIRECTORY
from egov.inventory.backup import RepositoryKind
from egov.inventory.model import Estate, ObjectLockMode
from egov.secrets import read_secret

REST_USER = "backup"
DEFAULT_CACHE_DIR = Path(RESTIC_CACHE_DIRECTORY)


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
    object_lock: ObjectLockMode = Field(
        default=ObjectLockMode.COMPLIANCE,
        description="For S3: the object lock mode of the bucket (the site's object store's).",
    )


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
        object_lock=store.object_lock if store else ObjectLockMode.COMPLIANCE,
    )


def get_repository(estate: Estate, name: str | None) -> RepositoryConfig:
    """The named repository (default: the first of the replication order)."""
    chosen = name or (estate.backup.replication[0] if estate.backup.replication else None)
    if chosen is None:
        raise InputError("the inventory declares no repository", "add backup.repositories")
    return make_repository_config(estate, chosen)


def get_secret_file_name(repository: str, key: str) -> str:
    """File name of one secret of a repository under /etc/egov/secrets: ``restic-primary``."""
    return {
        "password": f"restic-{repository}",
        "rest_password": f"rest-{repository}",
        "access_key": f"s3-{repository}-access-key",
        "secret_key": f"s3-{repository}-secret-key",
        "prune_access_key": f"s3-{repository}-prune-access-key",
        "prune_secret_key": f"s3-{repository}-prune-secret-key",
    }[key]


CLIENT_SECRETS = ("password", "rest_password", "access_key", "secret_key")
#: what the host running an S3 repository's retention needs: the password and the prune key
RETENTION_SECRETS = ("password", "prune_access_key", "prune_secret_key")


def make_secret_files(
    estate: Estate, name: str, secret_directory: str, keys: tuple[str, ...] = CLIENT_SECRETS
) -> dict[str, str]:
    """Host path → inventory secret reference, for the deploy to copy (``secret_file``).

    ``keys`` selects which of the repository's secrets: the clients' (the default) never
    include the prune key, which only the retention host of an S3 repository holds.
    """
    repository = estate.backup.repositories[name]
    return {
        f"{secret_directory}/{get_secret_file_name(name, key)}": reference
        for key in keys
        if (reference := getattr(repository, key)) is not None
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
    probe = restic.run(make_cat_config_command())
    if probe.outcome is Outcome.OK:
        return False
    if probe.outcome is not Outcome.MISSING:
        restic.check(probe, "opening")
    restic.check(restic.run(make_init_command(copy_chunker_params=copy_chunker_params)), "init")
    return True


def get_endpoint(config: RepositoryConfig) -> tuple[str, int] | None:
    """The host and port restic connects to for ``config``; None for a local directory.

    ``rest:http://10.213.1.30:8000/`` → ``("10.213.1.30", 8000)``;
    ``s3:http://10.213.2.10:9000/bucket`` → ``("10.213.2.10", 9000)``; a URL without a port
    gets its scheme's (80, 443).
    """
    if config.kind is AccessKind.LOCAL:
        return None
    parts = urlsplit(config.location.partition(":")[2])
    if parts.hostname is None:
        raise InputError(f"repository {config.name}: no host in {config.location!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def check_reachable(config: RepositoryConfig, timeout_seconds: float = 5.0) -> None:
    """Raise BackupError naming the repository when its endpoint takes no TCP connection
    within ``timeout_seconds``.

    restic 0.14 retries an unreachable endpoint ten times with a 30 s connection timeout
    each (about six minutes per command); one connection attempt tells the same at once.
    """
    endpoint = get_endpoint(config)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout_seconds):
            pass
    except OSError as error:
        raise BackupError(
            f"repository {config.name} (site {config.site}) is unreachable at "
            f"{endpoint[0]}:{endpoint[1]}: {error.strerror or error}",
            "check the link to the site; the next run resumes where this one stopped",
        ) from None
