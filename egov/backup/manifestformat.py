"""The manifest's text: a header line, one line per file in path order, a trailer; read as a stream.

Why lines and not one JSON document: the file store holds tens of millions of files, and a
document must be held whole to be written or read (300,000 entries took 822 MiB and 40 s to
dump and load as pydantic models). One line per entry is written as it is made and read back
one at a time, so memory does not grow with the number of files, and the previous manifest
and the tree being walked can be merged as two sorted streams (``egov.backup.manifest``).

The text, ASCII only (paths are JSON strings, so any byte a name may hold, newline and
undecodable bytes included, survives the round trip through ``os.fsdecode``'s escapes)::

    {"egov-manifest":2,"dataset":"files","host":"primary-store-01","created_at":1733.5,"digest":"blake3"}
    ["/srv/files/a.pdf",48213,1733000000123456789,5243,"9f3a…"]
    ["/portal.dump",1048576,null,0,"sha256:0be1…"]
    {"snapshot_id":"c0ffee…"}

An entry is ``[path, size, mtime_ns, inode, digest]``: a short array rather than an object
(about 105 bytes plus the path; the single document took 140), ``mtime_ns`` null for a
stream (a database dump), a digest in the header's algorithm unless it names its own
(``sha256:…``, entries carried over from before BLAKE3). Entries come in path order with
``/`` before every other character, which is the order of a depth-first walk that visits a
directory's names sorted (``get_sort_key``).

The trailer names the data snapshot the manifest vouches for and comes last because that id
is known only when restic's backup ends: everything before it is fed to the manifest's own
restic while the backup runs (``egov.backup.manifestsnapshot``). A manifest without its
trailer is either the state directory's copy (written before the id is known) or a stream
cut short; ``Manifest.complete`` tells them from whole ones.

Manifests stored before this format are one JSON document (``{"dataset":…,"files":{path:
{size, mtime_ns, blake3 | sha256, inode}}, "snapshot_id":…}``); they are told apart by their
first bytes and still read (whole: the old code could not make large ones anyway), so restore
tests of old snapshots and the first run after an upgrade keep working.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import IO, NamedTuple

FORMAT_VERSION = 2
FORMAT_KEY = "egov-manifest"
#: what every manifest of this format starts with; an older one starts with ``{"dataset"``
FORMAT_PREFIX = f'{{"{FORMAT_KEY}":'.encode()
DEFAULT_ALGORITHM = "blake3"
TRAILER_KEY = "snapshot_id"
#: the trailer is one short line: reading this much of the end always holds it whole
TRAILER_SEARCH_BYTES = 4096


def get_sort_key(path: str) -> str:
    """The key manifests are sorted by: ``path`` with ``/`` below every other character.

    Comparing these keys compares paths name by name, which is the order of a depth-first
    walk visiting each directory's names sorted: ``/a/b/c`` before ``/a/b.txt`` (``b`` <
    ``b.txt``), although ``/`` sorts after ``.`` as a character.
    """
    return path.replace("/", "\0")


class ManifestEntry(NamedTuple):
    """One regular file (or one dump), as one line holds it."""

    path: str
    size: int
    mtime_ns: int | None
    """None for a stream (a dump): nothing restores its mtime."""
    inode: int
    digest: str
    algorithm: str = DEFAULT_ALGORITHM
    """``blake3``, or ``sha256`` for entries written before BLAKE3."""


@dataclass(frozen=True)
class ManifestHeader:
    """What the first line says: whose files, and when the manifest was started."""

    dataset: str
    host: str
    created_at: float


@dataclass(frozen=True)
class Manifest:
    """A manifest read back: its header, trailer, and its entries as a stream.

    ``entries`` is read again from where the manifest is kept each time it is iterated
    (one iteration at a time); two manifests are equal when header and snapshot are.
    """

    dataset: str
    host: str
    created_at: float
    snapshot_id: str | None = None
    complete: bool = True
    """False for a manifest of this format without its trailer: the state directory's copy,
    or one cut short (never to be trusted as a stored manifest)."""
    entries: Iterable[ManifestEntry] = field(default=(), compare=False, repr=False)

    def find(self, path: str) -> ManifestEntry | None:
        """The entry of ``path``, read through the stream (for the few entries of dumps)."""
        return next((entry for entry in self.entries if entry.path == path), None)


def format_header(header: ManifestHeader) -> str:
    """The first line of a manifest."""
    fields = {
        FORMAT_KEY: FORMAT_VERSION,
        "dataset": header.dataset,
        "host": header.host,
        "created_at": header.created_at,
        "digest": DEFAULT_ALGORITHM,
    }
    return json.dumps(fields, separators=(",", ":")) + "\n"


def format_entry(entry: ManifestEntry) -> str:
    """One entry's line, e.g. ``["/srv/a",12,1733000000000000000,77,"9f3a…"]``."""
    mtime = "null" if entry.mtime_ns is None else entry.mtime_ns
    digest = (
        entry.digest
        if entry.algorithm == DEFAULT_ALGORITHM
        else f"{entry.algorithm}:{entry.digest}"
    )
    return (
        f'[{encode_basestring_ascii(entry.path)},{entry.size},{mtime},{entry.inode},"{digest}"]\n'
    )


def get_snapshot_suffix(snapshot_id: str) -> str:
    """What ends a manifest: the trailer naming the data snapshot it vouches for.

    It goes last, so that all the rest can be written while the backup, whose end gives
    the id, still runs (``egov.backup.manifestsnapshot``).
    """
    return json.dumps({TRAILER_KEY: snapshot_id}, separators=(",", ":")) + "\n"


