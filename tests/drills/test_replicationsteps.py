"""Which snapshots a replication should already have copied (the drills' snapshots-missing)."""

from __future__ import annotations

from datetime import UTC, datetime

from egov.backup.restic import Snapshot
from egov.drills.replicationsteps import find_missing_copies, parse_unix_timestamp

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC).timestamp()


def _snapshot(snapshot_id: str, at: float, original: str | None = None) -> Snapshot:
    return Snapshot(id=snapshot_id, time=datetime.fromtimestamp(at, UTC), original=original)


def test_a_snapshot_taken_after_the_last_replication_began_is_pending_not_missing() -> None:
    source = [
        _snapshot("aa" * 32, T0),
        _snapshot("bb" * 32, T0 + 300),
        _snapshot("cc" * 32, T0 + 900),
    ]
    target = [_snapshot("11" * 32, T0 + 10, original="aa" * 32)]
    missing, pending = find_missing_copies(source, target, since=T0 - 3600, until=T0 + 600)
    assert [s.id for s in missing] == ["bb" * 32]  # due at T0 + 600 and not copied
    assert [s.id for s in pending] == ["cc" * 32]  # the next run copies it


def test_snapshots_older_than_the_window_are_left_to_retention() -> None:
    source = [_snapshot("aa" * 32, T0 - 7200), _snapshot("bb" * 32, T0)]
    missing, pending = find_missing_copies(source, [], since=T0 - 3600, until=T0 + 60)
    assert [s.id for s in missing] == ["bb" * 32] and pending == []


def test_systemd_unix_timestamps_parse_and_an_unknown_one_is_none() -> None:
    assert parse_unix_timestamp("@1764252906\n") == 1764252906.0
    assert parse_unix_timestamp("\n") is None  # the unit never ran since boot
    assert parse_unix_timestamp("@n/a") is None
