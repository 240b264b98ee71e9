"""Weekly jobs on the nights they share: contention, the next night, staggering. Pure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egov.backup.night import Night, configured
from egov.backup.nightdays import get_longer_nights, get_night_days
from egov.backup.planfigure import DAY_SECONDS
from egov.backup.planinputs import PlanInputs, PlanRecords, make_plan_inputs
from egov.backup.sharing import Stream, share
from egov.backup.stagger import plan_longer_nights
from egov.cli import run
from egov.deploys.backup import make_on_calendar
from egov.inventory import load_estate
from egov.inventory.model import Estate
from tests.backup.test_plan import CAMAU, kinds, plan_of, with_dataset

WEEK = 7 * DAY_SECONDS
DUMP_FIELD = "backup.datasets.databases.schedule"
ARCHIVE_FIELD = "backup.datasets.databases.archive.schedule"


@pytest.fixture(scope="module")
def shipped() -> Estate:
    return load_estate(CAMAU).estate


def archive_on(estate: Estate, first_day: int | None, size: float | None = None) -> Estate:
    """``estate`` with the base backups from ``first_day`` (None: the dump's days) and,
    given ``size``, databases of that many bytes."""
    dataset = estate.backup.datasets["databases"]
    assert dataset.archive is not None
    schedule = dataset.archive.schedule.model_copy(update={"first_day": first_day})
    update: dict[str, object] = {
        "archive": dataset.archive.model_copy(update={"schedule": schedule})
    }
    if size is not None:
        update["estimate"] = dataset.estimate.model_copy(update={"size": size})
    return with_dataset(estate, "databases", **update)


def inputs_of(estate: Estate) -> PlanInputs:
    return make_plan_inputs(estate, PlanRecords())


def took(night: Night, prefix: str) -> float:
    (bar,) = [job for job in night.jobs if job.label.startswith(prefix)]
    return bar.end_seconds - bar.start_seconds


def test_shipped_schedules_put_the_dump_and_the_base_backups_on_different_days(
    shipped: Estate,
) -> None:
    dataset = shipped.backup.datasets["databases"]
    assert dataset.schedule is not None and dataset.archive is not None
    assert make_on_calendar(dataset.schedule) == "*-*-1/7 22:00:00"
    assert make_on_calendar(dataset.archive.schedule) == "*-*-2/7 22:00:00"
    plan = plan_of(shipped, PlanRecords())
    assert [night.days for night in plan.longer] == [[2, 9, 16, 23, 30], [3, 10, 17, 24, 31]]
    assert plan.proposals == [] and plan.changes.first_days == {}


def test_weekly_jobs_on_one_night_share_the_database_host_and_the_night_fails() -> None:
    """2 TB of databases: the dump alone ends before the window's end, and so do its copies;
    with both base backups reading db-01 on the same night each gets a third of its rate."""
    shipped = load_estate(CAMAU).estate
    together = inputs_of(archive_on(shipped, None, size=2e12))
    apart = inputs_of(archive_on(shipped, 2, size=2e12))
    (night,) = plan_longer_nights(together, configured(together))
    dump_night, base_night = plan_longer_nights(apart, configured(apart))
    alone = 2e12 / 150e6
    assert took(dump_night, "backup databases") == pytest.approx(alone)
    assert took(base_night, "base backup databases (primary-db-01 → primary-store-01)") == (
        pytest.approx(2 * alone)  # the two pulls share db-01 on their night
    )
    assert took(night, "backup databases") == pytest.approx(3 * alone)
    assert took(night, "base backup databases (primary-db-01 → primary-store-01)") == (
        pytest.approx(3 * alone)
    )
    assert dump_night.fits and base_night.fits
    assert not night.fits
    assert any("backup databases (primary-db-01) ends" in f for f in night.findings)
    assert any("copy to vnpt ends" in f for f in night.findings)


def test_colliding_weekly_jobs_are_proposed_staggered() -> None:
    estate = archive_on(load_estate(CAMAU).estate, None, size=2e12)
    plan = plan_of(estate, PlanRecords())
    assert kinds(plan) == {"stagger"}
    (proposal,) = plan.proposals
    assert proposal.text.startswith(f"{ARCHIVE_FIELD}.first_day: 2 (it runs on days 2, 9,")
    assert f"it runs on the same nights as {DUMP_FIELD}, and that night needs" in proposal.text
    assert "0 finding(s) over all nights" in proposal.text
    assert plan.changes.first_days == {ARCHIVE_FIELD: 2}
    assert len(plan.longer) == 2 and all(night.fits for night in plan.longer)


def test_a_night_running_into_the_next_is_a_finding(shipped: Estate) -> None:
    """camau.yaml before its base backups moved: the three pulls of db-01 on one night took
    it past the next night's start; the plan proposes the day it ships with."""
    before = inputs_of(archive_on(shipped, None))
    (night,) = plan_longer_nights(before, configured(before))
    assert [f for f in night.findings if "after the next night starts" in f]
    assert max(job.end_seconds for job in night.jobs) > DAY_SECONDS
    plan = plan_of(archive_on(shipped, None), PlanRecords())
    assert plan.changes.first_days == {ARCHIVE_FIELD: 2}
    staggered = [night.findings for night in plan.longer]
    shipped_plan = plan_of(shipped, PlanRecords())
    assert staggered == [night.findings for night in shipped_plan.longer]
    assert not any("next night" in f for findings in staggered for f in findings)


def test_the_stagger_is_printed_in_json_and_drawn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "camau.yaml"
    text = CAMAU.read_text(encoding="utf-8")
    assert "first_day: 2, " in text
    inventory.write_text(text.replace("first_day: 2, ", ""), encoding="utf-8")
    svg = tmp_path / "night.svg"
    argv = ["backup", "plan", "-i", str(inventory), "--state-dir", str(tmp_path)]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert f"stagger: {ARCHIVE_FIELD}.first_day: 2" in out
    assert "The night of days 3, 10, 17, 24 and 31 (jobs run less often than daily)" in out
    assert run([*argv, "-o", "json", "--svg", str(svg)]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [p["kind"] for p in plan["proposals"]] == ["stagger"]
    assert plan["changes"]["first_days"] == {ARCHIVE_FIELD: 2}
    drawn = svg.read_text(encoding="utf-8")
    assert "The night of days 2, 9, 16, 23 and 30" in drawn
    assert "The night of days 3, 10, 17, 24 and 31" in drawn


def test_equal_shares_while_streams_overlap() -> None:
    capacity = {"read:db": 100.0}
    # alone: 1000 at 100/s from 0 ends at 10; two at once share: 50/s each until both end
    (alone,) = share([Stream(0, 1000.0, 100.0, 0.0, ("read:db",))], capacity).values()
    assert (alone.start, alone.end, alone.shared) == (0.0, 10.0, False)
    both = share(
        [Stream(0, 1000.0, 100.0, 0.0, ("read:db",)), Stream(1, 500.0, 100.0, 0.0, ("read:db",))],
        capacity,
    )
    # 500 each in 10 s; then the first alone at 100/s for its last 500: 5 s more
    assert both[1].end == pytest.approx(10.0) and both[0].end == pytest.approx(15.0)
    assert both[0].shared and both[1].shared
    # a stream waits for those it comes after; a capped one takes no more than its cap
    chained = share(
        [Stream(0, 100.0, 10.0, 0.0), Stream(1, 50.0, 100.0, 0.0, ("read:db",), (0,))], capacity
    )
    assert chained[1].start == pytest.approx(10.0) and chained[1].end == pytest.approx(10.5)
    assert not any(timed.shared for timed in chained.values())
    # a share one cannot use is not handed on: capped at 20/s, it leaves the other 50/s
    capped = share(
        [Stream(0, 200.0, 20.0, 0.0, ("read:db",)), Stream(1, 500.0, 100.0, 0.0, ("read:db",))],
        capacity,
    )
    assert capped[0].end == pytest.approx(10.0) and capped[1].end == pytest.approx(10.0)


def test_a_stream_with_no_capacity_to_move_at_is_named_not_called_a_cycle() -> None:
    with pytest.raises(ValueError, match=r"streams \[1\] can never end: a resource they use"):
        share([Stream(0, 10.0, 10.0, 0.0), Stream(1, 5.0, 10.0, 0.0, ("link",))], {"link": 0.0})
    with pytest.raises(ValueError, match="a cycle in `after`"):
        share([Stream(0, 1.0, 1.0, 0.0, (), (1,)), Stream(1, 1.0, 1.0, 0.0, (), (0,))], {})


def test_nights_are_named_by_the_day_their_window_starts(shipped: Estate) -> None:
    assert get_night_days(WEEK, 4, 0.0) == {4, 11, 18, 25}
    assert get_night_days(WEEK, 4, -3.5 * 3600) == {5, 12, 19, 26}  # 22:00: the next night
    assert get_night_days(DAY_SECONDS, 1, 0.0) == set(range(1, 32))
    inputs = inputs_of(archive_on(shipped, None))
    jobs = [
        job.model_copy(update={"interval_seconds": 2 * DAY_SECONDS})
        if job.dataset == "databases"
        else job
        for job in inputs.jobs
    ]
    every_other = inputs.model_copy(update={"jobs": jobs})
    # the dump every 2 days and the pulls weekly: all together on 2, 16 and 30; the nights
    # with the dump alone (4, 6, …) or the pulls alone (9, 23) are fewer of the same jobs
    assert get_longer_nights(every_other, {}) == [[2, 16, 30]]
    # the pulls a day later (nights 3, 10, 17, 24, 31): with the dump on 10 and 24 only
    assert get_longer_nights(every_other, {ARCHIVE_FIELD: 2}) == [[10, 24]]


def test_the_hourly_copies_share_the_link_with_the_pull_to_their_site(shipped: Estate) -> None:
    plan = plan_of(shipped, PlanRecords())
    dump_night, base_night = plan.longer

    def files_rpo(night: Night, site: str) -> float:
        (item,) = [i for i in night.rpo if i.dataset == "files" and i.site == site]
        return item.predicted_seconds

    # the pull to site 2 runs on the base backups' night: the files' copies there are slower
    assert files_rpo(base_night, "site2") > files_rpo(dump_night, "site2")
    assert files_rpo(dump_night, "site2") == files_rpo(plan.night, "site2")
    # VNPT's copies keep their own link's rate (below their share of primary's outbound)
    assert files_rpo(base_night, "vnpt") == files_rpo(plan.night, "vnpt")
