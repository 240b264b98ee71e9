"""``egov agent backup``: back up this host's datasets, one record and metric file each.

For each job: take the dataset's lock (``flock``; a second run of the same dataset fails at
once instead of queueing behind a night-long one), back up (a local repository that does not
exist yet is created when restic says so: probing first would cost every run one more restic
process and its key derivation; shared ones are created by one party only), store the
manifest beside the snapshot, then write the ``BackupRecord`` and the textfile metrics,
whether the run succeeded or not. restic is retried as every agent job retries it
(``egov.backup.agent``). One dataset failing does not stop the others.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from blake3 import blake3

from egov.backup.agent import (
    AgentSettings,
    Progress,
    get_last_success_at,
    no_progress,
    run_with_retries,
)
from egov.backup.agentconfig import AgentConfig
from egov.backup.datasets import (
    BackupJob,
    make_dump_command,
    make_dump_filename,
)
from egov.backup.manifest import make_manifest
from egov.backup.manifestformat import ManifestEntry, ManifestHeader, get_sort_key, save_manifest
from egov.backup.manifestsnapshot import ManifestSnapshot
from egov.backup.metrics import write_backup_metrics
from egov.backup.priority import make_this_thread_idle, make_thread_normal
from egov.backup.repositories import (
    AccessKind,
    RepositoryConfig,
    open_repository,
)
from egov.backup.restic import (
    BackupSummary,
    make_stdin_backup_command,
    make_unlock_command,
    parse_backup_summary,
)
from egov.backup.resticexec import Restic, ResticResult
from egov.backup.resticoutcome import Outcome
from egov.backup.shardbackup import creating_repository, run_files_backup
from egov.errors import BackupError, EgovError, InputError
from egov.inventory.backup import DatasetKind
from egov.records import BackupRecord, Result, read_record, write_record

MESSAGE_CHARS = 1000


@contextmanager
def hold_dataset_lock(state_dir: Path, dataset: str) -> Iterator[bool]:
    """Hold ``<state>/locks/<dataset>.lock``; raise BackupError when another run holds it.

    ``flock`` dies with its process, so a killed run never leaves the lock held. The file
    holds the PID while a run is on and is emptied when it ends: finding it non-empty means
    the last run was killed (SIGKILL, power loss) before it could tidy up, which this yields
    as True so the caller can clear what that run left in the repository.
    """
    directory = state_dir / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(directory / f"{dataset}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"dataset {dataset} is already being backed up on this host",
                "wait for the running backup to finish",
            ) from None
        interrupted = bool(os.pread(descriptor, 64, 0).strip())
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        os.fsync(descriptor)
        try:
            yield interrupted
        finally:
            os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)


def _backup_files(
    restic: Restic,
    job: BackupJob,
    settings: AgentSettings,
    progress: Progress,
    create: bool,
    snapshot: ManifestSnapshot,
) -> tuple[BackupSummary, Path]:
    """Back up the dataset's trees (in shards at once: ``egov.backup.shardbackup``); return
    restic's summary and the manifest's file.

    The manifest is made beside restic, in a thread that only takes CPU restic leaves idle
    (``egov.backup.priority``): reading the last manifest, hashing what changed, writing the
    state copy (the manifest's file), and feeding it to the manifest's restic all happen
    there, so little but restic stays on the critical path.
    """
    manifest_path = _get_manifest_path(settings, job)
    started = settings.clock()
    made: dict[str, Path | BaseException] = {}

    def compute() -> None:
        make_this_thread_idle()
        try:
            header = ManifestHeader(job.dataset, job.host, started)
            # the last run's manifest is read while this one replaces it (atomically)
            make_manifest(manifest_path, header, job.paths, job.exclude, manifest_path)
            made["path"] = manifest_path
            snapshot.feed(manifest_path)
        except Exception as error:  # reported by the caller, with the dataset's name
            made["error"] = error

    worker = threading.Thread(target=compute, name=f"manifest-{job.dataset}", daemon=True)
    worker.start()
    backed = run_files_backup(restic, job, settings, progress, create, started)
    make_thread_normal(worker)  # restic is done: what is left of the hashing, at full speed
    worker.join()
    if backed.failure is not None or backed.summary is None:
        raise backed.failure or BackupError(f"backup of {job.dataset}: no snapshot was made")
    summary = backed.summary
    made_path = made.get("path")
    if not isinstance(made_path, Path):
        raise BackupError(
            f"backup of {job.dataset}: snapshot {str(summary.snapshot_id)[:8]} was made, but "
            f"its manifest could not be: {made.get('error')}",
            f"fix what the message names ({manifest_path.parent} must be writable), then "
            "rerun the backup: the next one makes the manifest again",
        )
    if backed.partial:
        raise BackupError(
            f"backup of {job.dataset}: snapshot {str(summary.snapshot_id)[:8]} is incomplete, "
            f"some files could not be read: {backed.partial}",
            "fix the permissions or exclude the files named above",
        )
    return summary, made_path


def _get_manifest_path(settings: AgentSettings, job: BackupJob) -> Path:
    """The state directory's copy of the dataset's last manifest: the next run reuses its
    hashes, and the manifest's restic is fed from it."""
    return settings.state_dir / "manifests" / f"{job.dataset}.json"


def _backup_databases(
    restic: Restic,
    job: BackupJob,
    settings: AgentSettings,
    progress: Progress,
    create: bool,
    snapshot: ManifestSnapshot,
) -> tuple[BackupSummary, Path]:
    """Dump each database into restic; return the summed summary and the manifest's file,
    which is complete only after the last dump (``snapshot`` gets it all at the end)."""
    del snapshot
    header = ManifestHeader(job.dataset, job.host, settings.clock())
    dumps: list[ManifestEntry] = []
    totals = BackupSummary()
    for database in job.databases:
        progress(f"dumping database {database}")
        tags = [*job.tags, f"database:{database}"]
        argv = make_stdin_backup_command(make_dump_filename(database), job.host, tags)
        digest: dict[str, object] = {}

        def attempt(
            database: str = database,
            argv: tuple[str, ...] = argv,
            digest: dict[str, object] = digest,
        ) -> ResticResult:
            hasher = blake3()
            size = [0]

            def observe(chunk: bytes) -> None:
                hasher.update(chunk)
                size[0] += len(chunk)

            dump, stored = restic.run_from(
                make_dump_command(database, settings.dump_user),
                argv,
                {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "LC_ALL": "C.UTF-8",
                    **settings.dump_environment,
                },
                observe,
            )
            if stored.outcome is Outcome.MISSING:
                return stored  # restic stopped before reading: the dump broke on its pipe
            if dump.returncode != 0:
                raise BackupError(
                    f"pg_dump of database {database} failed (exit {dump.returncode}): "
                    f"{dump.stderr_tail}; no snapshot was made of it",
                    "check that the database exists and PostgreSQL runs on this host",
                )
            digest.update(blake3=hasher.hexdigest(), size=size[0])
            return stored

        result = run_with_retries(
            restic, creating_repository(restic, attempt, create), settings, progress
        )
        restic.check(result, f"backup of database {database}")
        summary = parse_backup_summary(result.stdout)
        if summary is None or summary.snapshot_id is None:
            raise BackupError(f"backup of database {database}: restic printed no snapshot id")
        dumps.append(
            ManifestEntry(
                f"/{make_dump_filename(database)}",
                int(str(digest["size"])),
                None,
                0,
                str(digest["blake3"]),
            )
        )
        totals = BackupSummary(
            snapshot_id=summary.snapshot_id,
            data_added=totals.data_added + summary.data_added,
            total_files_processed=totals.total_files_processed + 1,
            total_bytes_processed=totals.total_bytes_processed + summary.total_bytes_processed,
        )
    manifest_path = _get_manifest_path(settings, job)
    save_manifest(manifest_path, header, sorted(dumps, key=lambda dump: get_sort_key(dump.path)))
    return totals, manifest_path


def run_backup_job(
    job: BackupJob,
    repository: RepositoryConfig,
    settings: AgentSettings,
    progress: Progress = no_progress,
) -> BackupRecord:
    """Back up one dataset and record the result (success or failure) with its metrics.

    Raise BackupError only when the dataset is already being backed up (nothing recorded).
    """
    with hold_dataset_lock(settings.state_dir, job.dataset) as interrupted:
        previous = read_record(BackupRecord, f"{job.dataset}@{job.host}", settings.state_dir)
        started = settings.clock()
        error = ""
        summary: BackupSummary | None = None
        try:
            with open_repository(
                repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
            ) as restic:
                if interrupted:
                    # restic's own lock of the killed run names this host and a dead PID:
                    # unlock removes it (and only such stale locks), so nothing stays locked.
                    progress(f"the last run of {job.dataset} was killed: clearing its lock")
                    restic.run(make_unlock_command())
                backup = _backup_databases if job.kind is DatasetKind.POSTGRES else _backup_files
                create = repository.kind is AccessKind.LOCAL
                # the manifest's restic opens the repository while the backup runs
                snapshot = ManifestSnapshot(restic, job)
                try:
                    summary, manifest = backup(restic, job, settings, progress, create, snapshot)
                    if summary.snapshot_id is not None:
                        snapshot.store(manifest, summary.snapshot_id)
                finally:
                    snapshot.cancel()  # no-op once stored; never an empty or partial manifest
        except EgovError as failure:
            # the hint goes with it: the record is what the operator reads the next morning
            hint = f" (hint: {failure.hint})" if failure.hint else ""
            error = (failure.message[: MESSAGE_CHARS - len(hint)] + hint)[:MESSAGE_CHARS]
        except KeyboardInterrupt as interruption:  # Ctrl-C, or SIGTERM (egov.stopping)
            # restic was interrupted and no snapshot was made: record it, then stop
            reason = str(interruption) or "interrupted (Ctrl-C)"
            _record(job, previous, started, settings, None, f"{reason} before it finished")
            raise
        return _record(job, previous, started, settings, summary, error)


def _record(
    job: BackupJob,
    previous: BackupRecord | None,
    started: float,
    settings: AgentSettings,
    summary: BackupSummary | None,
    error: str,
) -> BackupRecord:
    """Write the run's record and textfile metrics, success or failure."""
    record = _make_record(job, previous, started, settings.clock(), summary, error)
    write_record(record, settings.state_dir)
    if settings.textfile_directory is not None:
        write_backup_metrics([record], settings.textfile_directory, job.dataset)
    return record


def _make_record(
    job: BackupJob,
    previous: BackupRecord | None,
    started: float,
    finished: float,
    summary: BackupSummary | None,
    error: str,
) -> BackupRecord:
    ok = not error and summary is not None
    last_success_at = get_last_success_at(previous, ok, finished)
    last_snapshot = previous.last_success_snapshot_time if previous else None
    return BackupRecord(
        dataset=job.dataset,
        host=job.host,
        site=job.site,
        repository=job.repository,
        started_at=started,
        finished_at=finished,
        result=Result.SUCCESS if ok else Result.FAILURE,
        error=error,
        snapshot_id=summary.snapshot_id if ok and summary else None,
        snapshot_time=started if ok else None,
        bytes_added=summary.data_added if ok and summary else 0,
        bytes_processed=summary.total_bytes_processed if ok and summary else 0,
        files_processed=summary.total_files_processed if ok and summary else 0,
        last_success_at=last_success_at,
        last_success_snapshot_time=started if ok else last_snapshot,
    )


def select_jobs(config: AgentConfig, dataset: str | None) -> list[BackupJob]:
    """The jobs to run; raise InputError naming the datasets when ``dataset`` is not one."""
    if dataset is None:
        return list(config.jobs)
    jobs = [job for job in config.jobs if job.dataset == dataset]
    if not jobs:
        known = ", ".join(job.dataset for job in config.jobs) or "none"
        raise InputError(
            f"--dataset {dataset}: host {config.host} backs up no such dataset",
            f"datasets of this host: {known}",
        )
    return jobs


def run_agent_backup(
    config: AgentConfig,
    settings: AgentSettings,
    dataset: str | None = None,
    progress: Progress = no_progress,
) -> list[BackupRecord]:
    """Run every job of the host (or one dataset); each failure is recorded, none stops
    the others. Raise BackupError at the end when any failed, naming them."""
    records = []
    failures = []
    for job in select_jobs(config, dataset):
        progress(f"backing up {job.dataset} to {job.repository}")
        repository = config.repositories.get(job.repository)
        if repository is None:
            raise InputError(f"agent configuration has no repository {job.repository}")
        try:
            record = run_backup_job(job, repository, settings, progress)
        except BackupError as busy:
            failures.append(f"{job.dataset}: {busy.message}")
            continue
        records.append(record)
        if record.result is Result.FAILURE:
            failures.append(f"{job.dataset}: {record.error}")
    if failures:
        raise BackupError(
            f"{len(failures)} of {len(config.jobs if dataset is None else records) or 1} "
            "backups failed:\n" + "\n".join(failures),
            "the records and metrics say the same; rerun with egov agent backup --dataset X",
        )
    return records
