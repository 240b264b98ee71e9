"""The checksums of a dataset taken at backup time, and their comparison after a restore.

Where it lives: **in the repository, beside the data snapshot**, as its own small snapshot
(``restic backup --stdin --stdin-filename manifest.json``, naming the data snapshot inside;
older ones are called ``manifest-<id8>.json``; tags ``egov-manifest``,
``dataset:X``, ``site:S``, same ``--host``). It is then copied with the data to every site
and pruned with it (same retention group key: host and tags), so a restore test at site 2
compares against what the source held, with no channel back to the primary. It is not put
*inside* the data snapshot: that would mean writing into the backed-up trees.

Cost: hashing a 142 TB file store every night is impossible, so an entry is re-hashed only
when its size, mtime or inode changed since the last manifest (kept in the state directory),
as restic itself decides what to read. The manifest is computed while restic runs.

A file that changed between hashing and restic reading it is not a corruption: the restore
test compares content only where the restored size and mtime equal the manifest's (restic
restores mtimes) and counts the others as "changed during the backup".
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

HASH_CHUNK_BYTES = 1 << 20


class ManifestEntry(BaseModel):
    """One regular file: ``[size, mtime_ns, sha256]`` would be shorter; names help readers."""

    model_config = ConfigDict(frozen=True)

    size: int
    mtime_ns: int | None = Field(default=None, description="None for a stream (a dump).")
    sha256: str
    inode: int = 0


class Manifest(BaseModel):
    """Absolute path → entry, for one dataset on one host at one backup."""

    dataset: str
    host: str
    created_at: float
    snapshot_id: str | None = None
    files: dict[str, ManifestEntry] = Field(default_factory=dict)


#: the manifest's name inside its snapshot; the snapshot it vouches for is named inside
#: (``snapshot_id``): the manifest's restic starts before that id is known
MANIFEST_FILENAME = "manifest.json"


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


def _walk(roots: Sequence[str], excludes: Sequence[str]) -> Iterator[tuple[str, os.stat_result]]:
    for root in roots:
        for directory, subdirectories, names in os.walk(root):
            subdirectories[:] = [
                name for name in subdirectories if not is_excluded(f"{directory}/{name}", excludes)
            ]
            for name in names:
                path = f"{directory}/{name}"
                if is_excluded(path, excludes):
                    continue
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    yield path, info


def get_file_sha256(path: str) -> str:
    """SHA-256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:  # noqa: PTH123 (hot loop; os-level is enough)
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def make_manifest(
    dataset: str,
    host: str,
    roots: Sequence[str],
    excludes: Sequence[str],
    created_at: float,
    previous: Manifest | None = None,
) -> Manifest:
    """Hash every regular file under ``roots``, reusing ``previous`` entries whose size,
    mtime and inode are unchanged. Unreadable files are left out (restic reports them)."""
    known = previous.files if previous is not None else {}
    files: dict[str, ManifestEntry] = {}
    for path, info in _walk(roots, excludes):
        old = known.get(path)
        if (
            old is not None
            and old.size == info.st_size
            and old.mtime_ns == info.st_mtime_ns
            and old.inode == info.st_ino
        ):
            files[path] = old
            continue
        try:
            digest = get_file_sha256(path)
        except OSError:
            continue
        files[path] = ManifestEntry(
            size=info.st_size, mtime_ns=info.st_mtime_ns, sha256=digest, inode=info.st_ino
        )
    return Manifest(dataset=dataset, host=host, created_at=created_at, files=files)


def load_manifest(path: Path) -> Manifest | None:
    """A manifest saved by `save_manifest`, or None when absent or unreadable."""
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save_manifest(manifest: Manifest, path: Path) -> None:
    """Write ``manifest`` atomically (the next backup reuses its hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(manifest.model_dump_json(), encoding="utf-8")
    temporary.replace(path)


@dataclass
class ManifestComparison:
    """What a restored tree holds compared with the manifest taken at backup time."""

    checked: int = 0
    changed_during_backup: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file the manifest vouches for came back byte-exact."""
        return not self.missing and not self.mismatched

    def describe(self, limit: int = 5) -> str:
        """``2 files differ (/srv/a, /srv/b); 1 missing (/srv/c)``."""
        parts = []
        if self.mismatched:
            shown = ", ".join(self.mismatched[:limit])
            parts.append(f"{len(self.mismatched)} files differ ({shown})")
        if self.missing:
            parts.append(f"{len(self.missing)} missing ({', '.join(self.missing[:limit])})")
        return "; ".join(parts) or f"{self.checked} files identical"


def compare_manifest(manifest: Manifest, restored_root: Path) -> ManifestComparison:
    """Compare the files restored under ``restored_root`` (restic keeps absolute paths below
    the target) with ``manifest``."""
    comparison = ManifestComparison()
    for path, entry in sorted(manifest.files.items()):
        restored = restored_root / path.lstrip("/")
        try:
            info = restored.lstat()
        except OSError:
            comparison.missing.append(path)
            continue
        moved = entry.mtime_ns is not None and info.st_mtime_ns // 1000 != entry.mtime_ns // 1000
        if info.st_size != entry.size or moved:
            comparison.changed_during_backup += 1
            continue
        comparison.checked += 1
        if get_file_sha256(str(restored)) != entry.sha256:
            comparison.mismatched.append(path)
    return comparison


def dump_manifest(manifest: Manifest) -> str:
    """The manifest as stored in the repository (compact JSON)."""
    return json.dumps(manifest.model_dump(mode="json"), separators=(",", ":"))
