"""Restoring a dataset from a repository: which snapshots, restic's restore, the check.

Restores and snapshot listings run restic on the machine asking (the control node, or a
host's agent for ``egov backup restore --to-host``) against the repository with its
secrets. A dataset's restore is its newest snapshot of each stream (a PostgreSQL dataset
has one per database), or the newest before a time; with ``verify`` the files restored are
compared with the manifest taken at backup time (``choose_restore`` says which snapshot
when the newest has none yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from egov.backup.agent import AgentSettings
from egov.backup.manifest import compare_manifest
from egov.backup.manifestformat import Manifest
from egov.backup.repositories import RepositoryConfig, open_repository
from egov.backup.restic import (
    EGOV_TAG,
    MANIFEST_TAG,
    NO_LATEST_SNAPSHOT,
    Snapshot,
    make_restore_command,
    make_restore_latest_command,
    make_snapshots_command,
    parse_restored_snapshot_id,
    parse_snapshots,
)
from egov.backup.resticexec import Restic
from egov.backup.restoretest import pick_copy, pick_manifests, read_newest_manifest
from egov.backup.shards import group_runs, pick_newest_complete_run
from egov.errors import BackupError
from egov.inventory.backup import DatasetKind


def list_snapshots(
    repository: RepositoryConfig,
    settings: AgentSettings,
    dataset: str | None = None,
    host: str | None = None,
) -> list[Snapshot]:
    """egov's data snapshots in ``repository``, oldest first."""
    tags = [EGOV_TAG] + ([f"dataset:{dataset}"] if dataset else [])
    with open_repository(
        repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
    ) as restic:
        result = restic.run(make_snapshots_command(tags, host))
        restic.check(result, "listing snapshots")
        return parse_snapshots(result.stdout)


def pick_latest_per_stream(
    snapshots: list[Snapshot], anchor_id: str | None = None
) -> list[Snapshot]:
    """The newest snapshot of each stream of a dataset, oldest first.

    A file dataset is one stream, its runs' snapshots taken together: one, or one per shard
    (``egov.backup.shards``), of the newest run whose every shard was stored. A PostgreSQL
    dataset has one stream per database (each dump is its own snapshot, tagged
    ``database:<name>``), and a restore needs all of them. With
    ``anchor_id`` (the snapshot a manifest names, or its copy) nothing newer is taken.
    """
    if anchor_id is not None:
        anchor = next((s for s in snapshots if s.is_copy_of(anchor_id)), None)
        if anchor is None:
            return []
        snapshots = [s for s in snapshots if s.time <= anchor.time]
    data = [s for s in snapshots if MANIFEST_TAG not in s.tags]
    if not any(s.get_tag_value("database") for s in data):
        # a files dataset: its newest run whose every shard was stored, all of them
        run = pick_newest_complete_run(data)
        return sorted(run.snapshots, key=lambda s: (s.time, s.tags)) if run else []
    latest: dict[str | None, Snapshot] = {}
    for snapshot in sorted(data, key=lambda s: s.time):
        latest[snapshot.get_tag_value("database")] = snapshot
    return sorted(latest.values(), key=lambda s: s.time)


@dataclass(frozen=True)
class Restored:
    """What ``restore_dataset`` restored, and how far it was checked."""

    snapshot_id: str
    time: float | None = None
    """Epoch seconds; None when restic's own ``latest`` chose (no listing was made)."""
    compared: bool = False
    """Whether the files were compared with the manifest taken at backup time."""
    note: str | None = None
    """Why a newer snapshot was restored unchecked, or left alone."""
    listed_times: tuple[float, ...] = ()
    """When each of the dataset's snapshots was taken, from the listing the choice was made
    from (empty when restic chose): what there was to restore, without listing again."""


