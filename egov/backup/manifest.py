"""The checksums of a dataset taken at backup time, and their comparison after a restore.

Where it lives: **in the repository, beside the data snapshot**, as its own small snapshot
(``restic backup --stdin --stdin-filename manifest.jsonl``, naming the data snapshot in its
last line; older ones are called ``manifest.json`` or ``manifest-<id8>.json``; tags
``egov-manifest``, ``dataset:X``, ``site:S``, same ``--host``). It is then copied with the
data to every site and pruned with it (same retention group key: host and tags), so a
restore test at site 2 compares against what the source held, with no channel back to the
primary. It is not put *inside* the data snapshot: that would mean writing into the
backed-up trees. Its text is in ``egov.backup.manifestformat``.

Cost: hashing a 142 TB file store every night is impossible, so an entry is re-hashed only
when its size, mtime or inode changed since the last manifest (kept in the state directory),
as restic itself decides what to read. The manifest is computed while restic runs.

Memory does not grow with the number of files (tens of millions in the file store): the
trees are walked depth first with each directory's names sorted, which is the order the
manifest is kept in, so the last manifest is read beside the walk as a second sorted stream
and the two are merged entry by entry, each entry written out as soon as it is known. What
is held is one sorted directory listing per level of the walk and the file buffers. A
restored tree is checked the same way, entry by entry as the manifest is read.

Why BLAKE3: it is a cryptographic hash at about half SHA-256's CPU per byte here (0.37 against
0.70 CPU-s per GiB, reading included, on a CPU with SHA extensions; several times less on one
without), and the first manifest of the file store hashes all of it. Entries written before
(``sha256``) are still checked with SHA-256, and reused as they are while their file does not
change.

A file that changed between hashing and restic reading it is not a corruption: the restore
test compares content only where the restored size and mtime equal the manifest's (restic
restores mtimes) and counts the others as "changed during the backup".
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import os
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from blake3 import blake3

from egov.backup.manifestformat import (
    DEFAULT_ALGORITHM,
    Manifest,
    ManifestEntry,
    ManifestHeader,
    get_sort_key,
    read_manifest,
    save_manifest,
)

HASH_CHUNK_BYTES = 1 << 20
#: how many names of missing or differing files a comparison keeps: it counts them all
SAMPLE_NAMES = 100
#: threads comparing a restored tree with its manifest: each file's open, read and hash run
#: in blake3's Rust with the GIL released, so two threads on two cores took 0.6 of one
#: thread's time at 200,000 files of 4 KiB (four took no less than two)
COMPARE_THREADS = 2
#: the entries a comparison thread takes at a time, and how many such batches may wait:
#: the comparison's memory stays bounded whatever the number of files
COMPARE_BATCH = 256
COMPARE_BATCHES_AHEAD = 4
#: blake3's ``update_mmap`` reads a file smaller than this into a buffer and maps a larger
#: one; a mapped file truncated while it is hashed would kill the process (SIGBUS), so only
#: the small ones go that way
UNMAPPED_BYTES = 16 * 1024

#: the manifest's name inside its snapshot; the snapshot it vouches for is named in its last
#: line: the manifest's restic starts before that id is known
MANIFEST_FILENAME = "manifest.jsonl"


class FileInfo(Protocol):
    """What the merge reads of a file's ``lstat``."""

    @property
    def st_size(self) -> int: ...
    @property
    def st_mtime_ns(self) -> int: ...
    @property
    def st_ino(self) -> int: ...


def is_excluded(path: str, patterns: Sequence[str]) -> bool:
    """Whether restic's ``--exclude`` patterns drop ``path`` (the common forms: an absolute
    prefix such as ``/etc/egov/secrets``, a glob on the path, a glob on the base name)."""
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        if pattern.startswith("/"):
            if path == pattern or path.startswith(pattern.rstrip("/") + "/"):
                return True
            if fnmatch.fnmatchcase(path, pattern):
                return True
        elif fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(path, f"*/{pattern}"):
            return True
    return False


def make_walk_roots(roots: Sequence[str]) -> list[str]:
    """``roots`` without trailing slashes (``/`` becomes ``""``), in ``get_sort_key`` order,
    each once and none inside another: walked in turn, they give one sorted stream."""
    kept: list[str] = []
    for root in sorted({root.rstrip("/") for root in roots}, key=get_sort_key):
        if kept and (
            root == kept[-1] or get_sort_key(root).startswith(get_sort_key(kept[-1]) + "\0")
        ):
            continue
        kept.append(root)
    return kept


