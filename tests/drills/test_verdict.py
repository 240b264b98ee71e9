"""The verdict, fed literal measurements: each way a recovery can fall short must fail it.

Records are acknowledged every 0.25 s from 100 s to 110 s (seq 1..41); the cutoff (the fault
of a test) is 110 s and the targets are the lab's: RTO 180 s, RPO 5 s, file stores 600 s.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from egov.drills.events import JournalEvent, parse_event
from egov.drills.verdict import (
    DataLoss,
    DrillStatus,
    LostRecord,
    Measurements,
    Targets,
    Verdict,
    get_end_status,
    judge,
    judge_drill,
)

TARGETS = {"portal": Targets(rto_seconds=180, rpo_seconds=5, files_rpo_seconds=600)}
CUTOFF = 110.0
ACKNOWLEDGED = {seq: 100.0 + 0.25 * (seq - 1) for seq in range(1, 42)}


def loss(*lost: int) -> DataLoss:
    """What the recovery site lacks when records ``lost`` are missing."""
    kept = [at for seq, at in ACKNOWLEDGED.items() if seq not in lost]
    return DataLoss(
        cutoff=CUTOFF,
        acknowledged=len(ACKNOWLEDGED),
        newest_acknowledged_at=max(ACKNOWLEDGED.values()),
        newest_recovered_at=max(kept) if kept else None,
        lost=tuple(LostRecord(seq, ACKNOWLEDGED[seq]) for seq in sorted(lost)),
    )


def measured(**changes: object) -> Measurements:
    values: dict[str, object] = {
        "rto_seconds": 42.0,
        "data_loss": loss(),
        "failed_writes": 0,
        "files_rpo_seconds": 120.0,
    }
    values.update(changes)
    return Measurements(**values)  # type: ignore[arg-type]


def verdict_of(**changes: object) -> Verdict:
    return judge({"portal": measured(**changes)}, TARGETS)


def test_a_whole_recovery_within_every_target_passes() -> None:
    verdict = verdict_of()
    assert verdict.ok and verdict.problems == ()
    assert verdict.get("portal") is not None and verdict.get("other") is None


def test_losing_the_newest_records_within_the_rpo_passes_and_counts_them() -> None:
    # the last 2 s (8 records) did not reach the recovery site: an RPO of 2 s, under 5 s
    verdict = verdict_of(data_loss=loss(*range(34, 42)))
    assert verdict.ok
    assert loss(*range(34, 42)).seconds == 2.0


def test_a_file_store_not_restored_in_this_drill_is_not_judged() -> None:
    assert verdict_of(files_rpo_seconds=None).ok


def test_total_loss_fails_with_no_acknowledged_record_recovered() -> None:
    # before, this scored the seconds of the warm-up and passed
    verdict = verdict_of(data_loss=loss(*ACKNOWLEDGED))
    assert not verdict.ok
    portal = verdict.get("portal")
    assert portal is not None and not portal.rpo_ok and portal.rto_ok
    assert portal.lost_records == 41
    (problem,) = verdict.problems
    assert "portal: no acknowledged record recovered: all 41 lost" in problem
    assert "records 1, 2, 3, 4, 5, … 41 (41)" in problem


def test_a_gap_in_the_middle_fails_though_the_newest_record_came_back() -> None:
    # records acknowledged at 101..102 s are missing; 41 (the newest) is there: 0 s by time
    gap = loss(5, 6, 7, 8, 9)
    assert gap.seconds == 0.0
    verdict = verdict_of(data_loss=gap)
    assert not verdict.ok
    (problem,) = verdict.problems
    assert "5 acknowledged records older than the target" in problem
    assert "records 5, 6, 7, 8, 9 (5)" in problem


def test_a_failover_may_lose_the_newest_records_before_the_fault_within_the_target() -> None:
    # a failover counts acknowledgements up to the recovery, 60 s after the fault: the last
    # 2 s before the fault went, the gap rule reckons from the fault, not from the cutoff
    newest = loss(*range(34, 42))
    failover = DataLoss(
        cutoff=CUTOFF + 60,
        acknowledged=newest.acknowledged,
        newest_acknowledged_at=newest.newest_acknowledged_at,
        newest_recovered_at=newest.newest_recovered_at,
        lost=newest.lost,
        fault_at=CUTOFF,
    )
    assert verdict_of(data_loss=failover).ok
    earlier = DataLoss(
        cutoff=CUTOFF + 60,
        acknowledged=newest.acknowledged,
        newest_acknowledged_at=newest.newest_acknowledged_at,
        newest_recovered_at=newest.newest_recovered_at,
        lost=loss(3, 4).lost,
        fault_at=CUTOFF,
    )
    assert not verdict_of(data_loss=earlier).ok


def test_a_gap_inside_the_target_window_alone_passes() -> None:
    # records acknowledged at 108 s: within 5 s of the cutoff, and older ones all there
    assert verdict_of(data_loss=loss(33, 34)).ok


def test_losing_the_newest_records_beyond_the_target_fails() -> None:
    # the last 6 s lost (records 17..41 acknowledged from 104 s on): over the 5 s RPO
    verdict = verdict_of(data_loss=loss(*range(17, 42)))
    assert not verdict.ok
    assert any("RPO 6.2 s is over the target 5 s" in problem for problem in verdict.problems)
    assert any("older than the target" in problem for problem in verdict.problems)


def test_newest_records_lost_while_the_canary_had_stopped_getting_answers_fail() -> None:
    # nothing was acknowledged in the last 5 s before the cutoff; the 1 s lost before that
    # is within the RPO by time, but those records are older than the cutoff minus the target
    quiet = {seq: at for seq, at in ACKNOWLEDGED.items() if at <= 104.0}
    data_loss = DataLoss(
        cutoff=CUTOFF,
        acknowledged=len(quiet),
        newest_acknowledged_at=104.0,
        newest_recovered_at=103.0,
        lost=tuple(LostRecord(seq, at) for seq, at in quiet.items() if at > 103.0),
    )
    assert data_loss.seconds == 1.0
    assert not verdict_of(data_loss=data_loss).ok


def test_failed_canary_writes_fail_the_rpo() -> None:
    verdict = verdict_of(failed_writes=3)
    assert not verdict.ok
    assert verdict.services[0].failed_writes == 3 and verdict.services[0].lost_records == 0
    (problem,) = verdict.problems
    assert problem.startswith("portal: 3 canary writes refused")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"rto_seconds": None}, "RTO was not measured"),
        ({"data_loss": None}, "RPO was not measured"),
        (
            {"data_loss": DataLoss(CUTOFF, 0, None, None)},
            "no canary record was acknowledged before the cutoff",
        ),
    ],
)
def test_a_missing_measurement_fails(changes: dict[str, object], words: str) -> None:
    verdict = verdict_of(**changes)
    assert not verdict.ok
    assert any(words in problem for problem in verdict.problems)


def test_a_service_with_targets_but_no_measurement_at_all_fails() -> None:
    verdict = judge({}, TARGETS)
    assert not verdict.ok
    assert len(verdict.problems) == 2  # neither RTO nor RPO


def test_a_late_answer_fails_the_rto() -> None:
    assert verdict_of(rto_seconds=180.0).ok  # at the target is within it
    verdict = verdict_of(rto_seconds=180.5)
    portal = verdict.get("portal")
    assert portal is not None and not portal.rto_ok and portal.rpo_ok
    assert verdict.problems == ("portal: RTO 180.5 s is over the target 180 s",)


def test_a_stale_file_copy_fails_the_file_store_rpo() -> None:
    assert verdict_of(files_rpo_seconds=600.0).ok
    verdict = verdict_of(files_rpo_seconds=601.0)
    portal = verdict.get("portal")
    assert portal is not None and not portal.files_rpo_ok and portal.rto_ok and portal.rpo_ok
    assert "file-store RPO 601 s is over the target 600 s" in verdict.problems[0]


def test_each_service_is_judged_on_its_own() -> None:
    targets = {**TARGETS, "motcua": Targets(rto_seconds=180, rpo_seconds=5)}
    verdict = judge({"portal": measured(), "motcua": measured(rto_seconds=200.0)}, targets)
    assert [(s.service, s.ok) for s in verdict.services] == [("portal", True), ("motcua", False)]
    assert verdict.problems == ("motcua: RTO 200.0 s is over the target 180 s",)


# judge_drill: the whole drill's verdict from its journal's events


def journal(*events: tuple[str, dict[str, Any]], measured: bool = True) -> list[JournalEvent]:
    """A start with the portal's targets, then ``events`` (kind, fields), numbered."""
    start = (
        "start",
        {
            "measured": measured,
            "targets": {"portal": {"rto_seconds": 180, "rpo_seconds": 5, "files_rpo_seconds": 600}},
        },
    )
    return [
        parse_event({"seq": seq, "epoch": 100.0 + seq, "event": kind, "prev": "", "hash": ""} | f)
        for seq, (kind, f) in enumerate([start, *events])
    ]


