"""The state egov's jobs keep, and the exporter and ``egov backup status`` read.

Backups, the repository catalog, verification, restore tests and drills each leave one small
JSON record per subject, written atomically after every run, success or failure. Readers never
run restic nor list a repository: they read these files, so a scrape or a status call costs
the same whatever the number of snapshots.

Layout under the state directory (``$EGOV_STATE_DIR``, default ``/var/lib/egov/state``)::

    backup/<dataset>@<host>.json        BackupRecord      (written by the agent on each host)
    catalog/<repository>.json           CatalogRecord     (written by the catalog refresh)
    replication/<repository>.json       ReplicationRecord (the last copy into a repository)
    verify/<repository>.json            VerificationRecord
    restore/<dataset>@<repository>.json RestoreTestRecord
    drills/<scenario>.json              DrillRecord

Times are Unix epoch seconds (float). Records never hold a secret: errors are masked first.
"""

from __future__ import annotations

import json
import os
import tempfile
from abc import abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egov.hostlayout import STATE_DIRECTORY
from egov.inputfile import JSON_INPUT, UnreadableInput, read_input_bytes

STATE_DIR_ENVIRONMENT_VARIABLE = "EGOV_STATE_DIR"
DEFAULT_STATE_DIR = Path(STATE_DIRECTORY)
RECORD_FILE_MODE = 0o640


class Result(StrEnum):
    """How a run ended."""

    SUCCESS = "success"
    FAILURE = "failure"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    #: the sub-directory of the state directory this kind of record lives in
    KIND: ClassVar[str] = ""

    @abstractmethod
    def key(self) -> str:
        """The file name (without ``.json``) of this record."""


class BackupRecord(_Record):
    """The last backup of one dataset from one host, and its last success."""

    KIND: ClassVar[str] = "backup"
    dataset: str
    host: str = Field(description="Qualified host name, e.g. primary-db-01.")
    site: str
    repository: str
    started_at: float
    finished_at: float
    result: Result
    error: str = ""
    snapshot_id: str | None = None
    snapshot_time: float | None = None
    bytes_added: int = 0
    bytes_processed: int = 0
    files_processed: int = 0
    last_success_at: float | None = Field(
        default=None, description="Kept across failures so the series never vanishes."
    )
    last_success_snapshot_time: float | None = None

    def key(self) -> str:
        return f"{self.dataset}@{self.host}"