def choose_restore(
    listed: Sequence[Snapshot],
    manifest: Manifest | None,
    before: float | None,
    dataset: str,
    repository: str,
) -> tuple[list[Snapshot], Manifest | None, str | None]:
    """Which snapshots of ``dataset`` to restore, the manifest to compare them with, and a
    note when the newest snapshot has no manifest in ``repository``.

    The newest snapshot's manifest may be missing: a replication that listed the source
    between a backup's data snapshot and its manifest (stored a moment later) copied the one
    without the other until its next run, or the agent died in between. A file snapshot is
    whole whenever restic saved it, so the newest is restored (the data matters most in a
    recovery), checked by restic's read-back alone, and the note says so. A dump without
    its manifest may hold a stream cut short, so a database dataset keeps the newest
    snapshot its manifest vouches for, and the note names the newer one left alone.
    """
    in_time = [s for s in listed if before is None or s.timestamp < before]
    newest = pick_latest_per_stream(in_time)
    if manifest is None or not manifest.snapshot_id:
        return newest, manifest, None
    anchor = pick_copy(listed, manifest.snapshot_id, dataset, repository)
    # a manifest chosen by ``before`` anchors its snapshot, which restic may have stamped a
    # moment later than the manifest's own process
    anchored = pick_latest_per_stream(list(listed), anchor.id)
    latest = newest[-1] if newest else None
    if latest is None or latest.time <= anchored[-1].time:
        return anchored, manifest, None
    if any(s.get_tag_value("database") for s in newest):
        return (
            anchored,
            manifest,
            f"snapshot {latest.short_id} is newer but has no manifest in {repository}: a dump "
            f"without its manifest may be cut short, so {anchored[-1].short_id} was restored",
        )
    return (
        newest,
        None,
        f"snapshot {latest.short_id} has no manifest in {repository} yet (copied before its "
        "manifest was stored, or its backup died): read back by restic, not compared",
    )


def describe_unvouched(changed_during_backup: int) -> str | None:
    """The note for files the manifest cannot vouch for: they changed while the backup read
    them, so neither their old nor their new digest is what restic stored. restic checks
    every blob it restores (authenticated encryption), not the file it writes."""
    if not changed_during_backup:
        return None
    return (
        f"{changed_during_backup} files changed while the backup read them: restored as "
        "restic stored them, not compared with the manifest"
    )


def is_newest_run_certain(listed: Sequence[Snapshot], before: float | None) -> bool:
    """Whether ``choose_restore`` picks the newest run of ``listed`` whatever its manifest
    says: a files dataset's latest restore (no ``before``) whose newest complete run is
    strictly newer than every other. Its manifest then only says how it is checked
    (compared, or read back by restic when the manifest names an older run)."""
    if before is not None or any(s.get_tag_value("database") for s in listed):
        return False
    runs = [run for run in group_runs(listed) if run.complete]
    return bool(runs) and all(run.time < runs[-1].time for run in runs[:-1])


def _restore(
    restic: Restic, snapshot: Snapshot, target: Path, dataset: str, *, read_back: bool
) -> None:
    """Restore ``snapshot`` into ``target``, restic reading every file back (``--verify``)
    when ``read_back``."""
    result = restic.run(make_restore_command(snapshot.id, str(target), verify=read_back))
    restic.check(result, f"restore of {dataset}")


def _restore_while_reading(
    restic: Restic,
    listed: Sequence[Snapshot],
    manifests: Sequence[Snapshot],
    dataset: str,
    target: Path,
    spool: Path | None,
) -> tuple[list[Snapshot], Manifest | None, str | None]:
    """Restore the newest run of ``listed`` (``is_newest_run_certain``) while the newest
    manifest is read in a thread; return what ``choose_restore`` says of them.

    When the manifest names an older run (the newest was copied before its manifest),
    restic restores the run again reading it back (``--verify``): the check is the one the
    manifest read first would have chosen; only that rare case pays a second restore.
    """
    newest = pick_latest_per_stream(list(listed))
    with ThreadPoolExecutor(1, thread_name_prefix="manifest") as pool:
        reading = pool.submit(read_newest_manifest, restic, manifests, dataset, None, spool)
        for snapshot in newest:
            _restore(restic, snapshot, target, dataset, read_back=False)
        found = reading.result()[1]
    chosen, manifest, note = choose_restore(listed, found, None, dataset, restic.label)
    if [s.id for s in chosen] != [s.id for s in newest]:  # is_newest_run_certain's promise
        raise BackupError(f"restore of {dataset}: restored a run its manifest did not choose")
    if manifest is None:
        for snapshot in chosen:
            _restore(restic, snapshot, target, dataset, read_back=True)
    return chosen, manifest, note


