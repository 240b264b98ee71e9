"""Shards of a files dataset: the split, its stability, the parents, one run's snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from egov.backup.restic import MANIFEST_TAG, Snapshot
from egov.backup.shards import (
    ShardState,
    assign_shards,
    get_parent,
    group_runs,
    list_top_level_entries,
    make_shard_state,
    make_shard_tag,
    parse_shard_tag,
    pick_newest_complete_run,
    read_shard_state,
    write_shard_state,
)


def test_the_shard_tag_reads_back() -> None:
    assert make_shard_tag(2, 4) == "shard:2of4"
    assert parse_shard_tag(["egov", "dataset:files", "shard:2of4"]) == (2, 4)
    assert parse_shard_tag(["egov", "dataset:files"]) is None


def test_top_level_entries_cover_every_path(tmp_path: Path) -> None:
    """Children of each directory; a file, an empty directory or a missing path stands for
    itself, so no path is left to no shard."""
    (tmp_path / "a" / "x").mkdir(parents=True)
    (tmp_path / "a" / "y.txt").write_text("y")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("f")
    paths = [str(tmp_path / "a") + "/", str(tmp_path / "empty"), str(tmp_path / "file.txt")]
    paths.append(str(tmp_path / "missing"))
    assert list_top_level_entries(paths) == sorted(
        [
            f"{tmp_path}/a/x",
            f"{tmp_path}/a/y.txt",
            str(tmp_path / "empty"),
            str(tmp_path / "file.txt"),
            str(tmp_path / "missing"),
        ]
    )


def _covers_once(shards: list[list[str]], entries: list[str]) -> None:
    flat = [entry for shard in shards for entry in shard]
    assert sorted(flat) == sorted(entries) and len(flat) == len(set(flat))


def test_a_first_split_is_balanced_by_count_and_deterministic() -> None:
    entries = [f"/srv/files/{name}" for name in "gfedcba"]
    shards = assign_shards(entries, 3)
    _covers_once(shards, entries)
    assert [len(shard) for shard in shards] == [3, 2, 2]
    assert shards == assign_shards(list(reversed(entries)), 3)  # order of listing is no matter


def test_entries_keep_their_shard_and_new_ones_go_to_the_smallest() -> None:
    """The next run after a new top-level directory appeared (and one went): every entry is
    still in exactly one shard, the old ones where they were, so each shard's parent still
    holds them."""
    first = assign_shards(["/d/a", "/d/b", "/d/c", "/d/d"], 2)
    state = make_shard_state(first, {1: "one", 2: "two"}, None)
    entries = ["/d/b", "/d/c", "/d/d", "/d/e", "/d/f"]  # /d/a gone, /d/e and /d/f new
    second = assign_shards(entries, 2, state)
    _covers_once(second, entries)
    for index, shard in enumerate(first):
        assert [e for e in shard if e != "/d/a"] == [e for e in second[index] if e in shard]
    assert "/d/e" in second[0]  # shard 1 lost /d/a: the smallest, it takes the first new one
    assert [len(shard) for shard in second] == [3, 2] or [len(s) for s in second] == [2, 3]


def test_a_changed_shard_count_starts_over_without_parents() -> None:
    entries = ["/d/a", "/d/b", "/d/c", "/d/d"]
    state = make_shard_state(assign_shards(entries, 2), {1: "one", 2: "two"}, None)
    assert assign_shards(entries, 4, state) == [["/d/a"], ["/d/b"], ["/d/c"], ["/d/d"]]
    assert get_parent(state, 1, 2) == "one" and get_parent(state, 2, 2) == "two"
    assert get_parent(state, 1, 4) is None and get_parent(None, 1, 2) is None
    with pytest.raises(ValueError, match="at least one shard"):
        assign_shards(entries, 0)


def test_a_failed_shard_keeps_its_last_parent(tmp_path: Path) -> None:
    shards = [["/d/a"], ["/d/b"]]
    first = make_shard_state(shards, {1: "a1", 2: "b1"}, None)
    second = make_shard_state(shards, {1: "a2"}, first)  # shard 2 failed this time
    assert second.parents == {1: "a2", 2: "b1"}
    write_shard_state(tmp_path, "files", second)
    assert read_shard_state(tmp_path, "files") == second
    (tmp_path / "shards" / "files.json").write_text("{not json")
    assert read_shard_state(tmp_path, "files") is None  # a fresh start, not a failure
    assert read_shard_state(tmp_path, "other") is None
    assert ShardState(count=1).entries == {}


def _snapshot(
    name: str, at: int, tags: list[str], host: str = "store-01", dataset: str = "files"
) -> Snapshot:
    return Snapshot(
        id=name * 8,
        time=datetime.fromtimestamp(at, UTC),
        hostname=host,
        tags=["egov", f"dataset:{dataset}", *tags],
    )


def test_one_runs_shards_are_one_backup_and_an_incomplete_run_is_passed_over() -> None:
    snapshots = [
        _snapshot("a", 100, ["shard:1of2"]),
        _snapshot("b", 100, ["shard:2of2"]),
        _snapshot("m", 101, [MANIFEST_TAG]),
        _snapshot("c", 200, ["shard:1of2"]),  # shard 2 of this run failed
        _snapshot("d", 200, ["shard:1of2"], host="store-02"),
        _snapshot("e", 200, ["shard:1of1"], dataset="etc"),
    ]
    runs = group_runs(snapshots)
    assert [(run.host, run.time, run.complete) for run in runs] == [
        ("store-01", 100, True),
        ("store-01", 200, False),
        ("store-02", 200, False),
        ("store-01", 200, True),
    ]
    newest = pick_newest_complete_run(s for s in snapshots if "dataset:files" in s.tags)
    assert newest is not None and {s.id[0] for s in newest.snapshots} == {"a", "b"}
    unsharded = [_snapshot("x", 50, []), _snapshot("y", 50, [])]
    assert len(group_runs(unsharded)) == 2  # unsharded snapshots are a run each
    assert pick_newest_complete_run([]) is None


def test_a_restore_takes_every_shard_of_the_newest_complete_run() -> None:
    """The run after a failed shard is passed over whole: its other shards' snapshots are
    valid, but the dataset they make up would lack the failed shard's entries."""
    from egov.backup.datasetrestore import choose_restore, pick_latest_per_stream
    from egov.backup.manifestformat import Manifest

    snapshots = [
        _snapshot("a", 100, ["shard:1of2"]),
        _snapshot("b", 100, ["shard:2of2"]),
        _snapshot("c", 200, ["shard:2of2"]),
        _snapshot("d", 200, ["shard:1of2"]),
        _snapshot("e", 300, ["shard:1of2"]),  # shard 2 failed at 300
    ]
    assert [s.id[0] for s in pick_latest_per_stream(snapshots)] == ["d", "c"]
    assert [s.id[0] for s in pick_latest_per_stream(snapshots, "bbbb")] == ["a", "b"]
    manifest = Manifest(dataset="files", host="h", created_at=0.0, snapshot_id="dddddddd")
    chosen, compared, note = choose_restore(snapshots, manifest, None, "files", "primary")
    assert [s.id[0] for s in chosen] == ["d", "c"] and compared is manifest and note is None
    chosen, _, _ = choose_restore(snapshots, None, 150, "files", "primary")
    assert [s.id[0] for s in chosen] == ["a", "b"]
    # an unsharded run after the sharded ones (shards set back to 1): it alone
    later = [*snapshots, _snapshot("f", 400, [])]
    assert [s.id[0] for s in pick_latest_per_stream(later)] == ["f"]


def test_freshness_dates_a_sharded_dataset_by_its_newest_complete_run() -> None:
    """The catalog ``egov backup status`` and the exporter read: a run one shard of which
    failed leaves that shard's data as old as its last complete run, so the run is not
    counted."""
    from egov.backup.replication import make_latest

    snapshots = [
        _snapshot("a", 100, ["shard:1of2"]),
        _snapshot("b", 100, ["shard:2of2"]),
        _snapshot("c", 300, ["shard:1of2"]),
    ]
    assert make_latest(snapshots)["files"]["store-01"].time == 100
    both = [*snapshots, _snapshot("d", 300, ["shard:2of2"])]
    assert make_latest(both)["files"]["store-01"].time == 300
