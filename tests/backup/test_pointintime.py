"""Point-in-time recovery: the base backup chosen, Barman's argv, the target time read, the
archive chosen, and what the control node asks the archive host to run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from egov.backup.archiverestore import make_agent_argv
from egov.backup.archivestate import BaseBackup
from egov.backup.pointintime import (
    choose_backup,
    get_base_backups,
    make_recover_argv,
)
from egov.backup.walarchive import get_archived_clusters
from egov.cli.backup_archive import (
    choose_archive,
    describe_recovery,
    parse_target_time,
)
from egov.errors import BackupError, InputError
from egov.inventory import load_estate
from egov.inventory.model import Estate

ROOT = Path(__file__).resolve().parents[2]
ICT = timezone(timedelta(hours=7))


@pytest.fixture(scope="module")
def lab() -> Estate:
    return load_estate(ROOT / "inventory" / "lab.yaml").estate


def _backup(backup_id: str, end: datetime | None, status: str = "DONE") -> BaseBackup:
    return BaseBackup(backup_id, status, end.timestamp() if end is not None else None)


def test_barman_json_is_read_oldest_first() -> None:
    text = json.dumps(
        {
            "databases-primary-db-01": [
                {"backup_id": "20261205T150000", "status": "STARTED", "end_time_timestamp": ""},
                {
                    "backup_id": "20261205T140000",
                    "status": "DONE",
                    "end_time_timestamp": "1796450400",
                },
            ]
        }
    )
    backups = get_base_backups(text, "databases-primary-db-01")
    assert [b.backup_id for b in backups] == ["20261205T140000", "20261205T150000"]
    assert backups[0].end == datetime.fromtimestamp(1796450400, UTC)
    assert backups[1].end is None
    with pytest.raises(BackupError, match=r"x's backups is not readable: .* no JSON"):
        get_base_backups("barman: error", "x")


def test_the_newest_backup_that_ended_before_the_target_is_chosen() -> None:
    t = datetime(2026, 12, 5, 16, 0, tzinfo=ICT)
    backups = [
        _backup("a", t - timedelta(days=1)),
        _backup("b", t - timedelta(hours=1)),
        _backup("c", t - timedelta(minutes=5), status="FAILED"),
        _backup("d", t + timedelta(minutes=5)),  # ended after T: WAL cannot go back
    ]
    assert choose_backup(backups, t).backup_id == "b"
    assert choose_backup(backups, None).backup_id == "d"
    with pytest.raises(BackupError, match="no base backup ended before"):
        choose_backup(backups, t - timedelta(days=2))
    with pytest.raises(BackupError, match="no complete base backup"):
        choose_backup([_backup("x", None, "STARTED")], t)


def test_recover_argv_stops_at_the_target_and_promotes() -> None:
    t = datetime(2026, 12, 5, 16, 0, 1, tzinfo=ICT)
    argv = make_recover_argv("srv", "b", Path("/var/tmp/pitr"), t, ICT)
    assert argv[:4] == ("runuser", "-u", "barman", "--")
    assert argv[4:] == (
        "barman", "recover", "--target-time", "2026-12-05T16:00:01+07:00",
        "--target-action", "promote", "srv", "b", "/var/tmp/pitr",
    )  # fmt: skip
    assert make_recover_argv("srv", "b", Path("/t"), None)[4:] == (
        "barman",
        "recover",
        "srv",
        "b",
        "/t",
    )


def test_recover_argv_writes_the_target_in_the_archive_hosts_local_time() -> None:
    # Barman 3.4 reads the target's wall-clock time as local (mktime of its timetuple): a UTC
    # target on a host at +07:00 made it copy the WAL of seven hours before
    t = datetime(2026, 12, 6, 1, 5, 46, 500000, tzinfo=UTC)
    argv = make_recover_argv("srv", "b", Path("/t"), t, ICT)
    assert argv[argv.index("--target-time") + 1] == "2026-12-06T08:05:46.500000+07:00"


def test_target_time_takes_the_estates_timezone_and_refuses_nonsense() -> None:
    now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    moment = parse_target_time("2026-12-05 16:00", "Asia/Ho_Chi_Minh", now)
    assert moment.utcoffset() == timedelta(hours=7) and moment.hour == 16
    assert parse_target_time("2026-12-05T08:00:00+00:00", "Asia/Ho_Chi_Minh", now).hour == 8
    for text, message in (("yesterday", "not a time"), ("60", "not a time"),
                          ("2026-12-05T18:00:00", "in the future")):  # fmt: skip
        with pytest.raises(InputError, match=message):
            parse_target_time(text, "Asia/Ho_Chi_Minh", now)


def test_the_archive_is_chosen_by_site_and_refused_where_there_is_none(lab: Estate) -> None:
    assert choose_archive(lab, "databases", None).archive_host.selector == "primary/store-01"
    assert choose_archive(lab, "databases", "site2").archive_host.selector == "site2/store-01"
    with pytest.raises(InputError, match="not archived there"):
        choose_archive(lab, "databases", "vnpt")
    with pytest.raises(InputError, match="has no WAL archive"):
        choose_archive(lab, "files", None)


def test_the_agent_gets_the_server_time_databases_and_queries(lab: Estate) -> None:
    pair = get_archived_clusters(lab)[0]
    t = datetime(2026, 12, 5, 16, 0, tzinfo=ICT)
    argv = make_agent_argv(pair, lab, Path("/var/tmp/pitr"), t, verify=True)
    assert argv[:5] == ["egov", "agent", "archive-restore", "--server", pair.server]
    assert argv[argv.index("--to-time") + 1] == "2026-12-05T16:00:00+07:00"
    assert argv.count("--database") == 2 and "--sanity-query" in argv
    assert "--verify" not in make_agent_argv(pair, lab, Path("/t"), None, verify=False)


def test_the_report_says_how_far_the_recovery_was_proven(lab: Estate) -> None:
    from egov.backup.pointintime import Recovery

    pair = get_archived_clusters(lab)[0]
    base = Recovery(server=pair.server, backup_id="b", backup_end=None,
                    target_time=datetime(2026, 12, 5, 16, 0, tzinfo=ICT),
                    directory="/var/tmp/pitr", replayed=False)  # fmt: skip
    assert "not replayed" in describe_recovery(base, pair)
    replayed = base.model_copy(
        update={
            "replayed": True,
            "last_transaction": datetime(2026, 12, 5, 8, 59, 59, 100000, tzinfo=UTC),
            "databases": ["portal", "motcua"],
            "queries_checked": 2,
        }
    )
    text = describe_recovery(replayed, pair)
    assert "to 2026-12-05 16:00:00.000+07:00" in text
    assert "last transaction kept 2026-12-05 15:59:59.100+07:00" in text
    assert "2 sanity queries on 2 databases" in text


def test_segment_names_follow_postgresql() -> None:
    from egov.backup.pointintime import make_segment_name

    assert make_segment_name("0", "A0000D8") == "00000001000000000000000A"
    assert make_segment_name("1", "FF000000") == "0000000100000001000000FF"
    assert make_segment_name("2", "0", timeline=3) == "000000030000000200000000"


def test_the_newest_filed_segment_is_read_from_barmans_index(tmp_path: Path) -> None:
    from egov.backup.pointintime import read_newest_segment

    wals = tmp_path / "srv" / "wals"
    wals.mkdir(parents=True)
    assert read_newest_segment("srv", tmp_path) is None
    (wals / "xlog.db").write_text(
        "000000010000000000000009\t16777216\t1796482874.06\tNone\n"
        "00000001000000000000000B\t16777216\t1796482935.01\tNone\n"
        "00000001000000000000000A\t16777216\t1796482875.21\tNone\n"
        "00000002.history\t42\t1796482936.00\tNone\n"
        "garbage line\n"
    )
    assert read_newest_segment("srv", tmp_path) == "00000001000000000000000B"


def test_a_replay_that_stops_short_of_the_newest_segment_is_a_gap() -> None:
    from egov.backup.pointintime import check_reached_the_end

    check_reached_the_end("00000001000000000000000B", "00000001000000000000000B")
    # a promotion moves to a new timeline: the segment counts, not the timeline
    check_reached_the_end("00000002000000000000000B", "00000001000000000000000B")
    with pytest.raises(BackupError, match="gap: replay ended in segment 00000001000000000000000A"):
        check_reached_the_end("00000001000000000000000A", "00000001000000000000000B")
    with pytest.raises(BackupError, match="could not be read"):
        check_reached_the_end(None, "00000001000000000000000B")