RTO = ("measure", {"service": "portal", "metric": "rto", "seconds": 42.0})
RPO = (
    "measure",
    {
        "service": "portal",
        "metric": "rpo",
        "cutoff": CUTOFF,
        "acknowledged": 41,
        "newest_acknowledged_at": 110.0,
        "newest_recovered_at": 109.0,
        "lost": [[41, 110.0]],
    },
)
END = ("end", {"status": "succeeded"})


def test_a_drill_that_met_every_target_and_succeeded_passes() -> None:
    verdict = judge_drill(journal(RTO, RPO, ("canary", {"services": {}}), END))
    assert verdict.passed and verdict.status is DrillStatus.SUCCEEDED
    assert verdict.targets["portal"] == TARGETS["portal"]
    assert verdict.measurements["portal"].rto_seconds == 42.0
    assert verdict.reasons == ()


def test_an_end_that_says_succeeded_over_a_missed_target_does_not_pass() -> None:
    late = ("measure", {"service": "portal", "metric": "rto", "seconds": 400.0})
    verdict = judge_drill(journal(late, RPO, END))
    assert not verdict.passed
    assert verdict.reasons == ("portal: RTO 400.0 s is over the target 180 s",)


def test_refused_canary_writes_journalled_by_the_canary_fail_the_rpo() -> None:
    canary = ("canary", {"services": {"portal": {"refused_writes": 3}}})
    verdict = judge_drill(journal(RTO, RPO, canary, END))
    assert not verdict.passed and "3 canary writes refused" in verdict.problems[0]


