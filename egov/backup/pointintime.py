"""Point-in-time recovery from the WAL archive, run on the archive host by the agent.

``barman recover`` lays the newest base backup that ended before the target into a fresh
directory, with the WAL up to the target beside it. That directory is not yet a database: it
becomes one when PostgreSQL has replayed the WAL to the target. So ``--verify`` replays it
here, in a throwaway postmaster on a Unix socket inside the directory (no TCP), waits until
recovery has stopped at the target and promoted, reads from the server log the last
transaction it kept, runs the dataset's sanity queries on every database, and stops it
cleanly: what is left is a cluster that starts as it is. A target past the end of the archive
fails here ("recovery ended before configured recovery target was reached"), never silently
yields an older state.
"""

from __future__ import annotations

import contextlib
import re
import time
from datetime import datetime, tzinfo
from pathlib import Path

from pydantic import BaseModel

from egov.backup.archivestate import (
    SEGMENT_NAME,
    BaseBackup,
    get_done_backups,
    parse_list_backups,
    read_xlog_db,
)
from egov.backup.recoverytarget import check_target, clean_target, make_target
from egov.backup.walarchive import ARCHIVE_ROLE, BARMAN_HOME, BARMAN_USER
from egov.backup.waltail import COPIED_WAL, complete_wal
from egov.errors import BackupError, CommandFailed, EgovError
from egov.execute import run_command

AS_BARMAN = ("runuser", "-u", BARMAN_USER, "--")
#: The replaying postmaster's port number: only names its socket file (no TCP listener).
REPLAY_PORT = 5439
REPLAY_LOG = "egov-replay.log"
#: Seconds ``switch-wal --archive`` waits for the archive to file the closed segment.
SWITCH_TIMEOUT = 60
#: How often the closed segment is looked for: Barman streams and files it within
#: milliseconds, and a restore whose first look came too early waited a whole second (of a
#: restore of about 18 s at 5 GB: ``bench/pitr_overhead.py``).
SWITCH_POLL_SECONDS = 0.1
#: Written into the recovered directory: Debian keeps these files out of PGDATA, so a base
#: backup has neither. Trust on a socket in a 0700 directory of the barman user is its alone.
REPLAY_CONFIGURATION = """\
# Written by egov: the settings a recovered cluster is replayed and checked with.
listen_addresses = ''
hba_file = '{directory}/pg_hba.conf'
"""
REPLAY_HBA = "local all all trust\n"
_LAST_TRANSACTION = re.compile(r"last completed transaction was at log time (.+)$", re.M)
_STOPPED_BEFORE = re.compile(r"recovery stopping before .*?time (.+)$", re.M)
_REDO_DONE = re.compile(r"redo done at ([0-9A-F]+)/([0-9A-F]+)", re.M)
#: PostgreSQL's default WAL segment size, which the estates keep.
SEGMENT_BYTES = 16 * 1024 * 1024


class Recovery(BaseModel):
    """What a point-in-time recovery did: the agent prints it as JSON for the control node."""

    server: str
    backup_id: str
    backup_end: datetime | None
    target_time: datetime | None
    directory: str
    replayed: bool
    #: whether the primary closed its current WAL segment and the archive filed it first
    segment_closed: bool = False
    #: commit time of the last transaction replayed, and of the first one left out (after T)
    last_transaction: datetime | None = None
    stopped_before: datetime | None = None
    #: the WAL segment replay ended in, and the newest one the archive had filed
    replayed_segment: str | None = None
    newest_segment: str | None = None
    databases: list[str] = []
    queries_checked: int = 0
    #: segments egov copied after Barman's, up to the first transaction after the target
    #: (``waltail``: Barman 3.4 guesses them from file times and may stop short)
    added_segments: list[str] = []


def make_list_argv(server: str) -> tuple[str, ...]:
    """Barman's base backups of ``server`` as JSON."""
    return (*AS_BARMAN, "barman", "-f", "json", "list-backups", server)


def get_base_backups(text: str, server: str) -> list[BaseBackup]:
    """``server``'s base backups in Barman's ``-f json list-backups`` output, oldest first;
    raise BackupError when it is not that list."""
    try:
        return parse_list_backups(text, server)
    except ValueError as error:
        raise BackupError(f"barman's list of {server}'s backups is not readable: {error}") from None


def choose_backup(backups: list[BaseBackup], target: datetime | None) -> BaseBackup:
    """The newest complete base backup that ended before ``target`` (any, for the latest).

    A backup that ended after the target cannot be rolled back to it: WAL only goes forward.
    """
    done = get_done_backups(backups)
    if not done:
        raise BackupError("the archive holds no complete base backup yet")
    if target is None:
        return done[-1]
    before = [backup for backup in done if backup.end is not None and backup.end < target]
    if not before:
        first = done[0].end
        raise BackupError(
            f"no base backup ended before {target.isoformat(timespec='seconds')}: the oldest "
            f"ended at {first.isoformat(timespec='seconds') if first else '?'}"
        )
    return before[-1]


