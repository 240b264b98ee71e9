"""Replication (``restic copy`` from the first repository to each following one) and the
repository catalogs the status command reads.

``copy`` skips snapshots the target already has, so a run cut short (the VNPT link down)
is completed by the next run with nothing lost. A cut link must fail the run in bounded
time: each repository is first probed with one TCP connection (restic 0.14 would retry an
unreachable endpoint for minutes per command), and every restic call is bounded by the
inventory's ``replication_timeout`` (restic 0.14 has no network timeout: a transfer on a
link that drops packets waits for TCP to give up, about 15 minutes); a call past it is
interrupted, then killed. A killed restic cannot remove its locks on a repository it no
longer reaches, so each copy starts with ``restic unlock`` (stale locks only: this host's
with a dead process, or older than 30 minutes) on its target; the source is read without
a lock, so copies at once and the backups writing to it never wait on each other's. A target
created here takes the source's chunker parameters, or deduplication would be lost across
the copy; an S3 target's bucket is set up first (versioning, object lock: ``bucket.py``).
Each target is independent: one failing does not stop the others, and with
``backup.parallel_copies`` the copies run at once (one thread each, waiting on its own restic;
each still bounded by the timeout and resumed by the next run).

Each copy leaves a ``ReplicationRecord`` (its duration and the target's growth), from which
``egov backup plan`` measures the links. After copying, every repository's catalog is
refreshed: ``snapshots --json`` summarised to the newest snapshot per dataset and host plus
a count, and ``stats`` for the size, written as a ``CatalogRecord``. Readers never list a
repository.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from egov.backup.agent import AgentSettings, run_with_retries
from egov.backup.bucket import ensure_s3_bucket
from egov.backup.repositories import (
    AccessKind,
    RepositoryConfig,
    check_reachable,
    ensure_repository,
    open_repository,
)
from egov.backup.restic import (
    EGOV_TAG,
    MANIFEST_TAG,
    Snapshot,
    make_copy_command,
    make_snapshots_command,
    make_stats_command,
    make_unlock_command,
    make_unlocked,
    parse_snapshots,
    parse_stats,
)
from egov.backup.shards import group_runs
from egov.errors import BackupError, EgovError
from egov.records import (
    CatalogRecord,
    LatestSnapshot,
    ReplicationRecord,
    Result,
    read_record,
    write_record,
)

COPIED_TAG_SETS = ((EGOV_TAG,), (MANIFEST_TAG,))


def make_latest(snapshots: Sequence[Snapshot]) -> dict[str, dict[str, LatestSnapshot]]:
    """dataset → host → newest egov data snapshot (manifests and foreign snapshots left out).

    A shard of a sharded run counts only when every shard of its run is there
    (``egov.backup.shards``): a run one shard of which failed left part of the data older.
    """
    latest: dict[str, dict[str, LatestSnapshot]] = {}
    incomplete = {
        snapshot.id
        for run in group_runs(snapshots)
        if not run.complete
        for snapshot in run.snapshots
    }
    for snapshot in snapshots:
        dataset = snapshot.get_tag_value("dataset")
        if dataset is None or EGOV_TAG not in snapshot.tags or snapshot.id in incomplete:
            continue
        hosts = latest.setdefault(dataset, {})
        current = hosts.get(snapshot.hostname)
        if current is None or snapshot.timestamp > current.time:
            hosts[snapshot.hostname] = LatestSnapshot(id=snapshot.id, time=snapshot.timestamp)
    return latest


def make_catalog(
    repository: RepositoryConfig,
    now: float,
    snapshots: Sequence[Snapshot] | None,
    size_bytes: int | None,
    previous: CatalogRecord | None,
    error: str = "",
) -> CatalogRecord:
    """The catalog record of one refresh; on failure the previous summary is kept (a stale
    but true picture beats an empty one) and the error is recorded."""
    if snapshots is None:
        return CatalogRecord(
            repository=repository.name,
            site=repository.site,
            refreshed_at=now,
            result=Result.FAILURE,
            error=error,
            snapshot_count=previous.snapshot_count if previous else 0,
            size_bytes=previous.size_bytes if previous else None,
            latest=previous.latest if previous else {},
            last_success_at=previous.last_success_at if previous else None,
        )
    return CatalogRecord(
        repository=repository.name,
        site=repository.site,
        refreshed_at=now,
        result=Result.SUCCESS,
        snapshot_count=sum(1 for snapshot in snapshots if EGOV_TAG in snapshot.tags),
        size_bytes=size_bytes,
        latest=make_latest(snapshots),
        last_success_at=now,
    )


def refresh_catalog(repository: RepositoryConfig, settings: AgentSettings) -> CatalogRecord:
    """List the repository once, write its CatalogRecord (success or failure), return it."""
    previous = read_record(CatalogRecord, repository.name, settings.state_dir)
    try:
        check_reachable(repository)
        with open_repository(
            repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
        ) as restic:
            listed = run_with_retries(
                restic, lambda: restic.run(make_unlocked(make_snapshots_command())), settings
            )
            restic.check(listed, "listing snapshots")
            stats = restic.run(make_unlocked(make_stats_command()))
            restic.check(stats, "stats")
            record = make_catalog(
                repository,
                settings.clock(),
                parse_snapshots(listed.stdout),
                parse_stats(stats.stdout).total_size,
                previous,
            )
    except (EgovError, ValueError) as error:
        message = error.message if isinstance(error, EgovError) else str(error)
        record = make_catalog(repository, settings.clock(), None, None, previous, message)
    write_record(record, settings.state_dir)
    return record


def copy_snapshots(
    source: RepositoryConfig,
    target: RepositoryConfig,
    settings: AgentSettings,
    object_lock_days: int = 1,
    progress: Callable[[str], None] = lambda _: None,
) -> None:
    """Bring every egov snapshot (and manifest) of ``source`` to ``target``.

    Raise BackupError naming the target when it fails; stale locks are cleared first.
    """
    check_reachable(target)
    if target.kind is AccessKind.S3:
        for warning in ensure_s3_bucket(target, object_lock_days).warnings:
            progress(f"warning: {warning}")
    with open_repository(
        target,
        cache_dir=settings.cache_dir,
        source=source,
        timeout_seconds=settings.timeout_seconds,
    ) as restic:
        if not ensure_repository(restic, copy_chunker_params=True):
            restic.check(restic.run(make_unlock_command()), "removing stale locks")
        result = run_with_retries(
            restic, lambda: restic.run(make_copy_command(COPIED_TAG_SETS)), settings
        )
        restic.check(result, f"copy from {source.name}")


def make_replication_record(
    source: RepositoryConfig,
    target: RepositoryConfig,
    copy: tuple[float, float, str],
    previous: CatalogRecord | None,
    catalog: CatalogRecord,
) -> ReplicationRecord:
    """The record of one copy: ``copy`` is (started, finished, error); the bytes copied are
    the target's growth from the catalog before the copy to the one refreshed after it."""
    started, finished, error = copy
    size_before = previous.size_bytes if previous is not None else None
    grown = (
        catalog.size_bytes - size_before
        if not error
        and catalog.result is Result.SUCCESS
        and catalog.size_bytes is not None
        and size_before is not None
        else None
    )
    return ReplicationRecord(
        source=source.name,
        repository=target.name,
        site=target.site,
        source_site=source.site,
        started_at=started,
        finished_at=finished,
        result=Result.FAILURE if error else Result.SUCCESS,
        error=error,
        bytes_copied=max(grown, 0) if grown is not None else None,
    )