def test_a_mode_that_measures_nothing_is_judged_by_how_it_ended_alone() -> None:
    assert judge_drill(journal(END, measured=False)).passed
    failed = judge_drill(journal(("failure", {"text": "b broke"}), ("end", {"status": "failed"})))
    assert not failed.passed and failed.reasons == ("b broke",)


def test_a_journal_without_its_end_is_unfinished_and_does_not_pass() -> None:
    verdict = judge_drill(journal(RTO, RPO))
    assert verdict.status is DrillStatus.UNFINISHED and not verdict.passed
    assert verdict.reasons == ("the drill ended unfinished",)


def test_a_recovered_drill_does_not_pass() -> None:
    assert not judge_drill(journal(RTO, RPO, ("end", {"status": "recovered"}))).passed


def test_judge_drill_refuses_events_that_do_not_begin_with_the_start() -> None:
    with pytest.raises(ValueError, match="starts with a 'start' entry"):
        judge_drill(journal(END)[1:])
    with pytest.raises(ValueError):
        judge_drill(journal(("end", {"status": "bogus"})))


def test_the_runner_ends_failed_on_a_missed_objective_or_a_failure() -> None:
    met = judge_drill(journal(RTO, RPO))
    missed = judge_drill(journal(RPO))  # RTO never measured
    assert get_end_status(met, interrupted=False, failed=False) is DrillStatus.SUCCEEDED
    assert get_end_status(missed, interrupted=False, failed=False) is DrillStatus.FAILED
    assert get_end_status(met, interrupted=False, failed=True) is DrillStatus.FAILED
    assert get_end_status(missed, interrupted=True, failed=True) is DrillStatus.INTERRUPTED


def test_records_written_after_an_operators_error_in_the_copy_fail_the_rpo() -> None:
    # a recovery that went past the error holds what was written after it: the error too
    past = DataLoss(
        cutoff=CUTOFF, acknowledged=41, newest_acknowledged_at=110.0, newest_recovered_at=110.0,
        error_ended_at=111.0, written_after=(111_250, 111_500),
    )  # fmt: skip
    verdict = verdict_of(data_loss=past)
    assert not verdict.ok and not verdict.services[0].rpo_ok
    assert verdict.problems == (
        "portal: 2 records written after the error are in the recovered copy: it was recovered "
        "past the error, so the error is in it too (records 111250, 111500)",
    )
    # stopped before the error: the same copy without them passes
    assert verdict_of(data_loss=replace(past, written_after=())).ok


def test_records_written_after_the_error_travel_through_the_journal() -> None:
    after = ("measure", {**RPO[1], "error_ended_at": 111.0, "written_after": [111_250]})
    verdict = judge_drill(journal(RTO, after, END))
    loss = verdict.measurements["portal"].data_loss
    assert loss is not None and loss.written_after == (111_250,) and loss.error_ended_at == 111.0
    assert not verdict.passed and "1 records written after the error" in verdict.problems[-1]
