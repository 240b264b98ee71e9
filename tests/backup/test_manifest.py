"""Making a manifest as a streaming merge, and comparing a restored tree with one."""

from __future__ import annotations

import hashlib
import os
import shutil
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from egov.backup import manifest as manifest_module
from egov.backup.manifest import (
    SAMPLE_NAMES,
    UNMAPPED_BYTES,
    compare_entries,
    compare_manifest,
    get_file_digest,
    make_manifest,
    make_walk_roots,
    merge_entries,
    walk_files,
)
from egov.backup.manifestformat import (
    Manifest,
    ManifestEntry,
    ManifestHeader,
    get_sort_key,
    read_manifest,
    save_manifest,
    write_manifest,
)
from tests.backup.conftest import make_tree

HEADER = ManifestHeader("files", "h", 1.0)


def read_entries(path: Path) -> list[ManifestEntry]:
    with path.open("rb") as handle:
        return list(read_manifest(handle).entries)


def restore_copy(entries: list[ManifestEntry], restored: Path) -> None:
    """What ``restic restore`` leaves: the files below ``restored``, their mtimes kept."""
    for entry in entries:
        target = restored / entry.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry.path, target)
        os.utime(target, ns=(entry.mtime_ns or 0, entry.mtime_ns or 0))


def test_the_walk_finds_the_regular_files_kept_in_name_by_name_order(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", files=9)
    (source / "a" / "b").mkdir(parents=True)
    (source / "a" / "b" / "c").write_text("deep")
    (source / "a" / "b.txt").write_text("beside")
    (source / "a" / "b-c").write_text("dash")
    (source / "line\nbreak").write_text("odd name")
    (source / "skipped").mkdir()
    (source / "skipped" / "inside").write_text("excluded with its directory")
    (source / "x.skip").write_text("excluded by name")
    (source / "link").symlink_to(source / "a" / "b.txt")
    (source / "linked-dir").symlink_to(source / "a")
    os.mkfifo(source / "fifo")
    excludes = ["*.skip", f"{source}/skipped"]
    walked = [path for path, _ in walk_files([str(source)], excludes)]
    # regular files only, none excluded, no link followed; name by name: the directory b
    # before b-c and b.txt, though "/" sorts after "-" and "." as a character
    assert [path.removeprefix(f"{source}/") for path in walked] == [
        "a/b/c", "a/b-c", "a/b.txt",
        "file-0.txt", "file-2.txt", "file-4.txt", "file-6.txt", "file-8.txt",
        "line\nbreak",
        "sub/file-1.txt", "sub/file-3.txt", "sub/file-5.txt", "sub/file-7.txt",
    ]  # fmt: skip
    assert walked == sorted(walked, key=get_sort_key)


def test_overlapping_roots_are_walked_once_in_order(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    other = make_tree(tmp_path / "src-2")
    roots = [str(other), f"{source}/", str(source / "sub")]
    assert make_walk_roots(roots) == [str(source), str(other)]
    assert make_walk_roots(["/"]) == [""]
    paths = [path for path, _ in walk_files(roots, [])]
    assert len(paths) == len(set(paths)) == 10
    assert paths == sorted(paths, key=get_sort_key)


def test_manifest_reuses_unchanged_hashes_and_spots_a_changed_byte(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    state = tmp_path / "state" / "files.json"
    assert make_manifest(state, HEADER, [str(source)], ["*.skip"]) == 5
    first = read_entries(state)
    (source / "x.skip").write_text("excluded")
    poisoned = [entry._replace(digest="0" * 64) for entry in first]
    save_manifest(state, HEADER, poisoned)
    assert make_manifest(state, HEADER, [str(source)], ["*.skip"], state) == 5
    second = read_entries(state)
    assert [entry.path for entry in second] == [entry.path for entry in first]  # excluded
    assert all(entry.digest == "0" * 64 for entry in second)  # reused, not hashed again
    restored = tmp_path / "restored"
    restore_copy(first, restored)
    manifest = Manifest("files", "h", 1.0, entries=first)
    assert compare_manifest(manifest, restored).ok
    victim = restored / first[0].path.lstrip("/")
    data = bytearray(victim.read_bytes())
    data[0] ^= 0xFF
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(first[0].mtime_ns or 0,) * 2)
    comparison = compare_manifest(manifest, restored)
    assert comparison.mismatched == [first[0].path]
    assert "1 files differ" in comparison.describe()


def test_a_file_whose_size_mtime_or_inode_changed_is_hashed_again(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("size", "mtime", "inode", "same"):
        (source / name).write_text(name)
    state = tmp_path / "files.json"
    make_manifest(state, HEADER, [str(source)], [])
    save_manifest(state, HEADER, [entry._replace(digest="0" * 64) for entry in read_entries(state)])
    (source / "size").write_text("size, longer")
    info = (source / "mtime").stat()
    os.utime(source / "mtime", ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    (source / "inode.new").write_text("inode")
    (source / "inode.new").replace(source / "inode")
    make_manifest(state, HEADER, [str(source)], [], state)
    digests = {Path(entry.path).name: entry.digest for entry in read_entries(state)}
    assert digests["same"] == "0" * 64
    for name in ("size", "mtime", "inode"):
        assert digests[name] == get_file_digest(str(source / name)), name


def test_a_file_that_cannot_be_read_is_left_out(tmp_path: Path) -> None:
    """Gone between the listing and the hashing (or unreadable): restic reports it."""
    (tmp_path / "here").write_text("here")
    info = (tmp_path / "here").stat()
    found = [(str(tmp_path / "gone"), info), (str(tmp_path / "here"), info)]
    assert [entry.path for entry in merge_entries(found, [])] == [str(tmp_path / "here")]


def test_the_state_copy_in_the_old_format_is_reused_once_then_replaced(tmp_path: Path) -> None:
    """The first run after the upgrade reads the single-JSON copy, reuses its hashes (the
    older sha256 ones too), and leaves a copy in the streamed format."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_bytes(b"before blake3")
    path = str(source / "a.txt")
    info = os.lstat(path)
    sha256 = hashlib.sha256(b"before blake3").hexdigest()
    state = tmp_path / "files.json"
    state.write_text(
        f'{{"dataset":"files","host":"h","created_at":0.5,"files":{{"{path}":{{"size":'
        f'{info.st_size},"mtime_ns":{info.st_mtime_ns},"sha256":"{sha256}","inode":'
        f"{info.st_ino}}}}}}}"
    )
    make_manifest(state, HEADER, [str(source)], [], state)
    assert state.read_bytes().startswith(b'{"egov-manifest":2,')
    assert read_entries(state) == [
        ManifestEntry(path, info.st_size, info.st_mtime_ns, info.st_ino, sha256, "sha256")
    ]


def test_an_older_sha256_entry_is_checked_with_sha256(tmp_path: Path) -> None:
    """Manifests written before BLAKE3 hold SHA-256: a restore of an old snapshot is still
    checked."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_bytes(b"before blake3")
    [(path, info)] = walk_files([str(source)], [])
    old = ManifestEntry(
        path, info.st_size, info.st_mtime_ns, info.st_ino,
        hashlib.sha256(b"before blake3").hexdigest(), "sha256",
    )  # fmt: skip
    older = Manifest("files", "h", 0.0, entries=[old])
    assert compare_manifest(older, tmp_path / "restored-nothing").missing == [path]
    restored = tmp_path / "restored"
    restore_copy([old], restored)
    assert compare_manifest(older, restored).checked == 1
    assert compare_manifest(older, restored).ok
    (restored / path.lstrip("/")).write_bytes(b"before blake4")
    os.utime(restored / path.lstrip("/"), ns=(old.mtime_ns or 0, old.mtime_ns or 0))
    assert compare_manifest(older, restored).mismatched == [path]


def test_a_stream_entry_ignores_mtime(tmp_path: Path) -> None:
    (tmp_path / "portal.dump").write_bytes(b"dump")
    entry = ManifestEntry("/portal.dump", 4, None, 0, "0" * 64, "sha256")
    manifest = Manifest("d", "h", 0.0, entries=[entry])
    assert compare_manifest(manifest, tmp_path).mismatched == ["/portal.dump"]


def test_a_file_changed_during_the_backup_is_counted_not_compared(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("grown since")
    entry = ManifestEntry("/a", 3, 0, 0, "0" * 64)
    comparison = compare_manifest(Manifest("d", "h", 0.0, entries=[entry]), tmp_path)
    assert comparison.ok and comparison.changed_during_backup == 1 and comparison.checked == 0


def test_a_comparison_counts_every_missing_file_and_names_the_first(tmp_path: Path) -> None:
    entries = [ManifestEntry(f"/f{index:04}", 1, 0, 0, "0" * 64) for index in range(250)]
    comparison = compare_manifest(Manifest("d", "h", 0.0, entries=entries), tmp_path)
    assert comparison.missing_count == 250 and not comparison.ok
    assert comparison.missing == [entry.path for entry in entries[:SAMPLE_NAMES]]
    assert comparison.describe(limit=2) == "250 missing (/f0000, /f0001)"


def test_a_flipped_byte_in_a_large_file_fails_the_comparison(tmp_path: Path) -> None:
    """A file too large for blake3's unmapped read is read a MiB at a time: same verdict."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "small").write_bytes(b"s" * 100)
    (source / "large").write_bytes(os.urandom(UNMAPPED_BYTES * 3 + 1))
    entries = list(merge_entries(walk_files([str(source)], []), []))
    restored = tmp_path / "restored"
    restore_copy(entries, restored)
    manifest = Manifest("files", "h", 1.0, entries=entries)
    assert compare_manifest(manifest, restored).checked == 2
    assert compare_manifest(manifest, restored).ok
    for entry in entries:
        victim = restored / entry.path.lstrip("/")
        data = bytearray(victim.read_bytes())
        data[-1] ^= 0x01
        victim.write_bytes(bytes(data))
        os.utime(victim, ns=(entry.mtime_ns or 0,) * 2)
    assert compare_manifest(manifest, restored).mismatched == [e.path for e in entries]


def test_the_threads_of_a_comparison_give_the_serial_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches compared side by side are added up in the manifest's order: the counts and
    the files named are those of one pass over the manifest, however the threads ran."""
    monkeypatch.setattr(manifest_module, "COMPARE_BATCH", 3)
    source = make_tree(tmp_path / "src", files=40)
    entries = list(merge_entries(walk_files([str(source)], []), []))
    restored = tmp_path / "restored"
    restore_copy(entries, restored)
    for index, entry in enumerate(entries):
        victim = restored / entry.path.lstrip("/")
        if index % 5 == 1:
            victim.unlink()
        elif index % 5 == 2:
            victim.write_bytes(victim.read_bytes()[::-1] + b"!")  # changed during the backup
        elif index % 5 == 3:
            victim.write_bytes(b"?" * entry.size)
            os.utime(victim, ns=(entry.mtime_ns or 0,) * 2)
    monkeypatch.setattr(manifest_module, "SAMPLE_NAMES", 5)
    serial = compare_entries(entries, str(restored))
    assert (serial.checked, serial.changed_during_backup) == (24, 8)
    assert (serial.missing_count, serial.mismatched_count) == (8, 8)
    assert serial.missing == [entry.path for entry in entries[1::5][:5]]
    for threads in (1, 2, 4):
        assert compare_manifest(Manifest("d", "h", 0.0, entries=entries), restored, threads) == (
            serial
        )


class Info(NamedTuple):
    st_size: int
    st_mtime_ns: int
    st_ino: int


def synthetic_walk(files: int) -> Iterator[tuple[str, Info]]:
    """A walk of ``files`` files, 1,000 to a directory, in sorted order."""
    for index in range(files):
        path = f"/srv/files/d{index // 1000:05}/dossier-{index % 1000:04}.pdf"
        yield path, Info(index, 1_733_000_000_000_000_000 + index, 1000 + index)


def test_memory_stays_flat_as_the_manifest_grows(tmp_path: Path) -> None:
    """The merge, its writing, reading it back and comparing with it hold a bounded
    amount, whatever the number of files (the in-memory manifest took about 900 bytes per
    file: some 170 MiB here). Every tenth file changed since the last manifest."""
    files = 200_000

    def digest(path: str) -> str:
        return hashlib.blake2s(path.encode()).hexdigest() * 2

    previous = tmp_path / "previous.json"
    with previous.open("w", encoding="ascii") as handle:
        write_manifest(
            handle,
            HEADER,
            (
                ManifestEntry(path, info.st_size, info.st_mtime_ns + (index % 10 == 0),
                              info.st_ino, digest(path))
                for index, (path, info) in enumerate(synthetic_walk(files))
            ),
        )  # fmt: skip
    current = tmp_path / "current.json"
    tracemalloc.start()
    try:
        with previous.open("rb") as handle:
            reused = read_manifest(handle).entries
            merged = merge_entries(synthetic_walk(files), reused, digest)
            assert save_manifest(current, HEADER, merged) == files
        with current.open("rb") as handle:
            comparison = compare_manifest(read_manifest(handle), tmp_path / "nothing-restored")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert comparison.missing_count == files and len(comparison.missing) == SAMPLE_NAMES
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    with current.open("rb") as handle:
        entries = read_manifest(handle).entries
        assert sum(1 for _ in entries) == files
