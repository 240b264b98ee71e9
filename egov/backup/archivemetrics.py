"""node_exporter textfile metrics of the WAL archive, written by ``egov agent archive-metrics``
on each archive host (``egov-archive-metrics.timer``, every 20 s).

One file per host (``egov_archive.prom``, the archive's concern beside the backups'
``egov_backup_<dataset>.prom``), renamed into place by ``write_to_textfile``. Per Barman
server (labels ``dataset``, ``site``, ``host`` = the archive host, ``server``):

- ``dr_archive_last_wal_timestamp_seconds``: the newest complete WAL segment the archive holds
  (the last line of ``wals/xlog.db``, or a complete segment in ``streaming/`` that ``barman
  cron`` has yet to file); ``dr_archive_first_wal_timestamp_seconds`` the oldest filed;
- ``dr_archive_stream_timestamp_seconds``: the last write into ``streaming/`` (the
  ``.partial`` segment ``receive-wal`` is writing);
- ``dr_archive_last_base_backup_timestamp_seconds``, ``dr_archive_base_backups``: the newest
  DONE base backup's end and how many there are;
- ``dr_archive_check_ok{check=…}``: 1/0 per ``barman check`` item;
- ``dr_archive_collection_timestamp_seconds`` and ``dr_archive_collection_success``: when this
  was read, and whether every part was. A part that fails keeps the previous file's values
  (``archivestate.carry_over``): a failing collection shows as ``success`` 0, never as a
  series gone missing.

Label names avoid ``type``/``instance``/``job``/``service``, as the backups' do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families

from egov.backup.archivestate import (
    STREAMING_DIRECTORY,
    ArchiveServer,
    ServerState,
    carry_over,
    get_done_backups,
    get_newest_complete_segment,
    parse_check,
    parse_list_backups,
    read_xlog_db,
)
from egov.backup.walarchive import BARMAN_HOME, BARMAN_USER
from egov.errors import CommandFailed
from egov.execute import run_command

TEXTFILE_NAME = "egov_archive.prom"
LABELS = ("dataset", "site", "host", "server")
PREFIX = "dr_archive_"
#: ``barman check`` waits up to its ``check_timeout`` (30 s) for an unreachable primary.
BARMAN_TIMEOUT_SECONDS = 60.0
AS_BARMAN = ("runuser", "-u", BARMAN_USER, "--")

#: Each series of a server: its name, help and the state's field it shows.
_TIMES = {
    "last_wal_timestamp_seconds": ("Newest complete WAL segment archived.", "last_wal_at"),
    "first_wal_timestamp_seconds": ("Oldest WAL segment filed.", "first_wal_at"),
    "stream_timestamp_seconds": ("Last write of the WAL stream.", "stream_at"),
    "last_base_backup_timestamp_seconds": (
        "End of the newest DONE base backup.",
        "last_base_backup_at",
    ),
    "base_backups": ("DONE base backups held.", "base_backups"),
    "collection_timestamp_seconds": ("When the archive was last read.", "collected_at"),
}


def make_archive_registry(states: Sequence[ServerState]) -> CollectorRegistry:
    """A fresh registry holding the archive series of ``states``."""
    registry = CollectorRegistry()
    gauges = {
        name: Gauge(PREFIX + name, text, LABELS, registry=registry)
        for name, (text, _) in _TIMES.items()
    }
    success = Gauge(
        PREFIX + "collection_success",
        "1 if every part of the archive was read, else 0.",
        LABELS,
        registry=registry,
    )
    check = Gauge(
        PREFIX + "check_ok",
        "1 if the barman check item is OK, else 0.",
        (*LABELS, "check"),
        registry=registry,
    )
    for state in states:
        labels = (state.dataset, state.site, state.host, state.server)
        for name, (_, attribute) in _TIMES.items():
            value = getattr(state, attribute)
            if value is not None:
                gauges[name].labels(*labels).set(value)
        success.labels(*labels).set(0 if state.failed else 1)
        for item, ok in state.checks:
            check.labels(*labels, item).set(1 if ok else 0)
    return registry


def parse_archive_series(text: str) -> list[ServerState]:
    """The servers' states in an exposition (the textfile, or node_exporter's whole page),
    in the order they first appear; series of other names are ignored. ``failed`` is
    ``("collection",)`` for a server whose last collection failed."""
    fields: dict[str, dict[str, Any]] = {}
    attributes = {PREFIX + name: attribute for name, (_, attribute) in _TIMES.items()}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith(PREFIX):
            continue
        for sample in family.samples:
            labels = sample.labels
            if "server" not in labels:
                continue
            state = fields.setdefault(
                labels["server"],
                {"checks": (), "failed": (), **{name: labels.get(name, "") for name in LABELS}},
            )
            if sample.name in attributes:
                whole = sample.name.endswith("backups")
                state[attributes[sample.name]] = int(sample.value) if whole else sample.value
            elif sample.name == PREFIX + "check_ok" and "check" in labels:
                state["checks"] = (*state["checks"], (labels["check"], sample.value == 1))
            elif sample.name == PREFIX + "collection_success" and sample.value != 1:
                state["failed"] = ("collection",)
    return [ServerState(**state) for state in fields.values()]


Runner = Callable[[Sequence[str]], str]


def _run_barman(argv: Sequence[str]) -> str:
    """Barman's stdout; ``barman check`` exits 1 when an item fails, and still prints them all."""
    result = run_command(argv, check=False, timeout_seconds=BARMAN_TIMEOUT_SECONDS)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise CommandFailed(argv, result.returncode, result.stderr)
    return result.stdout


