"""The restic side of a files backup: one ``restic backup``, or one per shard at once.

A dataset with ``shards: 1`` is one process over its paths, as it always was. With more, its
top-level entries are divided (``egov.backup.shards``) and a process per shard runs at once,
each in its own thread waiting on its restic, all into the same repository: restic's backup
takes a shared lock, so they do not wait on each other. Each shard names its own last
snapshot as ``--parent`` and all share one ``--time`` (the run's start, in UTC), which is how
readers tell one run's snapshots from the next. A shard that fails fails the run: the others'
snapshots are stored and stay valid (each is whole for its entries, and is the next run's
parent for them), but no manifest is stored for the run, its record says which shards failed,
and restores take the last run whose every shard was stored.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from egov.backup.agent import AgentSettings, Progress, run_with_retries
from egov.backup.datasets import BackupJob
from egov.backup.restic import (
    BackupSummary,
    make_backup_command,
    make_init_command,
    parse_backup_summary,
)
from egov.backup.resticexec import Restic, ResticResult
from egov.backup.resticoutcome import Outcome
from egov.backup.shards import (
    assign_shards,
    get_parent,
    list_top_level_entries,
    make_shard_state,
    make_shard_tag,
    read_shard_state,
    write_shard_state,
)
from egov.errors import BackupError, EgovError
from egov.execute import StartedCommand

#: restic 0.14's words when ``--parent`` names a snapshot the repository no longer has
NO_SUCH_PARENT = "no matching ID found"
#: restic's ``--time`` format, read in the process's local zone (``TZ=UTC`` is given it)
RESTIC_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class RepositoryCreation:
    """Creates a local repository once however many processes find it missing at once."""

    def __init__(self, restic: Restic) -> None:
        self._restic = restic
        self._lock = threading.Lock()
        self._created = False

    def create(self) -> None:
        """``restic init``, unless this run has created the repository already."""
        with self._lock:
            if not self._created:
                self._restic.check(self._restic.run(make_init_command()), "init")
                self._created = True


def creating_repository(
    restic: Restic,
    attempt_once: Callable[[], ResticResult],
    create: bool,
    creation: RepositoryCreation | None = None,
) -> Callable[[], ResticResult]:
    """``attempt_once``, which (with ``create``) creates the repository and tries again when
    restic finds none; the shards of one run share ``creation``.

    Only a repository that this host alone writes (a local directory) is created here. A
    shared one is created by one party only (a REST repository by the deploy of its storage
    host, a copy target by the replication): nine hosts' first backups racing to ``restic
    init`` the same REST repository leave one config and several master keys, and the
    repository cannot be opened again.
    """
    once = creation or RepositoryCreation(restic)

    def attempt() -> ResticResult:
        result = attempt_once()
        if create and result.outcome is Outcome.MISSING:
            once.create()
            result = attempt_once()
        return result

    return attempt


class RunningShards:
    """The shards' restic processes running now: a stop (SIGTERM, Ctrl-C: ``egov.stopping``)
    reaches the main thread alone, which interrupts them all here, as the one-process path
    interrupts its restic; each then removes its lock and its thread returns. A shard not
    started yet then starts nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[StartedCommand] = set()
        self._stopped = False

    def run(self, restic: Restic, argv: tuple[str, ...]) -> ResticResult:
        """``argv`` against ``restic``'s repository, interruptible by ``interrupt``."""
        with self._lock:
            if self._stopped:
                return ResticResult(argv, 130, "", "stopped before it started", Outcome.CANCELLED)
            started = restic.start(argv)
            if started is not None:
                self._running.add(started)
        if started is None:  # restic could not start: the plain way says why
            return restic.run(argv)
        try:
            return restic.finish(started, "")
        finally:
            with self._lock:
                self._running.discard(started)

    def interrupt(self) -> None:
        """Interrupt every shard's restic (SIGINT) and start no more."""
        with self._lock:
            self._stopped = True
            for started in self._running:
                started.interrupt()


@dataclass(frozen=True)
class FilesBackup:
    """What the restic processes of one files backup did, for the caller to judge once the
    manifest's thread has ended."""

    summary: BackupSummary | None
    """Summed over the shards; its id is one shard's (all share the run's time)."""
    failure: BackupError | None = None
    partial: str = ""
    """restic's words when some files could not be read (the snapshots were made)."""


