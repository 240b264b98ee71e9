"""The drill record the exporter publishes, from literal journal events folded by summarize:
its result is the verdict's (``verdict.judge_drill``), as the report's."""

from __future__ import annotations

from typing import Any

from egov.drills.events import JournalEvent, parse_event
from egov.drills.results import make_drill_record
from egov.drills.summary import DrillSummary, summarize
from egov.records import DrillRecord, Result

PREVIOUS = DrillRecord(
    scenario="loss-of-primary-site",
    mode="failover",
    started_at=1000.0,
    finished_at=1300.0,
    result=Result.SUCCESS,
    last_success_at=1300.0,
)
PORTAL_TARGETS = {"title": "Portal", "rto_seconds": 180, "rpo_seconds": 5}


def event(seq: int, epoch: float, kind: str, **fields: Any) -> JournalEvent:
    return parse_event(
        {"seq": seq, "epoch": epoch, "event": kind, "prev": f"h{seq - 1}", "hash": f"h{seq}"}
        | fields
    )


def rpo_fields(seconds: float) -> dict[str, Any]:
    """An RPO measure of ``seconds``, every acknowledged record but the newest recovered."""
    return {
        "cutoff": 5100.0,
        "fault_at": 5100.0,
        "acknowledged": 10,
        "newest_acknowledged_at": 5099.0,
        "newest_recovered_at": 5099.0 - seconds,
        "lost": [],
    }


def make_summary(
    status: str | None,
    *,
    rto_seconds: float = 95.5,
    failures: tuple[str, ...] = (),
    key: str = "",
) -> DrillSummary:
    """A failover of the portal that ended ``status`` (None: no end), its RTO measured
    ``rto_seconds`` and its RPO 1.25 s, with ``failures`` journalled; closed when ``key``."""
    events = [
        event(
            0,
            5000.0,
            "start",
            estate="camau-lab",
            scenario="loss-of-primary-site",
            mode="failover",
            measured=True,
            services=["portal"],
            targets={"portal": PORTAL_TARGETS},
        ),
        event(1, 5100.0, "fault"),
        event(2, 5195.5, "measure", service="portal", metric="rto", seconds=rto_seconds),
        event(3, 5196.0, "measure", service="portal", metric="rpo", **rpo_fields(1.25)),
        event(4, 5300.0, "canary", services={"portal": {"acknowledged": 10}}),
    ]
    events += [event(len(events), 5390.0, "failure", text=text) for text in failures]
    if status is not None:
        events.append(event(len(events), 5400.0, "end", status=status))
    if key:
        last = len(events)
        events.append(event(last, 5400.5, "close", entries=last, last_hash=f"h{last - 1}", key=key))
    return summarize(events, "journal.jsonl")


def test_a_success_sets_the_last_success_to_its_end() -> None:
    record = make_drill_record(make_summary("succeeded"), PREVIOUS)
    assert record.result is Result.SUCCESS
    assert record.last_success_at == 5400.0
    assert record.error == ""
    assert (record.started_at, record.finished_at) == (5000.0, 5400.0)
    assert record.rto_seconds == {"portal": 95.5}
    assert record.rpo_seconds == {"portal": 1.25}
    assert record.lost_records == {"portal": 0}
    assert record.failed_writes == {"portal": 0}


def test_a_closed_journal_gives_the_record_its_closing_hash_and_key() -> None:
    record = make_drill_record(make_summary("succeeded", key="SHA256:abc"), PREVIOUS)
    assert (record.journal_closing_hash, record.journal_key) == ("h6", "SHA256:abc")


def test_an_open_journal_gives_the_record_no_closing_hash() -> None:
    record = make_drill_record(make_summary(None), PREVIOUS)
    assert (record.journal_closing_hash, record.journal_key) == ("", "")


def test_a_failure_keeps_the_previous_last_success() -> None:
    summary = make_summary("failed", failures=("step promote failed", "rollback failed"))
    record = make_drill_record(summary, PREVIOUS)
    assert record.result is Result.FAILURE
    assert record.last_success_at == 1300.0
    assert record.error == "step promote failed; rollback failed"


def test_a_first_failure_has_no_last_success() -> None:
    record = make_drill_record(make_summary("failed"), None)
    assert record.result is Result.FAILURE
    assert record.last_success_at is None


def test_a_missed_target_is_a_failure_even_if_the_journal_says_succeeded() -> None:
    """The verdict judges the measurements again: an end that says "succeeded" over an RTO
    past its target (a journal written so, or by a runner with a bug) is no success."""
    summary = make_summary("succeeded", rto_seconds=240.0)
    record = make_drill_record(summary, PREVIOUS)
    assert record.result is Result.FAILURE
    assert record.last_success_at == 1300.0
    assert record.error == "portal: RTO 240.0 s is over the target 180 s"
    assert not summary.succeeded and not summary.services[0].rto_ok


def test_a_recovered_drill_is_a_failure_that_says_so() -> None:
    record = make_drill_record(make_summary("recovered", key="SHA256:abc"), PREVIOUS)
    assert record.result is Result.FAILURE
    assert record.error == "the drill ended recovered"
    assert record.journal_closing_hash == "h6"


def test_an_unfinished_drill_ends_when_it_started() -> None:
    record = make_drill_record(make_summary(None), PREVIOUS)
    assert record.finished_at == 5000.0
    assert record.result is Result.FAILURE


def test_the_error_is_cut_to_500_characters() -> None:
    summary = make_summary("failed", failures=("x" * 400, "y" * 400))
    assert len(make_drill_record(summary, PREVIOUS).error) == 500
