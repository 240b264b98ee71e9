"""restore_dataset against real restic: restic's own ``latest`` for a file dataset, the
listing for the rest, and the same snapshot chosen either way; which snapshots a restore
takes (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from egov.backup.agent import AgentSettings
from egov.backup.datasetbackup import run_backup_job
from egov.backup.datasetrestore import restore_dataset
from egov.backup.repositories import RepositoryConfig, open_repository
from egov.backup.restic import (
    MANIFEST_TAG,
    make_snapshots_command,
    parse_restored_snapshot_id,
    parse_snapshots,
)
from egov.backup.resticexec import ResticResult
from egov.errors import BackupError
from egov.inventory.backup import DatasetKind
from tests.backup.conftest import make_tree
from tests.backup.test_datasetbackup import files_job


def test_restic_restore_names_the_snapshot_it_chose() -> None:
    stdout = (
        "restoring <Snapshot 3bcef086 of [/srv/files] at 2026-11-27 11:15:51.1 +0000 UTC "
        "by root@primary-store-01> to /tmp/x\n"
    )
    assert parse_restored_snapshot_id(stdout) == "3bcef086"
    assert parse_restored_snapshot_id("verifying files in /tmp/x\n") is None


def test_a_file_dataset_restores_its_latest_snapshot_without_a_listing(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    source = make_tree(tmp_path / "src")
    run_backup_job(files_job(source), local_repository, settings)
    (source / "file-0.txt").write_text("changed after the first backup\n")
    latest = run_backup_job(files_job(source), local_repository, settings)
    assert latest.snapshot_id is not None
    fast = restore_dataset(
        local_repository, "files", tmp_path / "fast", settings, kind=DatasetKind.FILES
    )
    listed = restore_dataset(local_repository, "files", tmp_path / "listed", settings)
    assert fast.snapshot_id == latest.snapshot_id[:8] and fast.time is None
    assert listed.snapshot_id.startswith(fast.snapshot_id)  # the listing knows the full id
    assert listed.time is not None and not listed.compared
    for target in ("fast", "listed"):
        restored = tmp_path / target / str(source).lstrip("/") / "file-0.txt"
        assert restored.read_text() == "changed after the first backup\n"


def test_a_dataset_without_snapshots_is_a_clear_failure(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    run_backup_job(files_job(make_tree(tmp_path / "src")), local_repository, settings)
    for kind in (DatasetKind.FILES, None):
        with pytest.raises(BackupError, match="dataset other has no snapshot in primary"):
            restore_dataset(local_repository, "other", tmp_path / "t", settings, kind=kind)


def test_a_newest_snapshot_whose_manifest_is_missing_is_restored_and_said_unchecked(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """What a replication that listed the source between a backup's snapshot and its
    manifest leaves at the target: the newest data is what a recovery needs."""
    source = make_tree(tmp_path / "src")
    first = run_backup_job(files_job(source), local_repository, settings)
    (source / "file-0.txt").write_text("written after the first backup\n")
    second = run_backup_job(files_job(source), local_repository, settings)
    assert first.snapshot_id and second.snapshot_id
    both = restore_dataset(local_repository, "files", tmp_path / "both", settings, verify=True)
    assert both.snapshot_id.startswith(second.snapshot_id) and both.compared and not both.note
    # the data snapshots the choice was made from (a drill judges its RPO target on them)
    assert len(both.listed_times) == 2 and max(both.listed_times) == both.time

    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        listed = restic.run(make_snapshots_command([MANIFEST_TAG]))
        newest_manifest = parse_snapshots(listed.stdout)[-1]
        restic.check(restic.run(("restic", "forget", newest_manifest.id)), "forget")
    restored = restore_dataset(local_repository, "files", tmp_path / "t", settings, verify=True)
    assert restored.snapshot_id.startswith(second.snapshot_id)
    assert not restored.compared
    assert restored.note and f"snapshot {second.snapshot_id[:8]} has no manifest" in restored.note
    changed = tmp_path / "t" / str(source).lstrip("/") / "file-0.txt"
    assert changed.read_text() == "written after the first backup\n"


def test_a_restore_takes_the_newest_snapshot_of_each_database() -> None:
    from datetime import UTC, datetime, timedelta

    from egov.backup.datasetrestore import pick_latest_per_stream
    from egov.backup.restic import Snapshot

    start = datetime(2026, 11, 27, tzinfo=UTC)

    def snap(name: str, minutes: int, *tags: str) -> Snapshot:
        return Snapshot(id=name * 8, time=start + timedelta(minutes=minutes), tags=list(tags))

    snapshots = [
        snap("a", 0, "database:portal"),
        snap("b", 1, "database:motcua"),
        snap("c", 2, "database:portal"),
        snap("d", 3, "egov-manifest"),
        snap("e", 4, "database:motcua"),
    ]
    assert [s.id[0] for s in pick_latest_per_stream(snapshots)] == ["c", "e"]
    # anchored at a manifest's snapshot: nothing newer
    assert [s.id[0] for s in pick_latest_per_stream(snapshots, "cccc")] == ["b", "c"]
    assert pick_latest_per_stream(snapshots, "zzzz") == []


def test_a_restore_takes_the_newest_file_snapshot_even_without_its_manifest() -> None:
    from datetime import UTC, datetime, timedelta

    from egov.backup.datasetrestore import choose_restore
    from egov.backup.manifestformat import Manifest
    from egov.backup.restic import Snapshot

    start = datetime(2026, 11, 27, tzinfo=UTC)

    def snap(name: str, minutes: int, *tags: str) -> Snapshot:
        return Snapshot(id=name * 8, time=start + timedelta(minutes=minutes), tags=list(tags))

    manifest = Manifest(dataset="files", host="h", created_at=0.0, snapshot_id="aaaaaaaa")
    files = [snap("a", 0), snap("b", 5)]
    chosen, compared, note = choose_restore(files, manifest, None, "files", "site2")
    assert [s.id[0] for s in chosen] == ["b"] and compared is None
    assert note and "snapshot bbbbbbbb has no manifest in site2" in note
    # before the newer one: the manifest's own snapshot, compared
    before = (start + timedelta(minutes=1)).timestamp()
    chosen, compared, note = choose_restore(files, manifest, before, "files", "site2")
    assert [s.id[0] for s in chosen] == ["a"] and compared is manifest and note is None
    # a dump without its manifest may be cut short: the vouched-for one, and a note
    dumps = [snap("a", 0, "database:portal"), snap("b", 5, "database:portal")]
    chosen, compared, note = choose_restore(dumps, manifest, None, "databases", "site2")
    assert [s.id[0] for s in chosen] == ["a"] and compared is manifest
    assert note and "bbbbbbbb is newer but has no manifest" in note
    # the newest has its manifest: nothing to say
    chosen, compared, note = choose_restore(files[:1], manifest, None, "files", "site2")
    assert [s.id[0] for s in chosen] == ["a"] and compared is manifest and note is None


def test_a_verified_restore_reads_the_files_back_once(
    local_repository: RepositoryConfig,
    settings: AgentSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a manifest the comparison reads every file back; restic's ``--verify`` would
    read them all a second time. Without one, restic's read-back is the only check."""
    from egov.backup import datasetrestore

    asked: list[bool] = []
    real = datasetrestore.make_restore_command

    def recording(snapshot_id: str, target: str, *, verify: bool = True) -> tuple[str, ...]:
        asked.append(verify)
        return real(snapshot_id, target, verify=verify)

    monkeypatch.setattr(datasetrestore, "make_restore_command", recording)
    source = make_tree(tmp_path / "src")
    run_backup_job(files_job(source), local_repository, settings)
    (source / "file-0.txt").write_text("written after the first backup\n")
    run_backup_job(files_job(source), local_repository, settings)
    compared = restore_dataset(local_repository, "files", tmp_path / "a", settings, verify=True)
    assert compared.compared and asked == [False]

    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        newest = parse_snapshots(restic.run(make_snapshots_command([MANIFEST_TAG])).stdout)[-1]
        restic.check(restic.run(("restic", "forget", newest.id)), "forget")
    unchecked = restore_dataset(local_repository, "files", tmp_path / "b", settings, verify=True)
    # restored while its manifest was read, which names the older run: restored again, read
    # back by restic this time
    assert not unchecked.compared and asked == [False, False, True]


