"""The WAL archive's monitoring on the lab: the metrics fresh on both archive hosts, and a
2-minute cut of site 2's link firing WalArchiveStale for site 2 at the primary's Prometheus,
then resolving, with site 2's archive caught up and no segment missing, and a restore from
site 2 to a moment inside the cut holding what was written before it and not after.

``egov-archive-metrics.timer`` writes ``egov_archive.prom`` on ``primary/store-01`` and
``site2/store-01`` (``inventory/lab.yaml``: ``databases.archive``, rpo 60 s). WalArchiveStale
fires when the newest archived segment is older than 90 s for 30 s (the lab's ``for``): the
primary's Prometheus, which cannot scrape site 2 during the cut, keeps judging the last sample
it got. The cut starts once site 2's newest segment is ``CUT_AFTER_AGE_SECONDS`` old, as an
operator's cut would find it on average: a segment filed the very moment the link goes would
need 90 + 30 s and an evaluation (up to 2 min 15 s) before the alert fires.

The link is restored in ``finally``, whatever happens.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from egov.backup.archivemetrics import TEXTFILE_NAME, parse_archive_series
from egov.backup.archivestate import ServerState, get_xlog_db_path, parse_xlog_db
from egov.backup.walarchive import BARMAN_HOME
from egov.hostlayout import TEXTFILE_DIRECTORY
from tests.lab.conftest import DeployRun, Lab, egov
from tests.lab.test_archive import query_recovered

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("deployed")]

SERVER = "databases-primary-db-01"
STORES = {"primary": "primary-store-01", "site2": "site2-store-01"}
MONITOR = "primary-mon-01"
RPO_SECONDS = 60
WAL_LIMIT_SECONDS = 90
#: The issue's cut.
CUT_SECONDS = 120
CUT_AFTER_AGE_SECONDS = 30
CUT_TABLE = "egov_test_inside_cut"
T = TypeVar("T")


def _wait_for(get: Callable[[], T | None], seconds: float, what: str) -> T:
    """Poll ``get`` until it returns something other than None."""
    deadline = time.monotonic() + seconds
    while (found := get()) is None:
        assert time.monotonic() < deadline, f"{what} not seen within {seconds:.0f} s"
        time.sleep(3)
    return found


def _barman_check(lab: Lab, machine: str) -> bool:
    check = lab.exec(machine, "runuser", "-u", "barman", "--", "barman", "check", SERVER)
    return check.returncode == 0


def _archive_state(lab: Lab, machine: str) -> ServerState | None:
    """The archive's series as the host's textfile holds them now (through nsenter)."""
    result = lab.exec(machine, "cat", f"{TEXTFILE_DIRECTORY}/{TEXTFILE_NAME}")
    if result.returncode != 0:
        return None
    states = [state for state in parse_archive_series(result.stdout) if state.server == SERVER]
    return states[0] if states else None


def _filed_segments(lab: Lab, machine: str) -> list[str]:
    """The WAL segments Barman filed on ``machine``, in order (history and backup-label
    files aside): read with egov's own parser of ``xlog.db``."""
    result = lab.exec(machine, "cat", str(get_xlog_db_path(Path(BARMAN_HOME), SERVER)))
    assert result.returncode == 0, result.stderr
    filed = parse_xlog_db(result.stdout)
    assert not filed.errors, filed.errors
    return [entry.name for entry in filed.entries if entry.is_segment]


def _segment_number(name: str) -> tuple[int, int]:
    """(timeline, position) of a 16 MiB segment: 256 segments per log file."""
    return int(name[:8], 16), int(name[8:16], 16) * 256 + int(name[16:], 16)


def _stale_alerts(lab: Lab, site: str) -> list[dict[str, Any]]:
    """WalArchiveStale alerts for ``site``'s archive in the primary's Prometheus (pending or
    firing)."""
    url = f"http://{lab.address(MONITOR)}:9090/api/v1/alerts"
    with urllib.request.urlopen(url, timeout=10) as response:
        alerts: list[dict[str, Any]] = json.loads(response.read())["data"]["alerts"]
    return [
        alert
        for alert in alerts
        if alert["labels"].get("alertname") == "WalArchiveStale"
        and alert["labels"].get("site") == site
    ]


