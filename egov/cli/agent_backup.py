"""``egov agent backup``, ``replicate``, ``retention``, ``verify`` and ``restore``: the backup
jobs a host runs itself (its systemd units start them), from the configuration deployed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from egov.cli.app import stderr, stdout
from egov.cli.backup_options import AgentConfigOption, CacheDirOption, make_backup_settings
from egov.cli.backup_restore import report_restore, verify_repository
from egov.errors import InputError
from egov.hostlayout import AGENT_CONFIG_FILE, RESTIC_CACHE_DIRECTORY

if TYPE_CHECKING:
    from egov.backup.agentconfig import AgentConfig


def _agent_config(config: Path) -> AgentConfig:
    """The agent configuration ``egov deploy`` wrote at ``config``."""
    from egov.backup.agentconfig import AgentConfig

    return AgentConfig.load(config)


def agent_backup(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Back up this host's datasets (run by egov-backup@<dataset>.service)."""
    from egov.backup.datasetbackup import run_agent_backup

    loaded = _agent_config(config)
    settings = make_backup_settings(None, cache_dir, Path(loaded.textfile_directory))
    for record in run_agent_backup(
        loaded, settings, dataset, lambda line: stderr.print(line, markup=False)
    ):
        stdout.print(
            f"{record.dataset}: snapshot {record.snapshot_id}, {record.bytes_added} bytes added"
        )


def agent_replicate(
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Copy new snapshots along the replication order, then refresh every catalog."""
    from egov.backup.replication import run_replication

    loaded = _agent_config(config)
    if not loaded.replication:
        raise InputError(
            f"{config}: this host does not replicate",
            "run it on the primary site's monitoring host",
        )
    for catalog in run_replication(
        loaded.repositories,
        loaded.replication,
        make_backup_settings(None, cache_dir, timeout_seconds=loaded.replication_timeout_seconds),
        lambda line: stderr.print(line, markup=False, soft_wrap=True),
        loaded.object_lock_days,
        parallel=loaded.parallel_copies,
    ):
        stdout.print(f"{catalog.repository}: {catalog.snapshot_count} snapshots")


def agent_retention(
    repository: Annotated[str, typer.Option("--repository", help="A repository kept here.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what forget would remove.")
    ] = False,
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Forget and prune a repository kept on this host (run by egov-retention@<repository>);
    for an S3 bucket, then purge the versions whose lock has ended."""
    from datetime import timedelta

    from egov.backup.repositories import AccessKind
    from egov.backup.retention import make_retention_plan, run_retention, run_s3_version_purge

    loaded = _agent_config(config)
    if repository not in loaded.retention:
        raise InputError(
            f"--repository {repository}: not kept on this host",
            f"kept here: {', '.join(loaded.retention) or 'none'}",
        )
    local = loaded.repositories[f"{repository}@local"]
    plan = make_retention_plan(local, loaded.retention_policy, dry_run=dry_run)
    stdout.print(run_retention(plan, local, make_backup_settings(None, cache_dir)), soft_wrap=True)
    if local.kind is AccessKind.S3 and not dry_run:
        purge = run_s3_version_purge(local, timedelta(seconds=loaded.purge_after_seconds))
        stderr.print(
            f"{repository}: purged {purge.purged} object versions and "
            f"{purge.markers_removed} delete markers; {len(purge.still_locked)} objects "
            "still locked, left for a later run",
            markup=False,
            soft_wrap=True,
        )


def agent_verify(
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Read the next 1/t of every repository (run by egov-verify.timer)."""
    from egov.errors import BackupError

    loaded = _agent_config(config)
    settings = make_backup_settings(None, cache_dir)
    failures = []
    for name in loaded.replication:
        error = verify_repository(loaded.repositories[name], loaded.verify_days, settings)
        if error:
            failures.append(error)
    if failures:
        raise BackupError("\n".join(failures))


def agent_restore(
    dataset: Annotated[str, typer.Option("--dataset")],
    repository: Annotated[str, typer.Option("--repository")],
    target: Annotated[Path, typer.Option("--target")],
    verify: Annotated[bool, typer.Option("--verify")] = False,
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Restore a dataset on this host (what `egov backup restore --to-host` runs)."""
    from egov.backup.datasetrestore import restore_dataset

    loaded = _agent_config(config)
    chosen = loaded.repositories.get(repository)
    if chosen is None:
        raise InputError(
            f"--repository {repository}: not configured on this host",
            f"configured: {', '.join(loaded.repositories)}",
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"--target {target}: exists and is not an empty directory")
    jobs = {job.dataset: job for job in loaded.jobs}
    job = jobs.get(dataset)
    snapshot = restore_dataset(
        chosen,
        dataset,
        target,
        make_backup_settings(None, cache_dir),
        verify=verify,
        kind=job.kind if job else None,
        shards=job.shards if job else 1,
    )
    report_restore(dataset, snapshot, f"into {target}", verify)
