"""The WAL archive's metrics: Barman's output parsed (samples from the lab's Barman 3.4 in
``data/barman``), the textfile written, read back, and kept through a failing collection.

Barman itself cannot run here (it needs a PostgreSQL to pull from): the runner handed to the
collection prints the lab's recorded output instead, or fails as Barman does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from egov.backup.agentconfig import make_agent_config
from egov.backup.archivemetrics import (
    TEXTFILE_NAME,
    collect_server,
    parse_archive_series,
    run_archive_metrics,
)
from egov.backup.archivestate import (
    ArchiveServer,
    BaseBackup,
    ServerState,
    get_base_backup_limit,
    get_done_backups,
    get_newest_complete_segment,
    parse_check,
    parse_list_backups,
    parse_xlog_db,
)
from egov.cli import run
from egov.deploys.archive import make_metrics_units
from egov.errors import CommandFailed
from egov.inventory.backup import Schedule
from egov.inventory.model import Estate

DATA = Path(__file__).parent / "data" / "barman"
SERVER = "databases-primary-db-01"
NEWEST_BACKUP_END = 1796482875.0
NEWEST_WAL = 1796482935.0193784
FIRST_WAL = 1796482874.063376
ARCHIVE = ArchiveServer(
    server=SERVER, dataset="databases", site="site2", rpo_seconds=60, base_backup_limit_seconds=1
)


def _sample(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def _failing_check() -> str:
    """The lab's check output as it reads with the primary unreachable and no backup yet."""
    items = json.loads(_sample("check.json"))
    for name in ("postgresql", "receive_wal_running", "minimum_redundancy_requirements"):
        items[SERVER][name] = {"hint": "", "status": "FAILED"}
    return json.dumps(items)


class Barman:
    """Stands in for ``barman -f json``: prints the recorded samples, or fails like Barman."""

    def __init__(
        self, check: str | None = None, fail: bool = False, list_backups: str | None = None
    ) -> None:
        self.check = check or _sample("check.json")
        self.list_backups = list_backups or _sample("list-backups.json")
        self.fail = fail
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str]) -> str:
        self.calls.append(tuple(argv))
        if self.fail:
            raise CommandFailed(argv, 2, "ERROR: Unknown server")
        return self.list_backups if "list-backups" in argv else self.check


def _home(tmp_path: Path, streaming: dict[str, float]) -> Path:
    """A barman home holding the lab's xlog.db and ``streaming`` files with those mtimes."""
    wals = tmp_path / "barman" / SERVER / "wals"
    wals.mkdir(parents=True)
    shutil.copy(DATA / "xlog.db", wals / "xlog.db")
    directory = tmp_path / "barman" / SERVER / "streaming"
    directory.mkdir()
    for name, mtime in streaming.items():
        (directory / name).write_bytes(b"")
        os.utime(directory / name, (mtime, mtime))
    return tmp_path / "barman"


def test_xlog_db_gives_the_oldest_and_newest_filed_segment() -> None:
    xlog = parse_xlog_db(_sample("xlog.db"))
    assert (xlog.first_at, xlog.last_at) == (FIRST_WAL, NEWEST_WAL)
    assert xlog.errors == ()
    empty = parse_xlog_db("")
    assert (empty.first_at, empty.last_at, empty.errors) == (None, None, ())
    damaged = parse_xlog_db(_sample("xlog.db").splitlines()[0] + "\nnot a line\n")
    assert len(damaged.entries) == 1
    assert damaged.errors == ("xlog.db line 2: 'not a line' has no time field",)


def test_a_damaged_xlog_db_fails_the_wal_part_of_the_collection(tmp_path: Path) -> None:
    home = _home(tmp_path, {})
    xlog = home / SERVER / "wals" / "xlog.db"
    xlog.write_text(xlog.read_text() + "not a line\n")
    state = collect_server(ARCHIVE, "site2-store-01", 2e9, home, Barman())
    assert state.failed == ("wal",) and "xlog.db line 4" in state.errors[0]


def test_a_partial_segment_is_the_stream_not_an_archived_segment() -> None:
    assert get_newest_complete_segment({"00000001000000000000000C.partial": 5.0}) is None
    assert get_newest_complete_segment({"0C.partial": 9.0, "0B": 7.0, "0A": 3.0}) == 7.0


def _newest_done(text: str) -> tuple[float | None, int]:
    """The newest DONE backup's end and how many are DONE, as a collection reads them."""
    state = collect_server(ARCHIVE, "h", 2e9, Path("/nonexistent"), Barman(list_backups=text))
    return state.last_base_backup_at, state.base_backups


def test_list_backups_gives_the_newest_done_backup_and_ignores_failed_ones() -> None:
    assert parse_list_backups(_sample("list-backups.json"), SERVER) == [
        BaseBackup("20261205T220111", "DONE", NEWEST_BACKUP_END)
    ]
    assert _newest_done(_sample("list-backups.json")) == (NEWEST_BACKUP_END, 1)
    rows = json.loads(_sample("list-backups.json"))
    rows[SERVER].append({**rows[SERVER][0], "status": "FAILED", "end_time_timestamp": "1.9e9"})
    assert _newest_done(json.dumps(rows)) == (NEWEST_BACKUP_END, 1)
    assert [b.status for b in get_done_backups(parse_list_backups(json.dumps(rows), SERVER))] == [
        "DONE"
    ]
    assert _newest_done(json.dumps({SERVER: []})) == (None, 0)
    with pytest.raises(ValueError, match="no JSON"):
        parse_list_backups("ERROR: Unknown server", SERVER)
    with pytest.raises(ValueError, match="backup 1 is not an id, status and end"):
        parse_list_backups(json.dumps({SERVER: [{"status": "DONE"}]}), SERVER)


