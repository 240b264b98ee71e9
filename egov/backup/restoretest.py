"""The restore test: restore a dataset's latest snapshot to a scratch place and prove it.

Files: ``restic restore`` into scratch, then every file the backup-time manifest vouches for
(see manifest.py) is hashed and compared. A corrupted pack shows up either as restic failing
the restore (every blob it restores must pass its MAC, or it names the file and exits 1) or,
if it slipped through, as a checksum mismatch: both are failures naming the dataset,
repository and site.
PostgreSQL: each database's dump is restored, its checksum compared, then loaded with
``pg_restore`` into a throwaway cluster (``initdb`` in scratch, a Unix socket only, no TCP)
where the inventory's sanity queries must each return a row. The duration is recorded as
an RTO estimate.

Each restored file is read back once: restic's ``restore --verify`` is not asked for, as in
``egov backup restore --verify`` with a manifest (datasetrestore.py). It would read every
file a second time to check it against what restic stored, while the comparison reads it to
check it against what the source held at backup time, the stronger check: a wrong byte in a
file the manifest vouches for fails the test either way. There is no path without a manifest
to keep ``--verify`` for: every snapshot restored here is the one a manifest names (or a dump
of its run), since a restore test with nothing to compare with has no verdict
(``find_manifest`` raises), and each dump is compared whole or fails. What the manifest
cannot vouch for (a file changed while the backup read it, or one that appeared after the
manifest's walk) is restored as restic stored it, each blob authenticated, but not read
back: its writing to the scratch disk is trusted, as restic's own restore trusts it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from egov.backup.agent import AgentSettings, get_last_success_at
from egov.backup.datasets import make_dump_filename
from egov.backup.manifest import compare_manifest, matches
from egov.backup.manifestformat import Manifest, read_manifest
from egov.backup.repositories import RepositoryConfig, open_repository
from egov.backup.restic import (
    EGOV_TAG,
    MANIFEST_TAG,
    Snapshot,
    make_dump_command,
    make_restore_command,
    make_snapshots_command,
    parse_snapshots,
)
from egov.backup.resticexec import Restic
from egov.backup.shards import get_run_of
from egov.errors import BackupError, CommandFailed, EgovError
from egov.execute import run_command
from egov.inventory.backup import DatasetKind
from egov.records import RestoreTestRecord, Result, read_record, write_record

POSTGRES_USER = "postgres"


@dataclass(frozen=True)
class RestoreTarget:
    """What to test: a dataset, its kind and (postgres) databases and sanity queries."""

    dataset: str
    kind: DatasetKind
    databases: tuple[str, ...] = ()
    sanity_queries: tuple[str, ...] = ()
    host: str | None = None


def _list(restic: Restic, tags: Sequence[str], host: str | None = None) -> list[Snapshot]:
    result = restic.run(make_snapshots_command(tags, host))
    restic.check(result, "listing snapshots")
    return parse_snapshots(result.stdout)


MANIFEST_CANDIDATES = 3


def find_manifest(
    restic: Restic,
    dataset: str,
    host: str | None,
    before: float | None = None,
    spool_dir: Path | None = None,
) -> tuple[Snapshot, Manifest]:
    """The newest manifest of ``dataset`` (on ``host``; taken before ``before``, epoch
    seconds, when given: a point in time before some damage) and its content.

    The manifest is dumped into an unnamed temporary file in ``spool_dir`` (the system's
    temporary directory by default), which the result reads its entries from and which
    goes when the result does: its trailer is at its end, and it may be larger than memory.
    Raise BackupError when there is none (nothing to compare with means no verdict).
    """
    listed = _list(restic, (MANIFEST_TAG, f"dataset:{dataset}"), host)
    return read_newest_manifest(restic, pick_manifests(listed, before), dataset, before, spool_dir)


def pick_manifests(snapshots: Iterable[Snapshot], before: float | None) -> list[Snapshot]:
    """The manifest snapshots among ``snapshots`` (a listing, oldest first) taken before
    ``before`` (epoch seconds) when given."""
    return [
        snapshot
        for snapshot in snapshots
        if MANIFEST_TAG in snapshot.tags and (before is None or snapshot.timestamp < before)
    ]


def read_newest_manifest(
    restic: Restic,
    candidates: Sequence[Snapshot],
    dataset: str,
    before: float | None = None,
    spool_dir: Path | None = None,
) -> tuple[Snapshot, Manifest]:
    """The newest whole manifest among ``candidates`` (``pick_manifests(listing, before)``),
    dumped as ``find_manifest`` says; raise BackupError when there is none."""
    if not candidates:
        when = "" if before is None else " from before the given time"
        raise BackupError(f"dataset {dataset} has no manifest{when} in repository {restic.label}")
    # A manifest whose backup process lost its writer (the agent killed while restic waited
    # for it) may be cut short: skip it for the one before, which names an older snapshot.
    for candidate in reversed(candidates[-MANIFEST_CANDIDATES:]):
        spool = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 (kept by the result)
        result = restic.run(make_dump_command(candidate.id, candidate.paths[0]), output=spool)
        restic.check(result, f"reading the manifest of {dataset}")
        try:
            manifest = read_manifest(spool)
        except ValueError:
            manifest = None
        if manifest is not None and manifest.complete:
            return candidate, manifest
        spool.close()
    raise BackupError(
        f"dataset {dataset}: the newest {MANIFEST_CANDIDATES} manifests in repository "
        f"{restic.label} are unreadable"
    )


def find_copy(restic: Restic, dataset: str, host: str | None, snapshot_id: str) -> Snapshot:
    """Snapshot ``snapshot_id``, or its copy, in this repository.

    Manifests name the snapshot taken at the first repository; ``restic copy`` gives the copy
    a new id and records the source's as ``original``. Raise BackupError when neither is here.
    """
    listed = _list(restic, (EGOV_TAG, f"dataset:{dataset}"), host)
    return pick_copy(listed, snapshot_id, dataset, restic.label)


def pick_copy(
    snapshots: Sequence[Snapshot], snapshot_id: str, dataset: str, repository: str
) -> Snapshot:
    """The one of ``snapshots`` (a listing of ``repository``) that is ``snapshot_id`` or its
    copy. Raise BackupError when none is."""
    for snapshot in snapshots:
        if snapshot.is_copy_of(snapshot_id):
            return snapshot
    raise BackupError(
        f"snapshot {snapshot_id[:8]} of {dataset} is not in repository {repository} "
        "(not replicated yet?)"
    )


def _get_run_end(
    restic: Restic, dataset: str, manifest_snapshot: Snapshot, manifest: Manifest
) -> datetime:
    """The time of the last dump of the manifest's run: the snapshot it names (its own
    restic starts before the dumps, so its time comes first); older manifests name none and
    were stored after the dumps, so their own time bounds them."""
    if manifest.snapshot_id is None:
        return manifest_snapshot.time
    return find_copy(restic, dataset, manifest.host, manifest.snapshot_id).time


def _restore(restic: Restic, snapshot_id: str, target: Path) -> None:
    """Restore ``snapshot_id`` into ``target``; its content is then compared with the
    manifest, so restic does not read it back (``--verify``) first (see the module's text)."""
    result = restic.run(make_restore_command(snapshot_id, str(target), verify=False))
    restic.check(result, f"restore of snapshot {snapshot_id[:8]}")


def _test_files(restic: Restic, manifest: Manifest, scratch: Path) -> int:
    if manifest.snapshot_id is None:
        raise BackupError("the manifest names no snapshot")
    listed = _list(restic, (EGOV_TAG, f"dataset:{manifest.dataset}"), manifest.host)
    anchor = pick_copy(listed, manifest.snapshot_id, manifest.dataset, restic.label)
    for snapshot in get_run_of(listed, anchor):  # a sharded run: every shard, one tree
        _restore(restic, snapshot.id, scratch)
    comparison = compare_manifest(manifest, scratch)
    if not comparison.ok:
        raise BackupError(f"restored content differs from the backup: {comparison.describe()}")
    return comparison.checked


def _test_databases(
    restic: Restic,
    target: RestoreTarget,
    manifest_snapshot: Snapshot,
    manifest: Manifest,
    scratch: Path,
    postgres_bin: Path | None,
) -> int:
    dumps = scratch / "dumps"
    dumps.mkdir()
    bound = _get_run_end(restic, target.dataset, manifest_snapshot, manifest)
    for database in target.databases:
        tags = (EGOV_TAG, f"dataset:{target.dataset}", f"database:{database}")
        candidates = [
            snapshot for snapshot in _list(restic, tags, manifest.host) if snapshot.time <= bound
        ]
        if not candidates:
            raise BackupError(f"database {database} has no snapshot before its manifest")
        _restore(restic, candidates[-1].id, dumps)
        name = f"/{make_dump_filename(database)}"
        entry = manifest.find(name)
        restored = dumps / name.lstrip("/")
        if entry is None or not matches(entry, restored):
            raise BackupError(f"the dump of database {database} differs from the one backed up")
    if target.sanity_queries or target.databases:
        run_sanity_queries(target, dumps, scratch / "cluster", postgres_bin)
    return len(target.databases)


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` holding ``initdb`` (Debian's layout)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


@contextmanager
def throwaway_cluster(directory: Path, postgres_bin: Path) -> Iterator[Path]:
    """A PostgreSQL cluster in ``directory`` listening on a Unix socket only; yields the
    socket directory and stops the cluster (immediately: it is thrown away) at the end."""
    data = directory / "data"
    socket = directory / "socket"
    directory.mkdir(parents=True, exist_ok=True)
    socket.mkdir()
    shutil.chown(directory, POSTGRES_USER, POSTGRES_USER)
    shutil.chown(socket, POSTGRES_USER, POSTGRES_USER)
    as_postgres = ("runuser", "-u", POSTGRES_USER, "--")
    run_command(
        (*as_postgres, str(postgres_bin / "initdb"), "-D", str(data), "-U", POSTGRES_USER,
         "--auth=trust", "--no-sync"),
        timeout_seconds=300,
    )  # fmt: skip
    options = f"-k {socket} -c listen_addresses='' -c fsync=off"
    run_command(
        (*as_postgres, str(postgres_bin / "pg_ctl"), "-D", str(data), "-o", options, "-w",
         "-l", str(directory / "log"), "start"),
        timeout_seconds=120,
    )  # fmt: skip
    try:
        yield socket
    finally:
        with suppress(CommandFailed):
            run_command(
                (*as_postgres, str(postgres_bin / "pg_ctl"), "-D", str(data), "-m",
                 "immediate", "-w", "stop"),
                timeout_seconds=60,
            )  # fmt: skip


def run_sanity_queries(
    target: RestoreTarget, dumps: Path, directory: Path, postgres_bin: Path | None
) -> None:
    """Load every dump into a throwaway cluster and run the sanity queries on each database.

    Raise BackupError naming the database and query that failed.
    """
    if postgres_bin is None:
        raise BackupError("PostgreSQL is not installed here: cannot test the dumps")
    for dump in dumps.iterdir():
        shutil.chown(dump, POSTGRES_USER, POSTGRES_USER)
    shutil.chown(dumps, POSTGRES_USER, POSTGRES_USER)
    as_postgres = ("runuser", "-u", POSTGRES_USER, "--")
    with throwaway_cluster(directory, postgres_bin) as socket:
        for database in target.databases:
            connect = ("-h", str(socket), "-U", POSTGRES_USER)
            try:
                run_command((*as_postgres, str(postgres_bin / "createdb"), *connect, database))
                run_command(
                    (*as_postgres, str(postgres_bin / "pg_restore"), *connect, "--no-owner",
                     "--exit-on-error", "-d", database, str(dumps / make_dump_filename(database))),
                    timeout_seconds=None,
                )  # fmt: skip
            except CommandFailed as error:
                raise BackupError(
                    f"database {database} does not load: {error.stderr_tail[-300:]}"
                ) from None
            for query in target.sanity_queries:
                try:
                    answer = run_command(
                        (*as_postgres, str(postgres_bin / "psql"), *connect, "-d", database,
                         "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", query),
                    )  # fmt: skip
                except CommandFailed as error:
                    raise BackupError(
                        f"sanity query {query!r} failed on {database}: {error.stderr_tail[-300:]}"
                    ) from None
                if not answer.stdout.strip():
                    raise BackupError(f"sanity query {query!r} returned no row on {database}")


def run_restore_test(
    repository: RepositoryConfig,
    target: RestoreTarget,
    settings: AgentSettings,
    scratch_root: Path | None = None,
    postgres_bin: Path | None = None,
) -> RestoreTestRecord:
    """Restore and prove ``target`` from ``repository``; the record is written either way."""
    previous = read_record(
        RestoreTestRecord, f"{target.dataset}@{repository.name}", settings.state_dir
    )
    started = settings.clock()
    error = ""
    checked = 0
    snapshot_id = None
    scratch = Path(tempfile.mkdtemp(prefix="egov-restore-", dir=scratch_root))
    try:
        with open_repository(
            repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
        ) as restic:
            manifest_snapshot, manifest = find_manifest(
                restic, target.dataset, target.host, spool_dir=scratch_root
            )
            snapshot_id = manifest.snapshot_id
            if target.kind is DatasetKind.POSTGRES:
                scratch.chmod(0o711)  # the throwaway cluster's user must traverse it
                checked = _test_databases(
                    restic,
                    target,
                    manifest_snapshot,
                    manifest,
                    scratch,
                    postgres_bin or find_postgres_bin(),
                )
            else:
                checked = _test_files(restic, manifest, scratch)
    except EgovError as failure:
        error = (
            f"restore test of dataset {target.dataset} from repository {repository.name} "
            f"(site {repository.site}) failed: {failure.message}"
        )[:1000]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    now = settings.clock()
    record = RestoreTestRecord(
        dataset=target.dataset,
        repository=repository.name,
        site=repository.site,
        tested_at=now,
        result=Result.FAILURE if error else Result.SUCCESS,
        error=error,
        snapshot_id=snapshot_id,
        duration_seconds=now - started,
        files_checked=checked,
        last_success_at=get_last_success_at(previous, not error, now),
    )
    write_record(record, settings.state_dir)
    return record