def _read_times(directory: Path) -> dict[str, float]:
    """Each file's mtime in ``directory`` (none when it does not exist yet)."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return {}
    return {entry.name: entry.stat().st_mtime for entry in entries if entry.is_file()}


def collect_server(
    server: ArchiveServer,
    host: str,
    now: float,
    home: Path = Path(BARMAN_HOME),
    run: Runner = _run_barman,
) -> ServerState:
    """Read one server's archive: its files under ``home``, then ``barman list-backups`` and
    ``barman check``. A part that fails is named in ``failed`` and its error in ``errors``."""
    state = ServerState(server.server, server.dataset, server.site, host, collected_at=now)
    failed: list[str] = []
    errors: list[str] = []
    base = home / server.server
    try:
        xlog = read_xlog_db(home, server.server)
        if xlog.errors:
            raise ValueError(xlog.errors[0])
        streaming = _read_times(base / STREAMING_DIRECTORY)
        complete = get_newest_complete_segment(streaming)
        newest = max((t for t in (xlog.last_at, complete) if t is not None), default=None)
        stream = max(streaming.values()) if streaming else None
        state = replace(state, last_wal_at=newest, first_wal_at=xlog.first_at, stream_at=stream)
    except (OSError, ValueError) as error:
        failed.append("wal")
        errors.append(f"{base}: {error}")
    barman = (*AS_BARMAN, "barman", "-f", "json")
    try:
        done = get_done_backups(
            parse_list_backups(run((*barman, "list-backups", server.server)), server.server)
        )
        end = max((backup.end_at for backup in done if backup.end_at is not None), default=None)
        state = replace(state, last_base_backup_at=end, base_backups=len(done))
    except (CommandFailed, ValueError) as error:
        failed.append("backups")
        errors.append(str(error))
    try:
        state = replace(
            state, checks=parse_check(run((*barman, "check", server.server)), server.server)
        )
    except (CommandFailed, ValueError) as error:
        failed.append("check")
        errors.append(str(error))
    return replace(state, failed=tuple(failed), errors=tuple(errors))


def read_previous(path: Path) -> dict[str, ServerState]:
    """The states of the last file written at ``path`` (none when there is none, or it is
    unreadable: then nothing can be carried over)."""
    try:
        text = path.read_text(encoding="utf-8")
        return {state.server: state for state in parse_archive_series(text)}
    except (OSError, ValueError):
        return {}


def run_archive_metrics(
    servers: Sequence[ArchiveServer],
    host: str,
    directory: Path,
    now: float,
    home: Path = Path(BARMAN_HOME),
    run: Runner = _run_barman,
) -> list[ServerState]:
    """Collect every server, keep the previous values of what failed, write the textfile;
    return the states written."""
    path = directory / TEXTFILE_NAME
    previous = read_previous(path)
    states = [
        carry_over(collect_server(server, host, now, home, run), previous.get(server.server))
        for server in servers
    ]
    directory.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), make_archive_registry(states))
    return states
