"""What an archive host's Barman knows about each server it runs, read from Barman's own files
and JSON output: the newest WAL it holds, the stream, the newest base backup, its checks.

Everything here is pure but ``read_xlog_db``: the parsers take the text Barman wrote or printed
(samples of real Barman 3.4 output are in ``tests/backup/data/barman``) and the thresholds take
the inventory. They are the one reading of that text: ``pointintime`` recovers from the same
base backups and checks its replay against the same ``xlog.db``.
``archivemetrics`` runs Barman and writes the node_exporter textfile; ``archivestatus`` reads
the textfile's series back from the hosts for ``egov backup status``.

Which ``barman check`` items count as a failure: all of them except
``minimum_redundancy_requirements``, which fails only because no base backup exists yet ("have
0 backups, expected at least 1") and so says nothing about the WAL; a missing base backup is
``BaseBackupStale``'s to judge, against the time the archive has been receiving WAL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from egov.backup.walarchive import ArchivedCluster, get_archived_clusters, get_host_archives
from egov.inventory.backup import Schedule
from egov.inventory.derive import get_active_sites
from egov.inventory.model import Estate, HostRef

#: ``barman check`` items that fail on a healthy archive with no base backup yet.
NO_BACKUP_YET_CHECKS: frozenset[str] = frozenset({"minimum_redundancy_requirements"})
#: What the base backup of a big cluster may take: it starts at night and may run until
#: morning (4.8 TB at 150 MB/s is about 9 hours), so its age is judged with this much slack.
BASE_BACKUP_DURATION = timedelta(hours=12)
#: What the WAL's age may exceed the archive's RPO by before it is stale: a segment closed at
#: ``archive_timeout`` reaches the textfile up to one collection (20 s) after it is complete.
WAL_SLACK = timedelta(seconds=30)
#: Barman's catalogue of filed WAL: one line per segment, name, size, epoch time, compression.
XLOG_DB = "wals/xlog.db"
STREAMING_DIRECTORY = "streaming"
#: A WAL segment's file name: timeline, log and segment, 8 hex digits each.
SEGMENT_NAME = re.compile(r"[0-9A-F]{24}")
PARTIAL_SUFFIX = ".partial"


class ArchiveServer(BaseModel):
    """One Barman server an archive host runs, as the agent configuration carries it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: str
    dataset: str
    site: str
    rpo_seconds: float
    base_backup_limit_seconds: float


def get_wal_limit(rpo: timedelta) -> timedelta:
    """How old the newest archived WAL may be: the archive's RPO and ``WAL_SLACK``."""
    return rpo + WAL_SLACK


def get_base_backup_limit(schedule: Schedule) -> timedelta:
    """How old the newest base backup may be: one interval of the archive's schedule, its
    randomized delay, and ``BASE_BACKUP_DURATION`` for the backup itself to finish."""
    return schedule.interval + schedule.randomized_delay + BASE_BACKUP_DURATION


def make_archive_server(pair: ArchivedCluster) -> ArchiveServer:
    """The agent configuration's entry of one Barman server."""
    return ArchiveServer(
        server=pair.server,
        dataset=pair.dataset,
        site=pair.archive_host.site,
        rpo_seconds=pair.rpo.total_seconds(),
        base_backup_limit_seconds=get_base_backup_limit(pair.schedule).total_seconds(),
    )


def make_archive_servers(estate: Estate, ref: HostRef) -> list[ArchiveServer]:
    """The Barman servers ``ref`` runs (none for a host that archives nothing)."""
    return [make_archive_server(pair) for pair in get_host_archives(estate, ref)]


def get_active_archives(estate: Estate) -> list[ArchivedCluster]:
    """The Barman servers on archive hosts at existing sites (a planned site runs nothing):
    what the alerts and ``egov backup status`` expect to hear from."""
    sites = set(get_active_sites(estate))
    return [pair for pair in get_archived_clusters(estate) if pair.archive_host.site in sites]


@dataclass(frozen=True)
class ServerState:
    """What one archive host knows of one Barman server; None where it knows nothing (no WAL
    yet, no base backup yet, the part could not be read).

    ``failed`` names the parts whose reading failed this time (``wal``, ``backups``,
    ``check``): their values are the previous collection's (``carry_over``), never dropped.
    """

    server: str
    dataset: str
    site: str
    host: str
    last_wal_at: float | None = None
    first_wal_at: float | None = None
    stream_at: float | None = None
    last_base_backup_at: float | None = None
    base_backups: int | None = None
    checks: tuple[tuple[str, bool], ...] = ()
    collected_at: float | None = None
    failed: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=(), compare=False)

    @property
    def failing_checks(self) -> tuple[str, ...]:
        """The check items that fail and mean something is wrong (``NO_BACKUP_YET_CHECKS``
        aside), in Barman's order."""
        return tuple(
            name for name, ok in self.checks if not ok and name not in NO_BACKUP_YET_CHECKS
        )


#: The fields each part of a collection fills, for ``carry_over``.
PART_FIELDS: dict[str, tuple[str, ...]] = {
    "wal": ("last_wal_at", "first_wal_at", "stream_at"),
    "backups": ("last_base_backup_at", "base_backups"),
    "check": ("checks",),
}


def carry_over(state: ServerState, previous: ServerState | None) -> ServerState:
    """``state`` with the values of its failed parts taken from ``previous`` (the last
    collection's), so a failing read shows as a failure, not as a series gone missing."""
    if previous is None or not state.failed:
        return state
    kept = {name: getattr(previous, name) for part in state.failed for name in PART_FIELDS[part]}
    return replace(state, **kept)