def run_replication(
    repositories: dict[str, RepositoryConfig],
    order: Sequence[str],
    settings: AgentSettings,
    progress: Callable[[str], None] = lambda _: None,
    object_lock_days: int = 1,
    *,
    parallel: bool = False,
) -> list[CatalogRecord]:
    """Copy from ``order[0]`` to each following repository (one after the other, or all at
    once when ``parallel``), then refresh every catalog.

    Raise BackupError at the end when any copy or refresh failed, naming each.
    """
    if not order:
        return []
    failures: list[str] = []
    source = repositories[order[0]]
    try:
        # only reached: the copies read it without a lock (``make_copy_command``), so its
        # stale locks hold nothing up, and an unlock would list the live locks of the
        # backups writing to it, with restic 0.14's minute-long wait for one that vanishes
        check_reachable(source)
    except EgovError as error:
        failures.append(f"{source.name}: {error.message}")
    targets = list(order[1:]) if not failures else []

    def copy(name: str) -> tuple[float, float, str]:
        progress(f"copying {source.name} → {name}")
        started = settings.clock()
        try:
            copy_snapshots(source, repositories[name], settings, object_lock_days, progress)
        except EgovError as error:
            return started, settings.clock(), error.message
        return started, settings.clock(), ""

    if parallel and len(targets) > 1:
        # a stop (SIGTERM from the service manager, Ctrl-C) reaches every restic of the unit's
        # control group at once; the threads only wait for them
        with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="copy") as pool:
            copies = dict(zip(targets, pool.map(copy, targets), strict=True))
    else:
        copies = {name: copy(name) for name in targets}
    failures += [f"{name}: {error}" for name, (_, _, error) in copies.items() if error]
    # each target's size as its last catalog saw it, before the refresh below
    before = {name: read_record(CatalogRecord, name, settings.state_dir) for name in copies}
    catalogs = []
    for name in order:
        progress(f"refreshing the catalog of {name}")
        catalog = refresh_catalog(repositories[name], settings)
        catalogs.append(catalog)
        if catalog.result is Result.FAILURE:
            failures.append(f"catalog of {name}: {catalog.error}")
        if name in copies:
            record = make_replication_record(
                source, repositories[name], copies[name], before[name], catalog
            )
            write_record(record, settings.state_dir)
    if failures:
        raise BackupError(
            "replication incomplete:\n" + "\n".join(failures),
            "the next run resumes the copies; nothing already copied is lost",
        )
    return catalogs


def get_catalog_path(state_dir: Path, repository: str) -> Path:
    """Where a repository's catalog record lives."""
    return state_dir / CatalogRecord.KIND / f"{repository}.json"