def _query(lab: Lab, expression: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expression})
    url = f"http://{lab.address(MONITOR)}:9090/api/v1/query?{query}"
    with urllib.request.urlopen(url, timeout=10) as response:
        result: list[dict[str, Any]] = json.loads(response.read())["data"]["result"]
    return result


@pytest.fixture(scope="module")
def streaming(lab: Lab, deployed: tuple[DeployRun, DeployRun]) -> None:
    """Both archives stream (``barman check`` passes) and have a base backup."""
    for machine in STORES.values():
        _wait_for(lambda m=machine: True if _barman_check(lab, m) else None, 180, f"{machine} OK")
        state = _wait_for(lambda m=machine: _archive_state(lab, m), 120, f"{machine}'s metrics")
        if not state.base_backups:
            started = lab.exec(
                machine, "systemctl", "start", "egov-barman-backup.service", timeout=600
            )
            assert started.returncode == 0, started.stderr


def _fresh_state(lab: Lab, machine: str) -> ServerState | None:
    """The host's state once it is a healthy one, read within the last collection."""
    state = _archive_state(lab, machine)
    now = time.time()
    if (
        state is None
        or state.failed
        or state.collected_at is None
        or now - state.collected_at > 60
        or state.last_wal_at is None
        or now - state.last_wal_at > WAL_LIMIT_SECONDS
        or not state.base_backups
        or state.failing_checks
    ):
        return None
    return state


def test_the_archive_metrics_are_fresh_on_both_archive_hosts(lab: Lab, streaming: None) -> None:
    for site, machine in STORES.items():
        state = _wait_for(
            lambda m=machine: _fresh_state(lab, m), 180, f"fresh metrics on {machine}"
        )
        assert (state.dataset, state.site, state.host) == ("databases", site, machine)
        assert state.stream_at is not None and time.time() - state.stream_at < RPO_SECONDS * 2
        assert len(state.checks) > 10  # every barman check item, each OK
    # both Prometheus scrape them through node_exporter
    series = _wait_for(
        lambda: _query(lab, "dr_archive_last_wal_timestamp_seconds") or None, 120, "the series"
    )
    assert {row["metric"]["host"] for row in series} == set(STORES.values())
    status = egov("backup", "status", "--archives", "--output", "json", timeout=120)
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)["archives"]
    assert [(row["site"], row["wal_fresh"], row["checks_ok"]) for row in rows] == [
        ("primary", True, True),
        ("site2", True, True),
    ], status.stdout


