"""The WAL a point-in-time recovery needs past its target, which Barman 3.4 may not copy.

PostgreSQL stops a recovery to a time at the first commit (or abort) *after* that time; if
the WAL it is given ends before one, the replay fails: "recovery ended before configured
recovery target was reached". ``barman recover --target-time`` (Barman 3.4, Debian 12's)
guesses which segments to copy from their *file* times: it stops at the first segment filed
after the target. A segment filed a moment after the target but whose records all precede
it (a busy database fills a segment in about a second; a segment closed just after the
target by ``archive_timeout`` or a switch) leaves the next commit out, and a restore to a
moment the archive holds fails (``bench/pitr_overhead.py`` found it at 5 GB under load).
Barman fixed it in 3.11 by copying every segment of the timeline (its issue #881, pull
request #951).

egov completes the guess instead, reading rather than guessing: after ``barman recover``,
it reads the commits of the last segment copied with ``pg_waldump`` and, while none is after
the target, copies the archive's next segment of the timeline beside the others. Usually
that is one segment more, and never more than the segments up to the first commit after
the target. When the archive holds none, it ends where it ends and the replay fails as
before, saying so.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from egov.backup.archivestate import SEGMENT_NAME
from egov.backup.walarchive import BARMAN_HOME
from egov.execute import run_command

#: Where ``barman recover`` (local, without ``--get-wal``) puts the WAL it copied; the
#: recovered cluster's ``restore_command`` reads from it.
COPIED_WAL = "barman_wal"
#: ``pg_waldump``'s description of a commit or an abort, its time in UTC (run with TZ=UTC):
#: ``desc: COMMIT 2026-12-06 05:01:39.402611 UTC``, also ``COMMIT_PREPARED 5: …``
_END_OF_TRANSACTION = re.compile(
    r"desc: (?:COMMIT|ABORT)(?:_PREPARED)?\b[^\n]*?"
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC"
)


def parse_transaction_ends(text: str) -> list[datetime]:
    """The times of the commits and aborts ``pg_waldump --rmgr=Transaction`` printed."""
    return [
        datetime.fromisoformat(match).replace(tzinfo=UTC)
        for match in _END_OF_TRANSACTION.findall(text)
    ]


def holds_a_transaction_after(segment: Path, target: datetime, postgres_bin: Path) -> bool:
    """Whether ``segment`` holds a commit or abort later than ``target``: the record a
    recovery to ``target`` stops before. pg_waldump exits non-zero at the segment's end
    when the segment was switched early (the rest is zeros): what it printed still counts."""
    result = run_command(
        (str(postgres_bin / "pg_waldump"), "--rmgr=Transaction", str(segment)),
        check=False,
        environment={"TZ": "UTC", "LC_ALL": "C"},
        timeout_seconds=120,
    )
    return any(moment > target for moment in parse_transaction_ends(result.stdout))


def iter_archived_after(server: str, last: str, home: Path = Path(BARMAN_HOME)) -> Iterator[Path]:
    """The segments Barman filed for ``server`` after ``last`` on its timeline, in order."""
    wals = home / server / "wals"
    timeline = last[:8]
    for directory in sorted(wals.glob(f"{timeline}*")):
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if SEGMENT_NAME.fullmatch(path.name) and path.name > last:
                yield path


def complete_wal(
    server: str,
    directory: Path,
    target: datetime,
    postgres_bin: Path,
    home: Path = Path(BARMAN_HOME),
) -> list[str]:
    """Copy into ``directory``'s copied WAL the archive's segments after the last one Barman
    copied, until one holds a transaction end after ``target``; the names copied (the caller
    gives them to the barman user, who replays)."""
    copied_wal = directory / COPIED_WAL
    copied = sorted(p.name for p in copied_wal.glob("*") if SEGMENT_NAME.fullmatch(p.name))
    if not copied:
        return []
    if holds_a_transaction_after(copied_wal / copied[-1], target, postgres_bin):
        return []
    added = []
    for path in iter_archived_after(server, copied[-1], home):
        destination = copied_wal / path.name
        shutil.copyfile(path, destination)
        added.append(path.name)
        if holds_a_transaction_after(destination, target, postgres_bin):
            break
    return added
