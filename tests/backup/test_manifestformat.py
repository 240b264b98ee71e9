"""The manifest's streamed text, and the single-JSON manifests stored before it."""

from __future__ import annotations

import io
import json

import pytest

from egov.backup.manifestformat import (
    Manifest,
    ManifestEntry,
    ManifestHeader,
    format_entry,
    get_snapshot_suffix,
    get_sort_key,
    parse_entry,
    read_manifest,
    write_manifest,
)

HEADER = ManifestHeader("files", "primary-store-01", 1733000000.25)
ENTRIES = [
    ManifestEntry("/portal.dump", 1048576, None, 0, "ab" * 32),
    ManifestEntry("/srv/a/b/c", 3, 1733000000123456789, 42, "cd" * 32),
    ManifestEntry("/srv/a/b.txt", 0, 1733000000000000000, 43, "ef" * 32, "sha256"),
    ManifestEntry("/srv/a/tab\tand\nnewline", 7, 1, 44, "01" * 32),
    ManifestEntry("/srv/a/undecodable-\udcff", 7, 1, 45, "23" * 32),
    ManifestEntry("/srv/a/ünïcödé", 7, 1, 46, "45" * 32),
]


def write(entries: list[ManifestEntry], snapshot_id: str | None = None) -> io.BytesIO:
    text = io.StringIO()
    write_manifest(text, HEADER, entries)
    if snapshot_id is not None:
        text.write(get_snapshot_suffix(snapshot_id))
    return io.BytesIO(text.getvalue().encode("ascii"))


def test_the_entries_come_back_as_written_one_line_each() -> None:
    written = write(ENTRIES, "c0ffee")
    lines = written.getvalue().splitlines()
    assert len(lines) == 1 + len(ENTRIES) + 1
    assert lines[0].startswith(b'{"egov-manifest":2,"dataset":"files",')
    assert lines[2] == b'["/srv/a/b/c",3,1733000000123456789,42,"' + b"cd" * 32 + b'"]'
    assert lines[3].endswith(b',"sha256:' + b"ef" * 32 + b'"]')
    manifest = read_manifest(written)
    assert (manifest.dataset, manifest.host, manifest.created_at) == (
        "files", "primary-store-01", 1733000000.25,
    )  # fmt: skip
    assert manifest.snapshot_id == "c0ffee" and manifest.complete
    assert list(manifest.entries) == ENTRIES
    assert list(manifest.entries) == ENTRIES  # read again from the start
    assert manifest.find("/srv/a/b/c") == ENTRIES[1] and manifest.find("/nothing") is None


def test_entries_are_in_path_order_name_by_name() -> None:
    paths = ["/srv/a/b.txt", "/srv/a/b/c", "/srv/a-b", "/srv/a/b-c", "/srv/a"]
    assert sorted(paths, key=get_sort_key) == [
        "/srv/a", "/srv/a/b/c", "/srv/a/b-c", "/srv/a/b.txt", "/srv/a-b",
    ]  # fmt: skip


def test_the_snapshot_id_is_the_last_line_written_after_the_rest() -> None:
    """Everything but the snapshot id can be written before the backup ends; without that
    last line the manifest is the state copy or a cut stream, never a stored one."""
    unnamed = write(ENTRIES)
    assert b"snapshot_id" not in unnamed.getvalue()
    manifest = read_manifest(unnamed)
    assert manifest.snapshot_id is None and not manifest.complete
    assert list(manifest.entries) == ENTRIES
    assert get_snapshot_suffix("c0ffee") == '{"snapshot_id":"c0ffee"}\n'
    assert write(ENTRIES, "c0ffee").getvalue() == unnamed.getvalue() + b'{"snapshot_id":"c0ffee"}\n'


def test_a_manifest_cut_short_is_not_complete() -> None:
    """Inside an entry, at a line's end, inside the trailer, before the trailer's newline."""
    text = write(ENTRIES, "c0ffee").getvalue()
    lines = text.splitlines(keepends=True)
    for cut in (len(lines[0]) + 30, len(b"".join(lines[:3])), len(text) - 5, len(text) - 1):
        manifest = read_manifest(io.BytesIO(text[:cut]))
        assert not manifest.complete and manifest.snapshot_id is None, cut


def test_a_torn_entry_line_is_refused() -> None:
    with pytest.raises(ValueError, match="not a manifest entry"):
        parse_entry(b'["/srv/a",1,')
    assert parse_entry(format_entry(ENTRIES[2]).encode()) == ENTRIES[2]


def test_a_header_cut_short_or_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError):
        read_manifest(io.BytesIO(b'{"egov-manifest":2,"dataset":"fi'))
    with pytest.raises(ValueError, match="format 3"):
        read_manifest(io.BytesIO(b'{"egov-manifest":3,"dataset":"d","host":"h","created_at":0}\n'))


def test_an_old_single_json_manifest_is_read_sorted() -> None:
    """Stored before the streamed format: digests named by their algorithm, a dump's entry
    without mtime, the snapshot id last (or none in the oldest)."""
    old = {
        "dataset": "files",
        "host": "h",
        "created_at": 2.5,
        "files": {
            "/srv/a/b.txt": {"size": 1, "mtime_ns": 5, "sha256": "aa", "inode": 7},
            "/srv/a/b/c": {"size": 2, "mtime_ns": 6, "blake3": "bb", "inode": 8},
            "/portal.dump": {"size": 3, "blake3": "cc"},
        },
        "snapshot_id": "f00d",
    }
    manifest = read_manifest(io.BytesIO(json.dumps(old, separators=(",", ":")).encode()))
    assert manifest == Manifest("files", "h", 2.5, snapshot_id="f00d", complete=True)
    assert list(manifest.entries) == [
        ManifestEntry("/portal.dump", 3, None, 0, "cc"),
        ManifestEntry("/srv/a/b/c", 2, 6, 8, "bb"),
        ManifestEntry("/srv/a/b.txt", 1, 5, 7, "aa", "sha256"),
    ]
    del old["snapshot_id"]
    assert read_manifest(io.BytesIO(json.dumps(old).encode())).snapshot_id is None


@pytest.mark.parametrize(
    "text",
    [
        '{"dataset":',
        '{"dataset":"d","host":"h","created_at":0,"files":{"/a":{"size":1}}}',
        '{"dataset":"d","host":"h","created_at":0,"files":{"/a":{"size":"1","blake3":"aa"}}}',
    ],
)
def test_an_old_manifest_torn_or_without_a_digest_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        read_manifest(io.BytesIO(text.encode()))