def run_files_backup(
    restic: Restic,
    job: BackupJob,
    settings: AgentSettings,
    progress: Progress,
    create: bool,
    started: float,
) -> FilesBackup:
    """Back up ``job``'s paths, in ``job.shards`` processes at once when more than one;
    never raises for restic's failures: ``FilesBackup.failure`` says them."""
    if job.shards == 1:
        argv = make_backup_command(job.paths, job.host, job.tags, job.exclude)
        attempt = creating_repository(restic, lambda: restic.run(argv), create)
        return _judge(restic, job, {1: _run_shard(restic, attempt, settings, progress)}, 1)
    entries = list_top_level_entries(job.paths)
    count = max(min(job.shards, len(entries)), 1)
    previous = read_shard_state(settings.state_dir, job.dataset)
    shards = assign_shards(entries, count, previous)
    at = time.strftime(RESTIC_TIME_FORMAT, time.gmtime(started))
    in_utc = dataclasses.replace(restic, environment={**restic.environment, "TZ": "UTC"})
    creation = RepositoryCreation(in_utc)
    running = RunningShards()

    def back_up(index: int) -> ResticResult | BackupError:
        tags = [*job.tags, make_shard_tag(index, count)]
        parent = get_parent(previous, index, count)

        def once() -> ResticResult:
            argv = make_backup_command(
                shards[index - 1], job.host, tags, job.exclude, parent=parent, time=at
            )
            result = running.run(in_utc, argv)
            if parent and result.outcome is not Outcome.OK and NO_SUCH_PARENT in result.stderr:
                # forgotten, or the repository was replaced: restic picks a parent itself
                argv = make_backup_command(shards[index - 1], job.host, tags, job.exclude, time=at)
                return running.run(in_utc, argv)
            return result

        progress(f"shard {index} of {count}: {len(shards[index - 1])} entries")
        attempt = creating_repository(in_utc, once, create, creation)
        result = _run_shard(in_utc, attempt, settings, progress)
        summary = _summaries({index: result}).get(index)
        if summary is not None:  # what the shard read again: the proof its parent served
            progress(make_shard_line(index, count, summary))
        return result

    with ThreadPoolExecutor(count, thread_name_prefix=f"shard-{job.dataset}") as pool:
        indexes = range(1, count + 1)
        try:
            results = dict(zip(indexes, pool.map(back_up, indexes), strict=True))
        except BaseException:  # stopped: no shard goes on without the run
            running.interrupt()
            raise
    backed = _judge(in_utc, job, results, count)
    made = {index: summary.snapshot_id for index, summary in _summaries(results).items()}
    try:
        state = make_shard_state(shards, {i: s for i, s in made.items() if s}, previous)
        write_shard_state(settings.state_dir, job.dataset, state)
    except OSError as error:  # the snapshots are made: only the next run's parents are lost
        progress(f"the shards' state was not saved ({error}): the next run splits afresh")
    return backed


def make_shard_line(index: int, count: int, summary: BackupSummary) -> str:
    """``shard 2/3 1a2b3c4d: 0 new, 1 changed, 12 unmodified files`` (short: the journal
    keeps it on one line)."""
    return (
        f"shard {index}/{count} {str(summary.snapshot_id)[:8]}: {summary.files_new} new, "
        f"{summary.files_changed} changed, {summary.files_unmodified} unmodified files"
    )


def _run_shard(
    restic: Restic,
    attempt: Callable[[], ResticResult],
    settings: AgentSettings,
    progress: Progress,
) -> ResticResult | BackupError:
    """One process's result, retried as every agent job is; an error that stops it (the
    repository could not be created) is returned, not raised, so the other shards go on."""
    try:
        return run_with_retries(restic, attempt, settings, progress)
    except EgovError as error:
        return BackupError(error.message, error.hint)


def _summaries(results: dict[int, ResticResult | BackupError]) -> dict[int, BackupSummary]:
    """The summary of each shard whose restic stored a snapshot (whole or partial)."""
    found = {}
    for index, result in results.items():
        if isinstance(result, ResticResult) and result.outcome in (Outcome.OK, Outcome.PARTIAL):
            summary = parse_backup_summary(result.stdout)
            if summary is not None and summary.snapshot_id is not None:
                found[index] = summary
    return found


def _judge(
    restic: Restic, job: BackupJob, results: dict[int, ResticResult | BackupError], count: int
) -> FilesBackup:
    """The run's summary (summed), its failure naming each shard that failed, and restic's
    words for files it could not read."""
    summaries = _summaries(results)
    failures: list[BackupError] = []
    partial = []
    for index, result in sorted(results.items()):
        what = f"backup of {job.dataset}" + (f" (shard {index} of {count})" if count > 1 else "")
        if isinstance(result, BackupError):
            failures.append(BackupError(f"{what}: {result.message}", result.hint))
            continue
        try:
            restic.check(result, what, allow_partial=True)
        except BackupError as error:
            failures.append(error)
            continue
        if index not in summaries:
            failures.append(BackupError(f"{what}: restic printed no snapshot id"))
        elif result.outcome is Outcome.PARTIAL:
            partial.append(result.stderr_tail)
    summary = _sum(summaries.values()) if summaries else None
    if not failures:
        return FilesBackup(summary, partial="; ".join(partial))
    if count == 1:
        return FilesBackup(None, failures[0])
    stored = ", ".join(f"{i} ({s.snapshot_id})" for i, s in sorted(summaries.items()))
    kept = (
        f"; the snapshots of shards {stored} are stored and stay valid, but the run is "
        "incomplete: no manifest is stored for it, and restores take the last complete run"
        if stored
        else ""
    )
    message = f"{len(failures)} of {count} shards failed: " + "; ".join(
        failure.message for failure in failures
    )
    return FilesBackup(None, BackupError(message + kept, failures[0].hint))


def _sum(summaries: Iterable[BackupSummary]) -> BackupSummary:
    """One summary for the run: the counts added up, the first shard's snapshot id."""
    listed = list(summaries)
    return BackupSummary(
        snapshot_id=listed[0].snapshot_id,
        files_new=sum(s.files_new for s in listed),
        files_changed=sum(s.files_changed for s in listed),
        files_unmodified=sum(s.files_unmodified for s in listed),
        data_added=sum(s.data_added for s in listed),
        total_files_processed=sum(s.total_files_processed for s in listed),
        total_bytes_processed=sum(s.total_bytes_processed for s in listed),
        total_duration=max(s.total_duration for s in listed),
    )