def restore_dataset(
    repository: RepositoryConfig,
    dataset: str,
    target: Path,
    settings: AgentSettings,
    *,
    host: str | None = None,
    verify: bool = False,
    before: float | None = None,
    kind: DatasetKind | None = None,
    shards: int = 1,
) -> Restored:
    """Restore the latest snapshot of ``dataset`` into ``target``.

    With ``before`` (epoch seconds), the latest taken before then: a point in time before
    some damage. With ``verify``, every restored file is read back and compared with the
    manifest taken at backup time, or, when the snapshot restored has none (see
    ``choose_restore``), read back by restic (``restore --verify``); never both, which would
    read every file twice. Raise BackupError on any difference.

    An unsharded file dataset (``kind``, ``shards``) is one snapshot a run: for its plain
    latest restore, restic's own ``latest`` picks it, which spares a listing process and its
    key derivation (the id returned is then restic's short one). A database dataset has a
    stream per database and a sharded one a snapshot per shard, so both are listed first,
    and every snapshot of the run chosen is restored into ``target``.
    """
    with open_repository(
        repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
    ) as restic:
        if kind is DatasetKind.FILES and shards == 1 and not verify and before is None:
            argv = make_restore_latest_command([EGOV_TAG, f"dataset:{dataset}"], host, str(target))
            result = restic.run(argv)
            if NO_LATEST_SNAPSHOT in result.stderr:
                raise BackupError(f"dataset {dataset} has no snapshot in {repository.name}")
            restic.check(result, f"restore of {dataset}")
            restored = parse_restored_snapshot_id(result.stdout)
            if restored is None:
                raise BackupError(f"restore of {dataset}: restic named no snapshot")
            return Restored(restored)
        # the manifest is spooled beside the restore, not in a tmpfs $TMPDIR: it grows with
        # the number of files (about 170 bytes each)
        spool = target.parent if target.parent.is_dir() else None
        data_tags = [EGOV_TAG, f"dataset:{dataset}"]
        # one listing gives the data snapshots and, to verify, the manifests
        manifest_tags = [MANIFEST_TAG, f"dataset:{dataset}"] if verify else []
        result = restic.run(make_snapshots_command(data_tags, host, or_tags=manifest_tags))
        restic.check(result, "listing snapshots")
        snapshots = parse_snapshots(result.stdout)
        listed = [s for s in snapshots if MANIFEST_TAG not in s.tags]
        manifests = pick_manifests(snapshots, before)
        if verify and manifests and is_newest_run_certain(listed, before):
            # the run restored is known before the manifest is read: the manifest's restic
            # (a key derivation, the index) runs while the restore does
            chosen, manifest, note = _restore_while_reading(
                restic, listed, manifests, dataset, target, spool
            )
        else:
            found = (
                read_newest_manifest(restic, manifests, dataset, before, spool)[1]
                if verify
                else None
            )
            chosen, manifest, note = choose_restore(listed, found, before, dataset, restic.label)
            if not chosen:
                raise BackupError(f"dataset {dataset} has no snapshot in {repository.name}")
            # with a manifest every file is read back and compared with its backup-time
            # digest below: restic's own read-back (``--verify``) would read them all again
            for snapshot in chosen:
                _restore(restic, snapshot, target, dataset, read_back=verify and manifest is None)
    if manifest is not None:
        comparison = compare_manifest(manifest, target)
        if not comparison.ok:
            raise BackupError(
                f"restore of {dataset} from {repository.name} (site {repository.site}) "
                f"differs from the backup: {comparison.describe()}"
            )
        note = note or describe_unvouched(comparison.changed_during_backup)
    times = tuple(sorted({s.timestamp for s in listed if MANIFEST_TAG not in s.tags}))
    return Restored(chosen[-1].id, chosen[-1].timestamp, manifest is not None, note, times)
