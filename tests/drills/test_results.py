"""The drill record the exporter publishes, from literal summaries."""

from __future__ import annotations

from egov.drills.results import make_drill_record
from egov.drills.summary import DrillStatus, DrillSummary, ServiceMeasurement
from egov.records import DrillRecord, Result

PREVIOUS = DrillRecord(
    scenario="loss-of-primary-site",
    mode="failover",
    started_at=1000.0,
    finished_at=1300.0,
    result=Result.SUCCESS,
    last_success_at=1300.0,
)


def make_summary(status: DrillStatus, **changes: object) -> DrillSummary:
    values: dict[str, object] = {
        "estate": "camau-lab",
        "scenario": "loss-of-primary-site",
        "mode": "failover",
        "started_at": 5000.0,
        "finished_at": 5400.0,
        "status": status,
        "measured": True,
        "services": [
            ServiceMeasurement(
                service="portal",
                rto_seconds=95.5,
                rto_target_seconds=180,
                rpo_seconds=1.25,
                rpo_target_seconds=5,
                lost_records=0,
                rto_ok=True,
                rpo_ok=True,
            )
        ],
    }
    values.update(changes)
    return DrillSummary.model_validate(values)


def test_a_success_sets_the_last_success_to_its_end() -> None:
    record = make_drill_record(make_summary(DrillStatus.SUCCEEDED), PREVIOUS)
    assert record.result is Result.SUCCESS
    assert record.last_success_at == 5400.0
    assert record.error == ""
    assert (record.started_at, record.finished_at) == (5000.0, 5400.0)
    assert record.rto_seconds == {"portal": 95.5}
    assert record.rpo_seconds == {"portal": 1.25}
    assert record.lost_records == {"portal": 0}
    assert record.failed_writes == {"portal": 0}


def test_a_closed_journal_gives_the_record_its_closing_hash_and_key() -> None:
    summary = make_summary(
        DrillStatus.SUCCEEDED, journal_last_hash="c1" * 32, journal_key="SHA256:abc"
    )
    record = make_drill_record(summary, PREVIOUS)
    assert (record.journal_closing_hash, record.journal_key) == ("c1" * 32, "SHA256:abc")


def test_an_open_journal_gives_the_record_no_closing_hash() -> None:
    summary = make_summary(DrillStatus.UNFINISHED, journal_last_hash="c1" * 32, journal_key="")
    record = make_drill_record(summary, PREVIOUS)
    assert (record.journal_closing_hash, record.journal_key) == ("", "")


def test_a_failure_keeps_the_previous_last_success() -> None:
    summary = make_summary(DrillStatus.FAILED, failures=["step promote failed", "rollback failed"])
    record = make_drill_record(summary, PREVIOUS)
    assert record.result is Result.FAILURE
    assert record.last_success_at == 1300.0
    assert record.error == "step promote failed; rollback failed"


def test_a_first_failure_has_no_last_success() -> None:
    record = make_drill_record(make_summary(DrillStatus.FAILED), None)
    assert record.result is Result.FAILURE
    assert record.last_success_at is None


def test_a_missed_target_is_a_failure_even_if_every_step_succeeded() -> None:
    slow = ServiceMeasurement(
        service="portal",
        rto_seconds=240.0,
        rto_target_seconds=180,
        rpo_seconds=1.0,
        rpo_target_seconds=5,
        lost_records=0,
        rto_ok=False,  # the verdict's (verdict.judge), as summarize sets it
        rpo_ok=True,
    )
    record = make_drill_record(make_summary(DrillStatus.SUCCEEDED, services=[slow]), PREVIOUS)
    assert record.result is Result.FAILURE
    assert record.last_success_at == 1300.0


def test_an_unfinished_drill_ends_when_it_started() -> None:
    summary = make_summary(DrillStatus.UNFINISHED, finished_at=None, services=[])
    record = make_drill_record(summary, PREVIOUS)
    assert record.finished_at == 5000.0
    assert record.result is Result.FAILURE
    assert record.rto_seconds == {}


def test_the_error_is_cut_to_500_characters() -> None:
    summary = make_summary(DrillStatus.FAILED, failures=["x" * 400, "y" * 400])
    assert len(make_drill_record(summary, PREVIOUS).error) == 500