def test_a_verified_restore_lists_once_and_reads_the_manifest_beside_the_restore(
    local_repository: RepositoryConfig,
    settings: AgentSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each restic pays a key derivation: one listing gives the data snapshots and the
    manifests, and the manifest's dump runs while the restore does (another thread)."""
    import threading

    from egov.backup.resticexec import Restic

    ran: list[tuple[str, bool]] = []
    real = Restic.run

    def recording(self: Restic, argv: Sequence[str], **options: Any) -> ResticResult:
        ran.append((argv[1], threading.current_thread() is threading.main_thread()))
        return real(self, argv, **options)

    source = make_tree(tmp_path / "src")
    run_backup_job(files_job(source), local_repository, settings)
    monkeypatch.setattr(Restic, "run", recording)
    restored = restore_dataset(local_repository, "files", tmp_path / "t", settings, verify=True)
    assert restored.compared
    assert sorted(ran) == [("dump", False), ("restore", True), ("snapshots", True)]


def test_the_newest_run_is_certain_only_for_a_latest_files_restore_without_a_tie() -> None:
    from datetime import UTC, datetime, timedelta

    from egov.backup.datasetrestore import is_newest_run_certain
    from egov.backup.restic import Snapshot

    start = datetime(2026, 11, 27, tzinfo=UTC)

    def snap(name: str, minutes: int, *tags: str) -> Snapshot:
        return Snapshot(id=name * 8, time=start + timedelta(minutes=minutes), tags=list(tags))

    files = [snap("a", 0), snap("b", 5)]
    assert is_newest_run_certain(files, None)
    assert not is_newest_run_certain(files, before=start.timestamp() + 600)
    assert not is_newest_run_certain([], None)
    # two runs at the same second: the manifest says which one
    assert not is_newest_run_certain([*files, snap("c", 5)], None)
    assert not is_newest_run_certain([snap("a", 0, "database:portal")], None)
    # a newer run one shard of which failed is no candidate
    assert is_newest_run_certain([*files, snap("d", 9, "shard:1of2")], None)


def test_files_the_manifest_cannot_vouch_for_are_said_so() -> None:
    from egov.backup.datasetrestore import describe_unvouched

    assert describe_unvouched(0) is None
    note = describe_unvouched(3)
    assert note and note.startswith("3 files changed while the backup read them")