def make_recover_argv(
    server: str,
    backup_id: str,
    directory: Path,
    target: datetime | None,
    zone: tzinfo | None = None,
) -> tuple[str, ...]:
    """``barman recover`` of one base backup into ``directory``, to ``target`` or the end of
    the archive, promoting when it gets there (a recovered copy is a primary of its own).

    The target is written in this host's local time (``zone``: None is the local zone):
    Barman 3.4 chooses the WAL to copy by ``time.mktime(target.timetuple())``, which drops
    the offset and reads the wall-clock time as local. A target given in UTC on a host at
    +07:00 made it copy the WAL of seven hours earlier, and the replay ended before the
    target (found by the ``operator-error`` drill on the lab)."""
    argv = [*AS_BARMAN, "barman", "recover"]
    if target is not None:
        local = target.astimezone(zone)
        argv += ["--target-time", local.isoformat(), "--target-action", "promote"]
    return (*argv, server, backup_id, str(directory))


def make_switch_argv(primary: str) -> tuple[str, ...]:
    """Close the primary's current WAL segment as the archive role; prints the segment's name.

    Barman's own ``switch-wal`` insists on a superuser; the archive role is granted
    ``pg_switch_wal()`` and no more."""
    return (*AS_BARMAN, "psql", "-h", primary, "-p", "5432", "-U", ARCHIVE_ROLE, "-d",
            "postgres", "-XtAc", "SELECT pg_walfile_name(pg_switch_wal())")  # fmt: skip


def get_archived_path(server: str, segment: str) -> Path:
    """Where Barman files a WAL segment: ``<home>/<server>/wals/<first 16 hex>/<segment>``."""
    return Path(BARMAN_HOME) / server / "wals" / segment[:16] / segment


def close_segment(server: str, primary: str, timeout: float = SWITCH_TIMEOUT) -> bool:
    """Have the newest changes filed before recovering: Barman replays only closed segments,
    and the one being streamed holds up to the archive's RPO of changes. Returns False when
    the primary cannot be reached (it is the one lost, say) or the segment is not filed in
    time: then the archive ends where it ends, and a target past it fails the replay rather
    than giving an older state."""
    try:
        segment = run_command(make_switch_argv(primary), timeout_seconds=30).stdout.strip()
    except CommandFailed:
        return False
    if not SEGMENT_NAME.fullmatch(segment):
        return False
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(CommandFailed):  # cron may be filing at the same moment
            run_command((*AS_BARMAN, "barman", "-q", "archive-wal", server), timeout_seconds=60)
        if get_archived_path(server, segment).exists():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(SWITCH_POLL_SECONDS)


def recover(
    server: str,
    primary: str,
    directory: Path,
    target: datetime | None,
    *,
    postgres_bin: Path,
    verify: bool,
    databases: tuple[str, ...] = (),
    queries: tuple[str, ...] = (),
    replay_timeout: float = 3600.0,
    throwaway: bool = False,
) -> Recovery:
    """Recover ``server`` into the new or empty ``directory`` to ``target`` (None: the end of
    the archive); with ``verify``, replay it and run ``queries`` on every database. A failed
    recovery leaves ``directory`` as it found it (``recoverytarget``), and its error says so;
    a ``throwaway`` directory (a restore test's) is cleaned so after a success too."""
    check_target(directory)
    closed = close_segment(server, primary)
    backups = get_base_backups(run_command(make_list_argv(server)).stdout, server)
    chosen = choose_backup(backups, target)
    result = Recovery(
        server=server,
        backup_id=chosen.backup_id,
        backup_end=chosen.end,
        target_time=target,
        directory=str(directory),
        replayed=False,
        segment_closed=closed,
        # read before barman copies the WAL: a segment filed after that is not in the copy
        newest_segment=read_newest_segment(server),
    )
    prepared = make_target(directory)
    try:
        run_command(("chown", f"{BARMAN_USER}:{BARMAN_USER}", str(directory)))
        try:
            run_command(
                make_recover_argv(server, chosen.backup_id, directory, target),
                timeout_seconds=None,
            )
        except CommandFailed as error:
            raise BackupError(
                f"barman recover failed: {error.stderr_tail.strip()[-400:]}"
            ) from None
        if target is not None:
            added = complete_wal(server, directory, target, postgres_bin)
            if added:
                run_command(("chown", "-R", f"{BARMAN_USER}:{BARMAN_USER}",
                             str(directory / COPIED_WAL)))  # fmt: skip
            result = result.model_copy(update={"added_segments": added})
        if verify:
            result = replay(result, directory, postgres_bin, databases, queries, replay_timeout)
    except BaseException as error:  # Ctrl-C included: no partial cluster is left behind
        cleaned = clean_target(prepared)
        if isinstance(error, EgovError | OSError):
            hint = error.hint if isinstance(error, EgovError) else ""
            raise BackupError(f"{error}; {cleaned}", hint) from None
        raise
    if throwaway:
        clean_target(prepared)
    return result