class LatestSnapshot(BaseModel):
    """The newest snapshot of one dataset from one host in a repository."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    time: float


class CatalogRecord(_Record):
    """What one repository holds, summarised: it never grows with the number of snapshots."""

    KIND: ClassVar[str] = "catalog"
    repository: str
    site: str
    refreshed_at: float
    result: Result
    error: str = ""
    snapshot_count: int = 0
    size_bytes: int | None = None
    latest: dict[str, dict[str, LatestSnapshot]] = Field(
        default_factory=dict, description="dataset → host → newest snapshot."
    )
    last_success_at: float | None = None

    def key(self) -> str:
        return self.repository


class ReplicationRecord(_Record):
    """The last copy of new snapshots into one repository: how long it took, how much came.

    restic 0.14's ``copy`` prints no summary, so ``bytes_copied`` is the growth of the
    target's ``stats --mode raw-data`` across the copy (None when either size is unknown).
    """

    KIND: ClassVar[str] = "replication"
    source: str
    repository: str
    site: str
    source_site: str
    started_at: float
    finished_at: float
    result: Result
    error: str = ""
    bytes_copied: int | None = None

    def key(self) -> str:
        return self.repository


class VerificationRecord(_Record):
    """Rolling ``restic check --read-data-subset=n/t``: where the rotation stands."""

    KIND: ClassVar[str] = "verify"
    repository: str
    site: str
    checked_at: float
    result: Result
    error: str = ""
    subset: int = Field(description="n of the last n/t checked.")
    subsets: int = Field(description="t: the rotation reads everything over t runs.")
    cycle_started_at: float | None = None
    last_full_cycle_at: float | None = Field(
        default=None, description="When a whole rotation last completed without error."
    )
    last_success_at: float | None = None

    def key(self) -> str:
        return self.repository

    @property
    def coverage_ratio(self) -> float:
        """Share of the repository read in the current rotation."""
        return min(self.subset / self.subsets, 1.0) if self.subsets else 0.0


class RestoreTestRecord(_Record):
    """The last restore test of one dataset from one repository."""

    KIND: ClassVar[str] = "restore"
    dataset: str
    repository: str
    site: str
    tested_at: float
    result: Result
    error: str = ""
    snapshot_id: str | None = None
    duration_seconds: float = 0.0
    files_checked: int = 0
    last_success_at: float | None = None

    def key(self) -> str:
        return f"{self.dataset}@{self.repository}"


class DrillRecord(_Record):
    """The last run of one drill scenario, with what it measured per service."""

    KIND: ClassVar[str] = "drills"
    scenario: str
    mode: str
    started_at: float
    finished_at: float
    result: Result
    error: str = ""
    rto_seconds: dict[str, float] = Field(default_factory=dict, description="service → RTO.")
    rpo_seconds: dict[str, float] = Field(default_factory=dict, description="service → RPO.")
    lost_records: dict[str, int] = Field(
        default_factory=dict, description="service → acknowledged records lost."
    )
    failed_writes: dict[str, int] = Field(
        default_factory=dict, description="service → canary writes refused (verdict's count)."
    )
    last_success_at: float | None = None
    journal_closing_hash: str = Field(
        default="",
        description="SHA-256 of the run journal's signed closing entry: a copy of the journal "
        "that `egov drill verify` passes must end with it.",
    )
    journal_key: str = Field(default="", description="Fingerprint of the key that signed it.")

    def key(self) -> str:
        return self.scenario


RecordT = TypeVar("RecordT", bound=_Record)


def get_state_dir() -> Path:
    """The state directory: ``$EGOV_STATE_DIR`` or /var/lib/egov/state."""
    return Path(os.environ.get(STATE_DIR_ENVIRONMENT_VARIABLE, str(DEFAULT_STATE_DIR)))


def write_record(record: _Record, state_dir: Path | None = None) -> Path:
    """Write ``record`` atomically (a reader sees the old file or the new, never half)."""
    directory = (state_dir or get_state_dir()) / record.KIND
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{record.key()}.json"
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{record.key()}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(record.model_dump_json(indent=1))
        Path(temporary).chmod(RECORD_FILE_MODE)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def read_record(kind: type[RecordT], key: str, state_dir: Path | None = None) -> RecordT | None:
    """The record ``key`` of ``kind``, or None when absent or unreadable."""
    path = (state_dir or get_state_dir()) / kind.KIND / f"{key}.json"
    return _load(kind, path)


def read_records(kind: type[RecordT], state_dir: Path | None = None) -> list[RecordT]:
    """Every readable record of ``kind``, sorted by key; unreadable files are skipped."""
    directory = (state_dir or get_state_dir()) / kind.KIND
    if not directory.is_dir():
        return []
    records = [_load(kind, path) for path in sorted(directory.glob("*.json"))]
    return [record for record in records if record is not None]


@dataclass
class _CachedFile:
    stamp: tuple[int, int, int]
    record: _Record


@dataclass
class RecordReader:
    """Reads records of the state directory, remembering the last good one of each file.

    For a reader that lives long (the exporter, on every scrape): an unchanged file (same
    inode, size and mtime) is not parsed again, and a file that turns unreadable still gives
    its last good record, so a half-broken state directory never makes a series vanish.
    """

    state_dir: Path
    _cache: dict[Path, _CachedFile] = field(default_factory=dict)

    def check(self) -> None:
        """Raise OSError when the state directory cannot be listed."""
        if not self.state_dir.is_dir():
            raise FileNotFoundError(f"{self.state_dir} is not a directory")
        next(iter(self.state_dir.iterdir()), None)

    def read(self, kind: type[RecordT], key: str) -> RecordT | None:
        """The record ``key`` of ``kind``; its last readable version when now unreadable."""
        path = self.state_dir / kind.KIND / f"{key}.json"
        cached = self._cache.get(path)
        record: _Record | None
        try:
            stat = path.stat()
            stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if cached is not None and cached.stamp == stamp:
                record = cached.record
            else:
                record = kind.model_validate_json(read_input_bytes(path, JSON_INPUT))
                self._cache[path] = _CachedFile(stamp, record)
        except (OSError, ValueError, ValidationError, UnreadableInput):  # a FIFO never blocks
            record = cached.record if cached is not None else None
        return record if isinstance(record, kind) else None

    def keys(self, kind: type[_Record]) -> list[str]:
        """Keys of the records of ``kind`` present now (and those seen before)."""
        directory = self.state_dir / kind.KIND
        present = {path.stem for path in directory.glob("*.json")} if directory.is_dir() else set()
        seen = {path.stem for path in self._cache if path.parent == directory}
        return sorted(present | seen)


def _refuse_constant(name: str) -> float:
    """``json.loads`` hook: a record holding NaN or Infinity is unreadable, not a number.

    No writer of egov's puts them there (pydantic writes them as null); a record that holds
    one was damaged or hand-made, and every reader would compare or format it wrongly.
    """
    raise ValueError(f"{name} is not a value a record holds")


def _load(kind: type[RecordT], path: Path) -> RecordT | None:
    try:
        text = read_input_bytes(path, JSON_INPUT)
        return kind.model_validate(json.loads(text, parse_constant=_refuse_constant))
    except (OSError, ValueError, ValidationError, UnreadableInput):  # a FIFO never blocks
        return None