@dataclass(frozen=True)
class FiledWal:
    """One line of Barman's ``xlog.db``: a file it filed (a WAL segment, a timeline's
    ``.history``, a base backup's ``.backup`` label) and when (epoch seconds)."""

    name: str
    filed_at: float

    @property
    def is_segment(self) -> bool:
        """Whether this is a WAL segment (24 hex digits), not a history file or label."""
        return SEGMENT_NAME.fullmatch(self.name) is not None


@dataclass(frozen=True)
class XlogDb:
    """Barman's catalogue of filed WAL, as read: its entries in file order, and a message per
    line that is not ``name<TAB>size<TAB>time<TAB>…`` (the metrics count one as a failed
    read; a recovery needs only the segments and reads past it)."""

    entries: tuple[FiledWal, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def first_at(self) -> float | None:
        """When the first entry was filed (None when there is none)."""
        return self.entries[0].filed_at if self.entries else None

    @property
    def last_at(self) -> float | None:
        """When the last entry was filed: Barman appends, so the newest."""
        return self.entries[-1].filed_at if self.entries else None

    @property
    def newest_segment(self) -> str | None:
        """The highest-named WAL segment filed (None when there is none)."""
        return max((entry.name for entry in self.entries if entry.is_segment), default=None)


def parse_xlog_db(text: str) -> XlogDb:
    """The entries of ``xlog.db``'s text (name, size, epoch time, compression; tab-separated)
    and a message naming each line that is not one.

    >>> parse_xlog_db("000000010000000000000009\\t16777216\\t1796482874.06\\tNone\\n").last_at
    1796482874.06
    """
    entries = []
    errors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            entries.append(FiledWal(fields[0], float(fields[2])))
        except (IndexError, ValueError):
            errors.append(f"xlog.db line {number}: {line[:80]!r} has no time field")
    return XlogDb(tuple(entries), tuple(errors))


def get_xlog_db_path(home: Path, server: str) -> Path:
    """Where Barman keeps ``server``'s catalogue of filed WAL under its ``home``."""
    return home / server / XLOG_DB


def read_xlog_db(home: Path, server: str) -> XlogDb:
    """``server``'s ``xlog.db`` under ``home``, parsed; empty when Barman has filed nothing
    yet (no file); raise OSError when it cannot be read."""
    try:
        text = get_xlog_db_path(home, server).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return XlogDb()
    return parse_xlog_db(text)


def get_newest_complete_segment(names_and_times: dict[str, float]) -> float | None:
    """The newest time among complete segments in ``streaming/`` (not ``.partial``): they are
    on the archive's disk, only waiting for ``barman cron`` to file them."""
    times = [time for name, time in names_and_times.items() if not name.endswith(PARTIAL_SUFFIX)]
    return max(times) if times else None


def _server_section(text: str, server: str, what: str) -> object:
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError(f"barman {what} printed no JSON: {text[:200]!r}") from None
    if not isinstance(document, dict) or server not in document:
        raise ValueError(f"barman {what} printed nothing about {server}: {text[:200]!r}")
    return document[server]


@dataclass(frozen=True)
class BaseBackup:
    """One of Barman's base backups of a server: its id (its start, ``20261205T220111``),
    status (``DONE``, ``STARTED``, ``FAILED``, …) and end (epoch seconds; None until it ends)."""

    backup_id: str
    status: str
    end_at: float | None

    @property
    def end(self) -> datetime | None:
        """The end as a time in the local timezone (None until it ends)."""
        if self.end_at is None:
            return None
        return datetime.fromtimestamp(self.end_at).astimezone()


def parse_list_backups(text: str, server: str) -> list[BaseBackup]:
    """The base backups in ``barman -f json list-backups SERVER``, oldest first; raise
    ValueError on another shape.

    Barman 3.4 prints ``{server: [{"backup_id", "status", "end_time_timestamp", ...}]}``,
    newest first; a backup that has not ended has an empty end time.
    """
    rows = _server_section(text, server, "list-backups")
    if not isinstance(rows, list):
        raise ValueError(f"barman list-backups: {server}'s backups are not a list")
    backups = []
    for number, row in enumerate(rows, start=1):
        try:
            stamp = row.get("end_time_timestamp")
            backups.append(
                BaseBackup(
                    str(row["backup_id"]), str(row["status"]), float(stamp) if stamp else None
                )
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ValueError(
                f"barman list-backups: {server}'s backup {number} is not an id, status and end: "
                f"{str(row)[:200]!r}"
            ) from None
    return sorted(backups, key=lambda backup: backup.backup_id)


def get_done_backups(backups: list[BaseBackup]) -> list[BaseBackup]:
    """The complete ones (``DONE``, with an end), in the order given: what a recovery can
    start from, and what the metrics count."""
    return [backup for backup in backups if backup.status == "DONE" and backup.end_at is not None]


def parse_check(text: str, server: str) -> tuple[tuple[str, bool], ...]:
    """Each item of ``barman -f json check SERVER`` and whether it is OK, in Barman's order;
    raise ValueError on another shape."""
    items = _server_section(text, server, "check")
    if not isinstance(items, dict) or not items:
        raise ValueError(f"barman check: no check items for {server}")
    return tuple(
        (name, isinstance(item, dict) and item.get("status") == "OK")
        for name, item in items.items()
    )