def write_manifest(
    handle: IO[str], header: ManifestHeader, entries: Iterable[ManifestEntry]
) -> int:
    """Write the header and ``entries`` (already in ``get_sort_key`` order) to ``handle``,
    no trailer; return how many entries were written."""
    handle.write(format_header(header))
    count = 0
    for entry in entries:
        handle.write(format_entry(entry))
        count += 1
    return count


def save_manifest(
    destination: Path, header: ManifestHeader, entries: Iterable[ManifestEntry]
) -> int:
    """Write a manifest to ``destination`` atomically (a temporary file beside it, renamed
    over it once whole), so that ``destination`` may itself be the file ``entries`` are
    read from; return the number of entries."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.tmp")
    with temporary.open("w", encoding="ascii", buffering=1 << 20) as handle:
        count = write_manifest(handle, header, entries)
    temporary.replace(destination)
    return count


#: ``raw_decode`` of a decoded line: a third of ``json.loads`` on bytes, which first guesses
#: the encoding (it was 40 % of an incremental run's CPU)
_DECODER = json.JSONDecoder()


def parse_entry(line: bytes) -> ManifestEntry:
    """An entry from its line; raise ValueError when the line is not one (a torn end)."""
    try:
        path, size, mtime_ns, inode, digest = _DECODER.raw_decode(line.decode("ascii"))[0]
    except (TypeError, ValueError):
        raise ValueError(f"not a manifest entry: {line[:80]!r}") from None
    algorithm, _, value = digest.rpartition(":")
    return ManifestEntry(path, size, mtime_ns, inode, value, algorithm or DEFAULT_ALGORITHM)


class _EntryLines:
    """The entries of a manifest file of this format, read from ``offset`` each iteration."""

    def __init__(self, handle: IO[bytes], offset: int) -> None:
        self._handle = handle
        self._offset = offset

    def __iter__(self) -> Iterator[ManifestEntry]:
        handle = self._handle
        handle.seek(self._offset)
        trailer = b'{"' + TRAILER_KEY.encode()
        for line in handle:
            if line.startswith(trailer):
                return
            yield parse_entry(line)


def read_manifest(handle: IO[bytes]) -> Manifest:
    """The manifest in ``handle`` (a seekable binary file, kept open by the result: its
    entries are read from it), of either format.

    Only the first line and the end are read now. Raise ValueError when ``handle`` holds no
    manifest (an old-format document torn or without digests, a header of another version).
    """
    handle.seek(0)
    first = handle.readline()
    if not first.startswith(FORMAT_PREFIX):
        handle.seek(0)
        return parse_old_manifest(handle.read())
    try:
        header = json.loads(first)
        version = header[FORMAT_KEY]
        dataset, host, created_at = header["dataset"], header["host"], header["created_at"]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"not a manifest header: {first[:120]!r}") from None
    if version != FORMAT_VERSION or header.get("digest", DEFAULT_ALGORITHM) != DEFAULT_ALGORITHM:
        raise ValueError(f"manifest format {version} is not {FORMAT_VERSION}: upgrade egov")
    snapshot_id = _read_trailer(handle)
    return Manifest(
        dataset=str(dataset),
        host=str(host),
        created_at=float(created_at),
        snapshot_id=snapshot_id,
        complete=snapshot_id is not None,
        entries=_EntryLines(handle, len(first)),
    )


def _read_trailer(handle: IO[bytes]) -> str | None:
    """The snapshot id of the last line, or None when the last line is no trailer."""
    end = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, end - TRAILER_SEARCH_BYTES))
    tail = handle.read()
    if not tail.endswith(b"\n"):
        return None
    last = tail[:-1].rpartition(b"\n")[2]
    if not last.startswith(b'{"' + TRAILER_KEY.encode()):
        return None
    try:
        snapshot_id = json.loads(last)[TRAILER_KEY]
    except (KeyError, TypeError, ValueError):
        return None
    return snapshot_id if isinstance(snapshot_id, str) else None


def parse_old_manifest(text: bytes | str) -> Manifest:
    """A manifest of the single-JSON format that came before, its entries sorted.

    Raise ValueError when ``text`` is not one (torn, or an entry without a digest).
    """
    try:
        document = json.loads(text)
        files = document["files"]
        header = (str(document["dataset"]), str(document["host"]), float(document["created_at"]))
        entries = [_parse_old_entry(path, fields) for path, fields in files.items()]
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a manifest: {error}") from None
    entries.sort(key=lambda entry: get_sort_key(entry.path))
    snapshot_id = document.get(TRAILER_KEY)
    return Manifest(*header, snapshot_id=snapshot_id, complete=True, entries=entries)


def _parse_old_entry(path: str, fields: dict[str, object]) -> ManifestEntry:
    """``{"size", "mtime_ns"?, "blake3" | "sha256", "inode"?}``; the digest is required."""
    size, mtime_ns, inode = fields["size"], fields.get("mtime_ns"), fields.get("inode", 0)
    if not isinstance(size, int) or not isinstance(inode, int):
        raise ValueError(f"{path}: size and inode must be integers")
    if mtime_ns is not None and not isinstance(mtime_ns, int):
        raise ValueError(f"{path}: mtime_ns must be an integer")
    for algorithm in (DEFAULT_ALGORITHM, "sha256"):
        digest = fields.get(algorithm)
        if isinstance(digest, str) and digest:
            return ManifestEntry(path, size, mtime_ns, inode, digest, algorithm)
    raise ValueError(f"{path}: a manifest entry needs its blake3 (or an older sha256) digest")