def replay(
    result: Recovery,
    directory: Path,
    postgres_bin: Path,
    databases: tuple[str, ...],
    queries: tuple[str, ...],
    timeout: float,
) -> Recovery:
    """Start the recovered cluster, wait for the end of recovery, check it, stop it cleanly.

    Without a target, recovery ends wherever the WAL runs out, a gap in the archive included:
    so replay must have ended in the newest segment the archive had filed."""
    for name, text in (
        ("postgresql.conf", REPLAY_CONFIGURATION.format(directory=directory)),
        ("pg_hba.conf", REPLAY_HBA),
    ):
        path = directory / name
        path.write_text(text)
        run_command(("chown", f"{BARMAN_USER}:{BARMAN_USER}", str(path)))
    log = directory / REPLAY_LOG
    pg_ctl = (*AS_BARMAN, str(postgres_bin / "pg_ctl"), "-D", str(directory))
    options = f"-p {REPLAY_PORT} -k {directory}"
    try:
        run_command(
            (*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", str(int(timeout)), "start"),
            timeout_seconds=timeout + 60,
        )
    except CommandFailed:
        raise BackupError(f"the recovered cluster does not start: {_log_tail(log)}") from None
    psql = (*AS_BARMAN, str(postgres_bin / "psql"), "-h", str(directory), "-p",
            str(REPLAY_PORT), "-U", "postgres", "-XtA", "-v", "ON_ERROR_STOP=1")  # fmt: skip
    try:
        _wait_promoted(psql, log, timeout)
        checked = 0
        for database in databases:
            for query in queries:
                answer = _query(psql, database, query, log)
                if not answer.strip():
                    raise BackupError(f"sanity query on {database} returned no row: {query}")
                checked += 1
    finally:
        # it may have exited already (a failed recovery): the log says why
        with contextlib.suppress(CommandFailed):
            run_command((*pg_ctl, "-m", "fast", "-w", "stop"), timeout_seconds=300)
    text = log.read_text(errors="replace") if log.exists() else ""
    last = _LAST_TRANSACTION.findall(text)
    stopped = _STOPPED_BEFORE.findall(text)
    redo = _REDO_DONE.findall(text)
    replayed_segment = make_segment_name(*redo[-1]) if redo else None
    if result.target_time is None:
        check_reached_the_end(replayed_segment, result.newest_segment)
    return result.model_copy(
        update={
            "replayed": True,
            "replayed_segment": replayed_segment,
            "last_transaction": _parse_log_time(last[-1]) if last else None,
            "stopped_before": _parse_log_time(stopped[-1]) if stopped else None,
            "databases": list(databases),
            "queries_checked": checked,
        }
    )


def _wait_promoted(psql: tuple[str, ...], log: Path, timeout: float) -> None:
    """Wait until recovery has stopped at its target and the cluster promoted."""
    deadline = time.monotonic() + timeout
    while True:
        answer = _query(psql, "postgres", "SELECT pg_is_in_recovery()", log)
        if answer.strip() == "f":
            return
        if time.monotonic() > deadline:
            raise BackupError(f"recovery did not end within {int(timeout)} s: {_log_tail(log)}")
        time.sleep(1.0)


def _query(psql: tuple[str, ...], database: str, query: str, log: Path) -> str:
    try:
        return run_command((*psql, "-d", database, "-c", query), timeout_seconds=600).stdout
    except CommandFailed as error:
        reason = error.stderr_tail.strip()[-200:]
        raise BackupError(
            f"the recovered cluster does not answer on {database} ({reason}): {_log_tail(log)}"
        ) from None


def make_segment_name(high: str, low: str, timeline: int = 1) -> str:
    """The WAL segment holding LSN ``high/low`` (hex), as PostgreSQL names its files."""
    segment = ((int(high, 16) << 32) | int(low, 16)) // SEGMENT_BYTES
    per_id = (1 << 32) // SEGMENT_BYTES
    return f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


def read_newest_segment(server: str, home: Path = Path(BARMAN_HOME)) -> str | None:
    """The newest segment Barman filed for ``server`` by its ``xlog.db``, or None for an empty
    or unreadable archive. A line that is no entry is skipped: the recovery goes on with the
    segments Barman can name (the archive's metrics report the damaged line)."""
    try:
        return read_xlog_db(home, server).newest_segment
    except OSError:
        return None


def check_reached_the_end(replayed: str | None, newest: str | None) -> None:
    """Raise BackupError when replay to the end of the archive stopped short of its newest
    segment (timelines aside): a segment in between is missing or unreadable."""
    if replayed is None or newest is None:
        raise BackupError("the replay's end could not be read from the server log")
    if replayed[8:] < newest[8:]:
        raise BackupError(
            f"the WAL archive has a gap: replay ended in segment {replayed}, but the archive "
            f"holds segments up to {newest}; a segment after {replayed} is missing or damaged, "
            "so everything after it is lost from this archive"
        )


def _parse_log_time(text: str) -> datetime | None:
    """A time as PostgreSQL logs it (``2026-12-05 15:02:09.590464+00``), or None."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _log_tail(log: Path, lines: int = 6) -> str:
    """The last lines of the replay's server log, where PostgreSQL says why it stopped."""
    if not log.exists():
        return "no server log"
    return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
