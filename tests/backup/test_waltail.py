"""egov/backup/waltail.py: the WAL past a recovery target that Barman 3.4's guess leaves out.

pg_waldump is a stand-in script here printing what the real one printed on the bench's lab
for the segments named (the real one reads real segments in the lab suite's restores)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from egov.backup.waltail import COPIED_WAL, complete_wal, parse_transaction_ends

SERVER = "databases-primary-db-01"
#: what pg_waldump --rmgr=Transaction printed for segment …E1 on the bench's lab (TZ=UTC)
E1 = """\
rmgr: Transaction len (rec/tot):     34/    34, tx:     175033, lsn: 1/E1FFBF90, prev 1/E1FFBF40, desc: COMMIT 2026-12-06 05:01:39.346899 UTC
rmgr: Transaction len (rec/tot):     34/    34, tx:     175034, lsn: 1/E1FFBFB8, prev 1/E1FFBF90, desc: COMMIT 2026-12-06 05:01:39.346924 UTC
"""  # noqa: E501
E2 = """\
rmgr: Transaction len (rec/tot):     34/    34, tx:     175035, lsn: 1/E2003CA0, prev 1/E2003C50, desc: COMMIT 2026-12-06 05:01:39.360657 UTC
rmgr: Transaction len (rec/tot):     34/    34, tx:     175099, lsn: 1/E2FFBF90, prev 1/E2FFBF40, desc: ABORT 2026-12-06 05:01:39.401000 UTC
"""  # noqa: E501
E3 = """\
rmgr: Transaction len (rec/tot):     66/    66, tx:     175100, lsn: 1/E3000108, prev 1/E30000C8, desc: COMMIT_PREPARED 7: 2026-12-06 05:01:39.412000 UTC; inval msgs: catcache 1
"""  # noqa: E501
#: the target of the bench's failed restore, as the operator gave it (+07:00)
TARGET = datetime(2026, 12, 6, 12, 1, 39, 401855, tzinfo=timezone(timedelta(hours=7)))


def _segment(n: int) -> str:
    return f"0000000100000001000000{n:02X}"


def _fake_waldump(tmp_path: Path, dumps: dict[str, str]) -> Path:
    """A pg_waldump printing ``dumps[name]`` for a segment of that name; it logs each call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in dumps.items():
        (tmp_path / f"{name}.dump").write_text(text)
    script = bin_dir / "pg_waldump"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$TZ" = UTC ] || exit 9\n'
        f'name=$(basename "$2"); echo "$name" >> {tmp_path}/calls\n'
        f'cat {tmp_path}/"$name".dump 2>/dev/null\n'
        # as the real one at a switched segment's zeros: non-zero, what it printed stands
        "echo 'pg_waldump: error: error in WAL record at 1/E2FFBFB8' >&2; exit 1\n"
    )
    os.chmod(script, 0o755)
    return bin_dir


def _layout(tmp_path: Path, copied: list[int], archived: list[int]) -> tuple[Path, Path]:
    """A recovered directory holding Barman's copied segments, and Barman's home."""
    directory = tmp_path / "recovered"
    (directory / COPIED_WAL / "archive_status").mkdir(parents=True)
    for n in copied:
        (directory / COPIED_WAL / _segment(n)).write_bytes(b"copied")
    home = tmp_path / "barman"
    for n in archived:
        path = home / SERVER / "wals" / _segment(n)[:16] / _segment(n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"segment {n:02X}".encode())
    (home / SERVER / "wals" / "00000002.history").write_text("1\t1/E4000000\tno\n")
    return directory, home


def test_pg_waldumps_commits_and_aborts_are_read_in_utc() -> None:
    assert parse_transaction_ends(E1 + E2 + E3) == [
        datetime(2026, 12, 6, 5, 1, 39, 346899, tzinfo=UTC),
        datetime(2026, 12, 6, 5, 1, 39, 346924, tzinfo=UTC),
        datetime(2026, 12, 6, 5, 1, 39, 360657, tzinfo=UTC),
        datetime(2026, 12, 6, 5, 1, 39, 401000, tzinfo=UTC),
        datetime(2026, 12, 6, 5, 1, 39, 412000, tzinfo=UTC),
    ]


def test_segments_are_added_up_to_the_first_transaction_after_the_target(
    tmp_path: Path,
) -> None:
    # the bench's failure: Barman stopped at E1 (filed just after T, all of it before T)
    bin_dir = _fake_waldump(tmp_path, {_segment(0xE1): E1, _segment(0xE2): E2, _segment(0xE3): E3})
    directory, home = _layout(tmp_path, [0xE0, 0xE1], [0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5])
    added = complete_wal(SERVER, directory, TARGET, bin_dir, home)
    assert added == [_segment(0xE2), _segment(0xE3)]  # E2's abort is before T, E3's commit after
    assert (directory / COPIED_WAL / _segment(0xE3)).read_bytes() == b"segment E3"
    assert not (directory / COPIED_WAL / _segment(0xE4)).exists()


def test_nothing_is_added_when_barmans_copy_already_holds_one(tmp_path: Path) -> None:
    bin_dir = _fake_waldump(tmp_path, {_segment(0xE3): E3})
    directory, home = _layout(tmp_path, [0xE2, 0xE3], [0xE2, 0xE3, 0xE4])
    assert complete_wal(SERVER, directory, TARGET, bin_dir, home) == []
    assert (tmp_path / "calls").read_text().split() == [_segment(0xE3)]


def test_an_archive_without_one_is_copied_to_its_end_and_the_replay_says_so(
    tmp_path: Path,
) -> None:
    bin_dir = _fake_waldump(tmp_path, {_segment(0xE1): E1, _segment(0xE2): E2})
    directory, home = _layout(tmp_path, [0xE1], [0xE1, 0xE2])
    # a later target than any transaction: everything there is goes, no more
    later = TARGET + timedelta(hours=1)
    assert complete_wal(SERVER, directory, later, bin_dir, home) == [_segment(0xE2)]


def test_segments_of_the_next_hex_directory_and_not_of_other_timelines(tmp_path: Path) -> None:
    bin_dir = _fake_waldump(tmp_path, {"000000010000000200000000": E3})
    directory, home = _layout(tmp_path, [0xFF], [0xFF])
    for name in ("000000010000000200000000", "000000020000000200000001"):
        path = home / SERVER / "wals" / name[:16] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    added = complete_wal(SERVER, directory, TARGET, bin_dir, home)
    assert added == ["000000010000000200000000"]


def test_a_recovery_without_copied_wal_is_left_alone(tmp_path: Path) -> None:
    bin_dir = _fake_waldump(tmp_path, {})
    directory = tmp_path / "recovered"
    directory.mkdir()
    assert complete_wal(SERVER, directory, TARGET, bin_dir, tmp_path / "barman") == []
    assert not (tmp_path / "calls").exists()
