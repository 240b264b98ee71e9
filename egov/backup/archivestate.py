"""What an archive host's Barman knows about each server it runs, read from Barman's own files
and JSON output: the newest WAL it holds, the stream, the newest base backup, its checks.

Everything here is pure: the parsers take the text Barman wrote or printed (samples of real
Barman 3.4 output are in ``tests/backup/data/barman``) and the thresholds take the inventory.
``archivemetrics`` runs Barman and writes the node_exporter textfile; ``archivestatus`` reads
the textfile's series back from the hosts for ``egov backup status``.

Which ``barman check`` items count as a failure: all of them except
``minimum_redundancy_requirements``, which fails only because no base backup exists yet ("have
0 backups, expected at least 1") and so says nothing about the WAL; a missing base backup is
``BaseBackupStale``'s to judge, against the time the archive has been receiving WAL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import timedelta

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


def parse_xlog_db(text: str) -> tuple[float | None, float | None]:
    """The time of the first and of the last segment in ``xlog.db``'s text, or Nones when it
    lists none; raise ValueError on a line that is not ``name<TAB>size<TAB>time<TAB>…``.

    >>> parse_xlog_db("000000010000000000000009\\t16777216\\t1796482874.063376\\tNone\\n")
    (1796482874.063376, 1796482874.063376)
    """
    times = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise ValueError(f"xlog.db line {number}: {line[:80]!r} has no time field")
        times.append(float(fields[2]))
    if not times:
        return None, None
    return times[0], times[-1]


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


def parse_list_backups(text: str, server: str) -> tuple[float | None, int]:
    """The end of the newest ``DONE`` backup (None when there is none) and how many are DONE,
    from ``barman -f json list-backups SERVER``; raise ValueError on another shape."""
    rows = _server_section(text, server, "list-backups")
    if not isinstance(rows, list):
        raise ValueError(f"barman list-backups: {server}'s backups are not a list")
    ends = [
        float(row["end_time_timestamp"])
        for row in rows
        if isinstance(row, dict) and row.get("status") == "DONE" and row.get("end_time_timestamp")
    ]
    return (max(ends) if ends else None), len(ends)


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