def _list_directory(directory: str, excludes: Sequence[str]) -> tuple[Iterator[str], set[str]]:
    """The sorted names of the directories and regular files in ``directory`` that
    ``excludes`` keeps, and which of them are directories; nothing when it cannot be read
    (restic reports it)."""
    names: list[str] = []
    subdirectories: set[str] = set()
    try:
        with os.scandir(directory or "/") as entries:
            for entry in entries:
                try:
                    # d_type from the listing: a symbolic link is neither
                    is_directory = entry.is_dir(follow_symlinks=False)
                    if not is_directory and not entry.is_file(follow_symlinks=False):
                        continue
                except OSError:
                    continue
                if is_excluded(f"{directory}/{entry.name}", excludes):
                    continue
                names.append(entry.name)
                if is_directory:
                    subdirectories.add(entry.name)
    except OSError:
        return iter(()), set()
    names.sort()
    return iter(names), subdirectories


def walk_files(
    roots: Sequence[str], excludes: Sequence[str]
) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under ``roots`` that ``excludes`` keeps, with its ``lstat``, in
    ``get_sort_key`` order: depth first, each directory's names sorted. Symbolic links are
    not followed; what cannot be read is left out."""
    for root in make_walk_roots(roots):
        stack = [(root, *_list_directory(root, excludes))]
        while stack:
            directory, remaining, directories = stack[-1]
            name = next(remaining, None)
            if name is None:
                stack.pop()
                continue
            path = f"{directory}/{name}"
            if name in directories:
                stack.append((path, *_list_directory(path, excludes)))
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield path, info


_buffers = threading.local()


def get_file_digest(path: str, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The hex digest of a file's content (BLAKE3, or ``sha256`` for older entries).

    Read into one reused 1 MiB buffer per thread: a fresh buffer per read costs page faults
    that, over 20,000 files, come to a tenth of the hashing itself.
    """
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(HASH_CHUNK_BYTES)
    view = memoryview(buffer)
    hasher = blake3() if algorithm == DEFAULT_ALGORITHM else hashlib.new(algorithm)
    with open(path, "rb", buffering=0) as handle:  # noqa: PTH123 (hot loop)
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
    return hasher.hexdigest()


def merge_entries(
    found: Iterable[tuple[str, FileInfo]],
    previous: Iterable[ManifestEntry],
    digest: Callable[[str], str] = get_file_digest,
) -> Iterator[ManifestEntry]:
    """The entries of the files ``found`` (a walk, in ``get_sort_key`` order), reusing the
    entry of ``previous`` (the last manifest, same order) whose path, size, mtime and inode
    are unchanged and hashing the others. A file that cannot be read is left out (restic
    reports it).

    Both streams are read once, side by side: a ``previous`` out of order costs reuses,
    never a wrong entry, since an entry is reused only for its own path.
    """
    earlier = iter(previous)
    old = next(earlier, None)
    old_key = get_sort_key(old.path) if old is not None else ""
    for path, info in found:
        key = get_sort_key(path)
        while old is not None and old_key < key:
            old = next(earlier, None)
            old_key = get_sort_key(old.path) if old is not None else ""
        if (
            old is not None
            and old.path == path
            and old.size == info.st_size
            and old.mtime_ns == info.st_mtime_ns
            and old.inode == info.st_ino
        ):
            yield old
            continue
        try:
            value = digest(path)
        except OSError:
            continue
        yield ManifestEntry(path, info.st_size, info.st_mtime_ns, info.st_ino, value)


def make_manifest(
    destination: Path,
    header: ManifestHeader,
    roots: Sequence[str],
    excludes: Sequence[str],
    previous: Path | None = None,
) -> int:
    """Write the manifest of every regular file under ``roots`` to ``destination``
    (atomically), reusing the entries of the manifest file ``previous`` whose file is
    unchanged (``merge_entries``); return the number of entries.

    ``previous`` may be ``destination`` itself (the state directory's copy of the last
    run), in either format; one that is absent or unreadable only costs hashing again.
    """
    with ExitStack() as stack:
        reused: Iterable[ManifestEntry] = ()
        if previous is not None:
            try:
                handle = stack.enter_context(previous.open("rb"))
                reused = _until_unreadable(read_manifest(handle).entries)
            except (OSError, ValueError):
                reused = ()
        return save_manifest(
            destination, header, merge_entries(walk_files(roots, excludes), reused)
        )


def _until_unreadable(entries: Iterable[ManifestEntry]) -> Iterator[ManifestEntry]:
    """``entries`` up to the first that cannot be read: a torn state copy is reused as far
    as it goes."""
    iterator = iter(entries)
    while True:
        try:
            entry = next(iterator)
        except (StopIteration, OSError, ValueError):
            return
        yield entry