def test_check_items_fail_except_the_one_that_means_no_backup_yet() -> None:
    healthy = parse_check(_sample("check.json"), SERVER)
    assert len(healthy) == 22 and all(ok for _, ok in healthy)
    state = ServerState(SERVER, "databases", "site2", "site2-store-01", checks=parse_check(
        _failing_check(), SERVER
    ))  # fmt: skip
    assert state.failing_checks == ("postgresql", "receive_wal_running")
    with pytest.raises(ValueError, match="nothing about other"):
        parse_check(_sample("check.json"), "other")


def test_the_base_backup_may_be_a_night_older_than_its_schedule() -> None:
    daily = Schedule(interval=timedelta(hours=24), randomized_delay=timedelta(minutes=5))
    assert get_base_backup_limit(daily) == timedelta(hours=36, minutes=5)


def test_collecting_reads_the_files_and_barman_as_barman(tmp_path: Path) -> None:
    home = _home(tmp_path, {"00000001000000000000000C.partial": NEWEST_WAL + 30})
    barman = Barman()
    state = collect_server(ARCHIVE, "site2-store-01", 2e9, home, barman)
    assert (state.last_wal_at, state.first_wal_at) == (NEWEST_WAL, FIRST_WAL)
    assert state.stream_at == pytest.approx(NEWEST_WAL + 30)
    assert (state.last_base_backup_at, state.base_backups) == (NEWEST_BACKUP_END, 1)
    assert state.failed == () and state.failing_checks == ()
    assert all(call[:4] == ("runuser", "-u", "barman", "--") for call in barman.calls)


def test_a_segment_streamed_but_not_yet_filed_counts_as_archived(tmp_path: Path) -> None:
    home = _home(tmp_path, {"00000001000000000000000C": NEWEST_WAL + 60})
    state = collect_server(ARCHIVE, "site2-store-01", 2e9, home, Barman())
    assert state.last_wal_at == pytest.approx(NEWEST_WAL + 60)


def test_the_textfile_reads_back_as_it_was_collected(tmp_path: Path) -> None:
    home = _home(tmp_path, {})
    written = run_archive_metrics(
        [ARCHIVE], "site2-store-01", tmp_path / "textfiles", 2e9, home, Barman(_failing_check())
    )
    text = (tmp_path / "textfiles" / TEXTFILE_NAME).read_text(encoding="utf-8")
    assert (
        'dr_archive_check_ok{check="postgresql",dataset="databases",host="site2-store-01"' in text
    )
    assert "type=" not in text and "instance=" not in text and "job=" not in text
    (state,) = parse_archive_series(text)
    assert state == written[0]
    assert state.failing_checks == ("postgresql", "receive_wal_running")


def test_a_failing_collection_keeps_the_series_and_says_it_failed(tmp_path: Path) -> None:
    home = _home(tmp_path, {})
    directory = tmp_path / "textfiles"
    run_archive_metrics([ARCHIVE], "site2-store-01", directory, 2e9, home, Barman())
    (directory.parent / "barman" / SERVER / "wals" / "xlog.db").write_text("garbage\n")
    (state,) = run_archive_metrics(
        [ARCHIVE], "site2-store-01", directory, 2e9 + 20, home, Barman(fail=True)
    )
    assert state.failed == ("wal", "backups", "check") and len(state.errors) == 3
    (read,) = parse_archive_series((directory / TEXTFILE_NAME).read_text(encoding="utf-8"))
    assert read.failed == ("collection",) and read.collected_at == 2e9 + 20
    assert (read.last_wal_at, read.last_base_backup_at) == (NEWEST_WAL, NEWEST_BACKUP_END)
    assert len(read.checks) == 22


def test_the_textfile_passes_promtool_check_metrics(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    run_archive_metrics([ARCHIVE], "h", tmp_path, 2e9, _home(tmp_path, {}), Barman())
    text = (tmp_path / TEXTFILE_NAME).read_text(encoding="utf-8")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_archive_host_of_the_lab_is_configured_with_its_servers(lab: Estate) -> None:
    by_host = {ref.qualified_name: make_agent_config(lab, ref).archives for ref in lab.iter_hosts()}
    archives = {host: servers for host, servers in by_host.items() if servers}
    assert set(archives) == {"primary-store-01", "site2-store-01"}
    (server,) = archives["site2-store-01"]
    assert (server.server, server.dataset, server.site) == (SERVER, "databases", "site2")
    assert server.rpo_seconds == 60
    assert server.base_backup_limit_seconds == (24 * 3600) + 300 + 12 * 3600


def test_the_metrics_unit_runs_the_agent_as_root_every_20_seconds() -> None:
    service, timer = make_metrics_units()
    assert "ExecStart=/opt/egov/venv/bin/egov agent archive-metrics\n" in service
    assert "User=" not in service and "Type=oneshot" in service
    assert "OnUnitActiveSec=20s" in timer and "Unit=egov-archive-metrics.service" in timer


def test_the_agent_refuses_a_host_that_archives_nothing(
    lab: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.json"
    vnpt = next(ref for ref in lab.iter_hosts() if ref.site == "vnpt")
    config.write_text(make_agent_config(lab, vnpt).model_dump_json(), encoding="utf-8")
    assert run(["agent", "archive-metrics", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: this host runs no Barman server" in err and "archive.hosts" in err
