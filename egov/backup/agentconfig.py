"""/etc/egov/agent.json: what the agent on one host needs, derived from the estate.

Hosts have no inventory; the deploy serialises ``make_agent_config(estate, ref)`` there.
It holds no secret: repositories name secret *files* under /etc/egov/secrets, which the
deploy writes separately (compared by digest, never diffed). Example::

    {"estate": "camau", "site": "primary", "host": "primary-db-01",
     "jobs": [{"dataset": "databases", "kind": "postgres", "databases": ["portal"], ...}],
     "repositories": {"primary": {"kind": "rest", "location": "rest:http://10.213.1.14:8000/",
                                  "password": "file:/etc/egov/secrets/restic-primary", ...}},
     "replication": [], "retention": [], "verify_days": 30}
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egov.backup.archivestate import ArchiveServer, make_archive_servers
from egov.backup.datasets import BackupJob, make_host_jobs
from egov.backup.repositories import AccessKind, RepositoryConfig, make_repository_config
from egov.errors import InputError
from egov.hostlayout import (
    AGENT_CONFIG_FILE,
    REPOSITORY_ROOT,
    SECRET_DIRECTORY,
    TEXTFILE_DIRECTORY,
    make_credentials_directory,
    make_retention_unit,
)
from egov.inputfile import JSON_INPUT, UnreadableInput, read_input_text
from egov.inventory.backup import RepositoryKind, Retention
from egov.inventory.model import Estate, HostRef

AGENT_CONFIG_PATH = Path(AGENT_CONFIG_FILE)


class AgentConfig(BaseModel):
    """Everything ``egov agent backup|replicate|retention|verify|archive-metrics`` reads on a
    host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    estate: str
    site: str
    host: str = Field(description="Qualified host name (restic --host).")
    jobs: list[BackupJob] = Field(default_factory=list)
    repositories: dict[str, RepositoryConfig] = Field(default_factory=dict)
    replication: list[str] = Field(
        default_factory=list, description="Set on the host that runs replication: the order."
    )
    retention: list[str] = Field(
        default_factory=list, description="Repositories whose retention runs on this host."
    )
    retention_policy: Retention = Field(default_factory=Retention)
    verify_days: int = 30
    replication_timeout_seconds: float | None = Field(
        default=None, description="Bound on each restic call of the replication job."
    )
    parallel_copies: bool = Field(
        default=False, description="Copy to the replication targets at once."
    )
    object_lock_days: int = Field(
        default=1, ge=1, description="Default retention of new object versions in S3 buckets."
    )
    purge_after_seconds: float = Field(
        default=7 * 86400,
        ge=0,
        description=(
            "S3 retention: how long a deleted object's versions are kept after its delete "
            "marker before they are purged (the retention's `within`): the time left to notice "
            "and undo a thief's forget with the replication key (`egov backup undelete`)."
        ),
    )
    textfile_directory: str = TEXTFILE_DIRECTORY
    # Here rather than read back from /etc/barman.d: a server's file names its cluster, not the
    # dataset, the site or the targets its metrics are labelled and judged by.
    archives: list[ArchiveServer] = Field(
        default_factory=list,
        description="The Barman servers this host runs (`egov agent archive-metrics`).",
    )

    @classmethod
    def load(cls, path: Path = AGENT_CONFIG_PATH) -> AgentConfig:
        """Read and validate the file; raise InputError naming the file and the problem."""
        try:
            return cls.model_validate_json(read_input_text(path, JSON_INPUT))
        except UnreadableInput as error:
            raise InputError(
                f"{path}: cannot read the agent configuration: {error.reason}",
                "run `egov deploy` for this host (it writes the file)",
            ) from None
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(top)"
            raise InputError(
                f"{path}: {where}: {first['msg']}",
                "the file is written by `egov deploy`; redeploy rather than edit it",
            ) from None


def get_replication_host(estate: Estate) -> HostRef | None:
    """The host that replicates and refreshes the catalogs: the primary's monitoring host."""
    hosts = [
        ref
        for ref in estate.iter_hosts()
        if ref.site == estate.primary_site and "monitoring" in ref.host.roles
    ]
    return hosts[0] if hosts else None


def make_local_repository_config(estate: Estate, name: str) -> RepositoryConfig:
    """A REST repository as its own store host reaches it: the directory, no network.

    Retention runs as the repository's system user (``egov-retention@<name>.service``),
    which cannot read /etc/egov/secrets: systemd hands it the password (LoadCredential)
    under its credentials directory, whose path is fixed by the unit's name.
    """
    remote = make_repository_config(estate, name, SECRET_DIRECTORY)
    credential = f"file:{get_credentials_directory(name)}/restic-password"
    return remote.model_copy(
        update={
            "kind": AccessKind.LOCAL,
            "location": f"{REPOSITORY_ROOT}/{name}",
            "password": credential,
            "rest_password": None,
        }
    )


