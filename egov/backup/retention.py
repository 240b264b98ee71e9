"""Retention: ``forget --prune`` with the inventory's grandfather-father-son counts.

It runs on the repository's own side, never through the append-only server the clients use:
for a REST repository, on its store host as the repository's system user, with restic
against the directory ``/srv/restic/<repository>`` (see egov/deploys/storage.py). No
client or replication credential can therefore delete anything.

``--keep-within`` is mandatory on append-only repositories: a client with stolen credentials
can add forged snapshots, and with ``--keep-daily`` etc. alone those could crowd the real ones
out of the kept set; every snapshot younger than ``within`` is kept whatever else exists.

For an S3 repository it runs on a host away from the clients (``get_retention_host``) with
its own *prune key*, the one key that may delete versions; the backup and replication keys
only ever stack delete markers, which object lock allows. ``forget --prune`` there succeeds
even on locked objects (a delete naming no version only adds a marker), so the space is
freed by a second step, ``run_s3_version_purge`` (see ``egov.backup.versions``), for which a
version still locked is not an error: it waits for a later run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from egov.backup.agent import AgentSettings, run_with_retries
from egov.backup.repositories import AccessKind, RepositoryConfig, open_repository
from egov.backup.restic import make_forget_command
from egov.backup.versions import PurgeResult
from egov.errors import BackupError, InputError
from egov.inventory.backup import Retention


@dataclass(frozen=True)
class RetentionPlan:
    """The forget command for one repository and why it is safe."""

    repository: str
    argv: tuple[str, ...]


def check_retention(retention: Retention, *, append_only: bool) -> None:
    """Raise InputError when ``retention`` would keep by counts without ``within`` on an
    append-only repository (forged snapshots could push the real ones out)."""
    counts = retention.daily + retention.weekly + retention.monthly + retention.yearly
    if append_only and counts and retention.within.total_seconds() < 3600:
        raise InputError(
            "retention keeps by count (daily/weekly/…) without `within` on an append-only "
            "repository: forged snapshots could push the real ones out",
            "set backup.retention.within to at least 1h (7d is usual)",
        )


def make_retention_plan(
    repository: RepositoryConfig,
    retention: Retention,
    *,
    append_only: bool = True,
    dry_run: bool = False,
) -> RetentionPlan:
    """The forget/prune command for ``repository``; raise InputError when unsafe."""
    check_retention(retention, append_only=append_only)
    argv = make_forget_command(retention, prune=not dry_run, dry_run=dry_run)
    if "--keep-within" not in argv:
        raise InputError("internal: forget without --keep-within")
    return RetentionPlan(repository.name, argv)


def run_retention(
    plan: RetentionPlan, repository: RepositoryConfig, settings: AgentSettings
) -> str:
    """Run ``plan`` and return restic's JSON (groups kept and removed).

    Raise BackupError naming the repository on failure (3: some snapshots not removed).
    """
    with open_repository(
        repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
    ) as restic:
        result = run_with_retries(restic, lambda: restic.run(plan.argv), settings)
        if result.returncode == 3:
            raise BackupError(
                f"retention on repository {repository.name}: some snapshots were not removed: "
                f"{result.stderr_tail}"
            )
        restic.check(result, "forget/prune")
        return result.stdout


def run_s3_version_purge(
    repository: RepositoryConfig, purge_after: timedelta, now: datetime | None = None
) -> PurgeResult:
    """Purge the versions ``forget --prune`` left under delete markers older than
    ``purge_after`` in S3 repository ``repository``'s bucket, with its (prune) key.

    Versions still locked are counted, not an error; raise BackupError on any other refusal
    and InputError when ``repository`` is not S3.
    """
    from egov.backup.bucket import get_bucket_name, make_s3_client
    from egov.backup.versions import run_version_purge

    if repository.kind is not AccessKind.S3:
        raise InputError(f"repository {repository.name}: only S3 buckets keep versions")
    return run_version_purge(
        make_s3_client(repository),
        get_bucket_name(repository),
        now or datetime.now(UTC),
        purge_after,
    )