@dataclass
class ManifestComparison:
    """What a restored tree holds compared with the manifest taken at backup time.

    All missing and differing files are counted; only the first ``SAMPLE_NAMES`` of each
    are named, so a comparison of tens of millions of files stays small.
    """

    checked: int = 0
    changed_during_backup: int = 0
    missing_count: int = 0
    mismatched_count: int = 0
    missing: list[str] = field(default_factory=list)
    """The first missing files' paths."""
    mismatched: list[str] = field(default_factory=list)
    """The first differing files' paths."""

    @property
    def ok(self) -> bool:
        """True when every file the manifest vouches for came back byte-exact."""
        return not self.missing_count and not self.mismatched_count

    def add_missing(self, path: str) -> None:
        """Count ``path`` as missing from the restored tree."""
        self.missing_count += 1
        if len(self.missing) < SAMPLE_NAMES:
            self.missing.append(path)

    def add_mismatched(self, path: str) -> None:
        """Count ``path`` as restored with other content than the manifest's."""
        self.mismatched_count += 1
        if len(self.mismatched) < SAMPLE_NAMES:
            self.mismatched.append(path)

    def add(self, other: ManifestComparison) -> None:
        """Add the comparison of the entries that follow this one's (a later batch)."""
        self.checked += other.checked
        self.changed_during_backup += other.changed_during_backup
        self.missing_count += other.missing_count
        self.mismatched_count += other.mismatched_count
        self.missing.extend(other.missing[: SAMPLE_NAMES - len(self.missing)])
        self.mismatched.extend(other.mismatched[: SAMPLE_NAMES - len(self.mismatched)])

    def describe(self, limit: int = 5) -> str:
        """``2 files differ (/srv/a, /srv/b); 1 missing (/srv/c)``."""
        parts = []
        if self.mismatched_count:
            shown = ", ".join(self.mismatched[:limit])
            parts.append(f"{self.mismatched_count} files differ ({shown})")
        if self.missing_count:
            parts.append(f"{self.missing_count} missing ({', '.join(self.missing[:limit])})")
        return "; ".join(parts) or f"{self.checked} files identical"


def get_restored_digest(path: str, entry: ManifestEntry) -> str:
    """The digest of the restored file at ``path`` by ``entry``'s algorithm.

    A small BLAKE3 one is opened, read and hashed by blake3's Rust in one call, with the
    GIL released (``update_mmap``, which reads rather than maps below ``UNMAPPED_BYTES``):
    a tenth less time than reading it from Python, and the threads of a comparison then run
    side by side. Others are read a MiB at a time (``get_file_digest``).
    """
    if entry.algorithm == DEFAULT_ALGORITHM and entry.size < UNMAPPED_BYTES:
        hasher = blake3()
        hasher.update_mmap(path)
        return hasher.hexdigest()
    return get_file_digest(path, entry.algorithm)


def matches(entry: ManifestEntry, path: str | Path) -> bool:
    """Whether the file at ``path`` holds ``entry``'s content, by the entry's algorithm."""
    return get_restored_digest(str(path), entry) == entry.digest


def compare_entries(entries: Iterable[ManifestEntry], root: str) -> ManifestComparison:
    """Compare the files restored under ``root`` (no trailing slash) with ``entries``.

    Content is compared only where the restored size and mtime equal the entry's: a file
    changed while the backup read it is counted, not compared (see the module's text).
    """
    comparison = ManifestComparison()
    for entry in entries:
        restored = f"{root}/{entry.path.lstrip('/')}"
        try:
            info = os.lstat(restored)
        except OSError:
            comparison.add_missing(entry.path)
            continue
        moved = entry.mtime_ns is not None and info.st_mtime_ns // 1000 != entry.mtime_ns // 1000
        if info.st_size != entry.size or moved:
            comparison.changed_during_backup += 1
            continue
        comparison.checked += 1
        try:
            same = matches(entry, restored)
        except OSError:
            same = False
        if not same:
            comparison.add_mismatched(entry.path)
    return comparison


def compare_manifest(
    manifest: Manifest, restored_root: Path, threads: int = COMPARE_THREADS
) -> ManifestComparison:
    """Compare the files restored under ``restored_root`` (restic keeps absolute paths below
    the target) with ``manifest``, entry by entry as its stream is read.

    The stream is cut into batches compared by ``threads`` threads; their results are
    added up in the manifest's order, so the files named are the first ones whatever the
    threads' timing, and at most ``COMPARE_BATCHES_AHEAD`` batches per thread are held.
    """
    root = str(restored_root).rstrip("/")
    comparison = ManifestComparison()
    entries = iter(manifest.entries)
    with ThreadPoolExecutor(threads, thread_name_prefix="compare") as pool:
        pending: deque[Future[ManifestComparison]] = deque()
        while batch := tuple(itertools.islice(entries, COMPARE_BATCH)):
            pending.append(pool.submit(compare_entries, batch, root))
            if len(pending) > COMPARE_BATCHES_AHEAD * threads:
                comparison.add(pending.popleft().result())
        for future in pending:
            comparison.add(future.result())
    return comparison