def get_retention_host(estate: Estate, name: str) -> HostRef | None:
    """The host that runs repository ``name``'s retention, on the repository's own side.

    REST: its store host (as the repository's user, against the directory). S3 with a prune
    key: a host at the bucket's own site if it has any (the lab's S3 stand-in), else the host
    of the last REST repository away from the primary site in the replication order (site
    2's store host): never a primary host, where the clients and the replication key are.
    None when there is no such host, or an S3 repository has no prune key.
    """
    repository = estate.backup.repositories[name]
    if repository.kind is RepositoryKind.REST:
        return estate.find_host(repository.site, repository.host or "")
    if repository.prune_access_key is None or repository.prune_secret_key is None:
        return None
    own = [ref for ref in estate.iter_hosts() if ref.site == repository.site]
    if own:
        return sorted(own, key=lambda ref: ("objectstore" not in ref.host.roles, ref.name))[0]
    for other in reversed(estate.backup.replication):
        candidate = estate.backup.repositories.get(other)
        if (
            candidate is not None
            and candidate.kind is RepositoryKind.REST
            and candidate.site != estate.primary_site
        ):
            return estate.find_host(candidate.site, candidate.host or "")
    return None


def make_retention_repository_config(estate: Estate, name: str) -> RepositoryConfig:
    """Repository ``name`` as its retention reaches it (``egov-retention@<name>.service``).

    REST: the directory on its store host (``make_local_repository_config``). S3: the bucket,
    with the prune key instead of the clients' (the only key that may delete), all handed
    over by systemd (LoadCredential) under the unit's credentials directory.
    """
    repository = estate.backup.repositories[name]
    if repository.kind is RepositoryKind.REST:
        return make_local_repository_config(estate, name)
    credentials = f"file:{get_credentials_directory(name)}"
    return make_repository_config(estate, name).model_copy(
        update={
            "password": f"{credentials}/restic-password",
            "access_key": f"{credentials}/s3-access-key",
            "secret_key": f"{credentials}/s3-secret-key",
        }
    )


def get_credentials_directory(name: str) -> str:
    """Where systemd puts the credentials of ``egov-retention@<name>.service``."""
    return make_credentials_directory(make_retention_unit(name))


def make_agent_config(estate: Estate, ref: HostRef) -> AgentConfig:
    """The agent configuration of ``ref`` (pure: the deploy only serialises it)."""
    jobs = make_host_jobs(estate, ref)
    names = {job.repository for job in jobs}
    replication: list[str] = []
    replication_host = get_replication_host(estate)
    if replication_host is not None and replication_host == ref:
        replication = list(estate.backup.replication)
        names |= set(replication)
    repositories = {
        name: make_repository_config(estate, name, SECRET_DIRECTORY) for name in sorted(names)
    }
    retention = [
        name for name in estate.backup.repositories if get_retention_host(estate, name) == ref
    ]
    for name in retention:
        repositories[f"{name}@local"] = make_retention_repository_config(estate, name)
    return AgentConfig(
        estate=estate.name,
        site=ref.site,
        host=ref.qualified_name,
        jobs=jobs,
        repositories=repositories,
        replication=replication,
        retention=retention,
        retention_policy=estate.backup.retention,
        verify_days=estate.backup.verify_days,
        replication_timeout_seconds=(
            estate.backup.replication_timeout.total_seconds() if replication else None
        ),
        parallel_copies=bool(replication) and estate.backup.parallel_copies,
        object_lock_days=make_object_lock_days(estate.backup.retention),
        purge_after_seconds=estate.backup.retention.within.total_seconds(),
        archives=make_archive_servers(estate, ref),
    )


def make_object_lock_days(retention: Retention) -> int:
    """Days each new object version of an S3 repository stays locked: the retention's
    ``within`` rounded up (at least 1).

    This is how the lock and the retention stay consistent: forget never removes a snapshot
    younger than ``within``, so the lock never stands in the way of the policy for what it
    keeps, and it ends at most a day after ``within`` (the rounding). What the retention does
    remove while still locked (a pack repacked by prune, a snapshot between ``within`` and the
    rounded lock) is hidden at once behind a delete marker and its version purged by a later
    run, once the lock has ended (``egov.backup.versions``): late by at most a day, never lost.
    A thief with the replication key meets the same lock: whatever is younger than ``within``
    cannot be destroyed.
    """
    return max(math.ceil(retention.within.total_seconds() / 86400), 1)
