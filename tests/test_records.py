"""Records are written atomically and read back; unreadable ones are skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path

from egov.records import (
    BackupRecord,
    CatalogRecord,
    LatestSnapshot,
    Result,
    VerificationRecord,
    read_record,
    read_records,
    write_record,
)


def backup(result: Result, **changes: object) -> BackupRecord:
    values: dict[str, object] = {
        "dataset": "files",
        "host": "primary-store-01",
        "site": "primary",
        "repository": "primary",
        "started_at": 100.0,
        "finished_at": 160.0,
        "result": result,
    }
    values.update(changes)
    return BackupRecord.model_validate(values)


def test_round_trip_and_listing(tmp_path: Path) -> None:
    path = write_record(backup(Result.SUCCESS, snapshot_id="ab12"), tmp_path)
    assert path == tmp_path / "backup" / "files@primary-store-01.json"
    assert read_record(BackupRecord, "files@primary-store-01", tmp_path) == backup(
        Result.SUCCESS, snapshot_id="ab12"
    )
    catalog = CatalogRecord(
        repository="vnpt",
        site="vnpt",
        refreshed_at=1.0,
        result=Result.SUCCESS,
        latest={"files": {"primary-store-01": LatestSnapshot(id="ab12", time=99.0)}},
    )
    write_record(catalog, tmp_path)
    assert read_records(CatalogRecord, tmp_path) == [catalog]


def test_a_rewrite_replaces_and_garbage_is_skipped(tmp_path: Path) -> None:
    write_record(backup(Result.SUCCESS), tmp_path)
    write_record(backup(Result.FAILURE, error="link down", last_success_at=160.0), tmp_path)
    (tmp_path / "backup" / "broken@x.json").write_text("{not json")
    records = read_records(BackupRecord, tmp_path)
    assert [r.result for r in records] == [Result.FAILURE]
    assert records[0].last_success_at == 160.0
    assert not list((tmp_path / "backup").glob(".*"))  # no temporary file left behind


def test_a_record_holding_nan_or_infinity_is_skipped(tmp_path: Path) -> None:
    """Every reader (status, exporter, history) would compare or format NaN wrongly."""
    good = backup(Result.SUCCESS)
    write_record(good, tmp_path)
    text = (tmp_path / "backup" / f"{good.key()}.json").read_text(encoding="utf-8")
    for constant in ("NaN", "Infinity", "-Infinity"):
        damaged = json.loads(text)
        damaged["finished_at"] = f"@{constant}@"
        (tmp_path / "backup" / f"{good.key()}.json").write_text(
            json.dumps(damaged).replace(f'"@{constant}@"', constant)
        )
        assert read_records(BackupRecord, tmp_path) == []


def test_missing_directory_reads_as_nothing(tmp_path: Path) -> None:
    assert read_records(VerificationRecord, tmp_path) == []
    assert read_record(VerificationRecord, "primary", tmp_path) is None


def test_coverage_of_the_rotation() -> None:
    record = VerificationRecord(
        repository="r", site="s", checked_at=0, result=Result.SUCCESS, subset=3, subsets=12
    )
    assert record.coverage_ratio == 0.25


def test_a_fifo_among_the_records_is_skipped_without_blocking(tmp_path: Path) -> None:
    write_record(backup(Result.SUCCESS), tmp_path)
    os.mkfifo(tmp_path / "backup" / "pipe@x.json")  # nobody writes: a blocking open hangs
    assert [r.result for r in read_records(BackupRecord, tmp_path)] == [Result.SUCCESS]