def test_a_two_minute_cut_fires_wal_archive_stale_and_the_archive_catches_up(
    lab: Lab, streaming: None
) -> None:
    machine = STORES["site2"]
    _wait_for(lambda: True if not _stale_alerts(lab, "site2") else None, 180, "no stale alert")
    _wait_for(
        lambda: (
            True
            if (state := _fresh_state(lab, machine)) is not None
            and state.last_wal_at is not None
            and time.time() - state.last_wal_at >= CUT_AFTER_AGE_SECONDS
            else None
        ),
        RPO_SECONDS * 3,
        f"a segment {CUT_AFTER_AGE_SECONDS} s old on {machine}",
    )
    before = _filed_segments(lab, machine)
    _primary_sql(lab, f"DROP TABLE IF EXISTS {CUT_TABLE}; CREATE TABLE {CUT_TABLE} (id int)")
    lab.api.cut_link(lab.spec, "site2")
    cut_at = time.monotonic()
    try:
        # a point inside the cut to recover to afterwards, between two rows written during it
        # (the primary's clock, in UTC: the archive host's is +07:00)
        _primary_sql(lab, f"INSERT INTO {CUT_TABLE} VALUES (1)")
        inside = datetime.fromtimestamp(
            float(_primary_sql(lab, "SELECT extract(epoch FROM clock_timestamp())")), UTC
        )
        time.sleep(1)
        _primary_sql(lab, f"INSERT INTO {CUT_TABLE} VALUES (2)")
        alert = _wait_for(
            lambda: next((a for a in _stale_alerts(lab, "site2") if a["state"] == "firing"), None),
            CUT_SECONDS,
            "WalArchiveStale firing for site2 at the primary's Prometheus",
        )
        assert alert["labels"]["host"] == machine and alert["labels"]["dataset"] == "databases"
        assert alert["labels"]["severity"] == "critical"
        assert not _stale_alerts(lab, "primary"), "the primary's archive is not affected"
        # the control node cannot reach site 2 either: status says so instead of failing
        status = egov("backup", "status", "--archives", "--output", "json", timeout=120)
        assert status.returncode == 0, status.stderr
        site2 = json.loads(status.stdout)["archives"][1]
        assert site2["host"] == machine and site2["error"], status.stdout
        time.sleep(max(CUT_SECONDS - (time.monotonic() - cut_at), 0))
    finally:
        lab.api.restore_link(lab.spec, "site2")
    restored_at = time.time()
    _, restarts = _stream_unit(lab, machine)
    _wait_for(
        lambda: True if not _stale_alerts(lab, "site2") else None,
        240,
        "WalArchiveStale resolved for site2",
    )
    caught_up = _wait_for(
        lambda: (
            state
            if (state := _archive_state(lab, machine)) is not None
            and state.last_wal_at is not None
            and state.last_wal_at > restored_at
            else None
        ),
        300,
        f"{machine}'s archive past the moment the link returned",
    )
    assert caught_up.site == "site2"
    _wait_for(
        lambda: True if _barman_check(lab, machine) else None, 180, f"barman check on {machine}"
    )
    # no gap: every segment from the last one filed before the cut to the newest is there,
    # the cut's two minutes at least (a segment a minute), once cron has filed what the stream
    # brought back (the metrics above count complete segments not filed yet)
    timeline, first = _segment_number(before[-1])

    def filed_since_cut() -> tuple[list[str], list[int]] | None:
        after = _filed_segments(lab, machine)
        numbers = [
            number
            for line, number in map(_segment_number, after)
            if line == timeline and number >= first
        ]
        return (after, numbers) if len(numbers) >= 3 else None

    after, numbers = _wait_for(filed_since_cut, 120, "the cut's segments filed")
    assert after[: len(before)] == before
    assert numbers == list(range(first, first + len(numbers))), after[len(before) - 1 :]
    # the stream's unit ran throughout, and runs the one stream: restarted by systemd, it
    # would find barman cron's own receive-wal holding the lock after the cut and fail on it
    # every few seconds (a deploy then "starts" it: the redeploy test caught it)
    assert _stream_unit(lab, machine) == ("running", restarts), "the stream's unit restarted"
    streams = lab.exec(machine, "pgrep", "-u", "barman", "-c", "-x", "pg_receivewal")
    assert streams.stdout.strip() == "1", streams.stdout
    # the WAL of the cut is whole: a restore from site 2 to the point inside it holds the row
    # written before that point and not the one after
    directory = "/var/tmp/egov-pitr-inside-cut"
    lab.exec(machine, "rm", "-rf", directory)
    restored = egov(
        "backup", "restore", "--dataset", "databases", "--to-time", inside.isoformat(),
        "--from-site", "site2", "--target", directory, "--verify", timeout=900,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stdout + restored.stderr
    try:
        rows = query_recovered(
            lab, machine, directory, "motcua", f"SELECT string_agg(id::text, ',') FROM {CUT_TABLE}"
        )
        assert rows == "1", rows
    finally:
        lab.exec(machine, "rm", "-rf", directory)
        _primary_sql(lab, f"DROP TABLE IF EXISTS {CUT_TABLE}")


def _primary_sql(lab: Lab, sql: str) -> str:
    result = lab.exec(
        "primary-db-01", "runuser", "-u", "postgres", "--", "psql", "-XtAq",
        "-v", "ON_ERROR_STOP=1", "-d", "motcua", "-c", sql,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _stream_unit(lab: Lab, machine: str) -> tuple[str, str]:
    """The stream unit's state and how often systemd has restarted it."""
    shown = lab.exec(
        machine, "systemctl", "show", "-p", "SubState", "-p", "NRestarts",
        f"egov-barman-receive-wal@{SERVER}.service",
    )  # fmt: skip
    values = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    return values["SubState"], values["NRestarts"]
