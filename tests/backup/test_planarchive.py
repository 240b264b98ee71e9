"""The WAL archive in the night's plan: its RPO, its base backups, the dump it frees. Pure."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest

from egov.backup.chart import render_svg
from egov.backup.night import Night
from egov.backup.plan import BackupPlan
from egov.backup.planinputs import PlanRecords, make_plan_inputs
from egov.inventory import load_estate
from egov.inventory.backup import Schedule
from egov.inventory.model import Estate
from egov.records import BackupRecord, Result
from tests.backup.test_plan import CAMAU, NIGHT, kinds, plan_of, with_dataset

WEEK_SECONDS = 7 * 86400.0


@pytest.fixture(scope="module")
def shipped() -> Estate:
    """camau.yaml as shipped: the files sharded, the dump weekly, the databases archived."""
    return load_estate(CAMAU).estate


def with_archive(estate: Estate, **update: object) -> Estate:
    """``estate`` with the databases' archive fields replaced by ``update``."""
    archive = estate.backup.datasets["databases"].archive
    assert archive is not None
    return with_dataset(estate, "databases", archive=archive.model_copy(update=update))


def get_dump_night(plan: BackupPlan) -> Night:
    """The night of the weekly dump (the nights of jobs run less often than daily)."""
    (night,) = [
        n for n in plan.longer if any(j.label.startswith("backup databases") for j in n.jobs)
    ]
    return night


def rpo_of(plan: BackupPlan, site: str, *, longer: bool = False) -> tuple[float, float, str]:
    night = get_dump_night(plan) if longer else plan.night
    (item,) = [i for i in night.rpo if i.dataset == "databases" and i.site == site]
    return item.predicted_seconds, item.target_seconds, item.via


def test_the_rpo_at_an_archived_site_is_the_archive_s(shipped: Estate) -> None:
    plan = plan_of(shipped, PlanRecords())
    # the archive's 60 s against the 15 min RPO of the services' databases
    assert rpo_of(plan, "primary") == (60.0, 900.0, "WAL archive on primary-store-01")
    assert rpo_of(plan, "site2") == (60.0, 900.0, "WAL archive on site2-store-01")
    # VNPT holds no archive: the weekly dump's copies set its RPO, on the dump's night
    predicted, target, via = rpo_of(plan, "vnpt", longer=True)
    assert via == "snapshots" and predicted > target > WEEK_SECONDS
    assert not any(i.dataset == "databases" and i.site == "vnpt" for i in plan.night.rpo)
    assert plan.night.fits and plan.night.meets_targets and not plan.proposals


def test_the_archive_s_rpo_is_the_inventory_s_and_judged(shipped: Estate) -> None:
    slack = plan_of(with_archive(shipped, rpo=timedelta(minutes=10)), PlanRecords())
    assert rpo_of(slack, "primary")[0] == 600.0 and slack.night.meets_targets
    late = plan_of(with_archive(shipped, rpo=timedelta(minutes=30)), PlanRecords())
    assert rpo_of(late, "site2")[:2] == (1800.0, 900.0)
    assert not late.night.meets_targets


def test_without_its_archive_the_dump_sets_the_rpo_again_and_misses(shipped: Estate) -> None:
    plan = plan_of(with_dataset(shipped, "databases", archive=None), PlanRecords())
    assert plan.inputs.archives == [] and plan.inputs.dump_moves == {}
    predicted, target, via = rpo_of(plan, "primary", longer=True)
    assert via == "snapshots" and predicted > target
    nightly = with_dataset(
        shipped,
        "databases",
        archive=None,
        schedule=Schedule(interval=timedelta(days=1), at="22:00"),
    )
    plan = plan_of(nightly, PlanRecords())
    predicted, target, via = rpo_of(plan, "primary")
    assert via == "snapshots" and predicted > 86400 + 8 * 3600 and predicted > target
    assert not plan.night.meets_targets and "dump-schedule" not in kinds(plan)


def test_base_backups_are_predicted_from_the_dump_s_figures_and_the_link(
    shipped: Estate,
) -> None:
    plan = plan_of(shipped, PlanRecords())
    primary, site2 = plan.inputs.archives
    assert (primary.archive_host, site2.archive_host) == ("primary-store-01", "site2-store-01")
    assert primary.base_backup_seconds == pytest.approx(4.8e12 / 150e6)  # the dump's rate
    assert site2.rate.source.startswith("the link primary → site2")  # 800 Mbit/s usable
    assert site2.base_backup_seconds == pytest.approx(4.8e12 / 100e6)
    assert primary.fits and site2.fits
    # weekly: on a night of their own (`first_day: 2`), not on every night nor the dump's
    assert not any(job.kind == "base-backup" for job in plan.night.jobs)
    assert not any(job.kind == "base-backup" for job in get_dump_night(plan).jobs)
    (night,) = [n for n in plan.longer if any(j.kind == "base-backup" for j in n.jobs)]
    first, second = [j.end_seconds - j.start_seconds for j in night.jobs if j.kind == "base-backup"]
    # the two pulls read db-01 at once: half its rate each, so longer than either alone
    assert first == pytest.approx(2 * primary.base_backup_seconds)
    assert second > site2.base_backup_seconds and night.fits
    dumped = BackupRecord(
        dataset="databases",
        host="primary-db-01",
        site="primary",
        repository="primary",
        started_at=NIGHT,
        finished_at=NIGHT + 4.8e12 / 300e6,
        result=Result.SUCCESS,
        bytes_added=int(96e9),
        bytes_processed=int(4.8e12),
        files_processed=2,
    )
    measured = make_plan_inputs(shipped, PlanRecords(backups=[dumped])).archives[0]
    assert measured.rate.source.startswith("measured on primary-db-01")
    assert measured.base_backup_seconds == pytest.approx(16_000)


def test_a_base_backup_longer_than_its_interval_does_not_fit(shipped: Estate) -> None:
    estimate = shipped.backup.datasets["databases"].estimate.model_copy(update={"size": 40e12})
    daily = Schedule(interval=timedelta(days=1), at="22:00")
    estate = with_dataset(with_archive(shipped, schedule=daily), "databases", estimate=estimate)
    plan = plan_of(estate, PlanRecords())
    assert not any(archive.fits for archive in plan.inputs.archives)
    assert any(
        "the base backup of databases (primary-db-01 → site2-store-01) takes" in finding
        and "runs every 1d" in finding
        for finding in plan.night.findings
    )
    assert not plan.night.fits and not plan.proposed.fits  # nothing the plan proposes helps
    # daily, it falls in the night: a bar of its own, drawn past the window's end
    assert any(job.kind == "base-backup" for job in plan.night.jobs)
    svg = render_svg(plan.night, plan.inputs.window_start)
    assert "base backup databases (primary-db-01 → site2-store-01)" in svg
    assert plan.model_dump(mode="json")["inputs"]["archives"][0]["fits"] is False


def test_a_nightly_dump_the_archive_covers_moves_to_a_weekly_night(shipped: Estate) -> None:
    """camau.yaml before its dump went weekly: the nightly dump pushed the copies past the
    window; the archive holds the RPO, so the plan moves the dump, not the bandwidth."""
    nightly = Schedule(
        interval=timedelta(days=1), at="22:00", randomized_delay=timedelta(minutes=5)
    )
    plan = plan_of(with_dataset(shipped, "databases", schedule=nightly), PlanRecords())
    assert any("copy to vnpt ends" in finding for finding in plan.night.findings)
    first = plan.proposals[0]
    assert first.kind == "dump-schedule"
    assert 'backup.datasets.databases.schedule: {interval: 1w, at: "22:00"}' in first.text
    assert "holds the RPO at primary, site2" in first.text and "the dump needs 8h53m" in first.text
    assert plan.changes.moved_dumps == ["databases"]
    assert plan.proposed.fits and plan.proposed.meets_targets
    assert "bandwidth" not in kinds(plan)
    # the dump on its own night, held to the target of its new schedule (1w + 5m + 1h)
    _, target, via = rpo_of(plan, "vnpt", longer=True)
    assert target == WEEK_SECONDS + 300 + 3600 and via == "snapshots"
    assert plan.proposed.model_dump() == plan_of(shipped, PlanRecords()).night.model_dump()


def test_a_nightly_dump_that_fits_stays_nightly(shipped: Estate) -> None:
    """A small dump delays nothing: moving it would only hide its RPO at VNPT on another
    night, so the plan leaves it, though the night misses elsewhere (the files unsharded)."""
    estimate = shipped.backup.datasets["databases"].estimate.model_copy(update={"size": 50e9})
    nightly = Schedule(interval=timedelta(days=1), at="22:00")
    estate = with_dataset(shipped, "databases", schedule=nightly, estimate=estimate)
    plan = plan_of(with_dataset(estate, "files", shards=1), PlanRecords())
    assert not plan.night.fits and "shards" in kinds(plan)
    assert "dump-schedule" not in kinds(plan) and plan.changes.moved_dumps == []
    assert any(i.dataset == "databases" and i.site == "vnpt" for i in plan.proposed.rpo)


def test_the_svg_draws_the_base_backups_night_under_the_nightly_one(shipped: Estate) -> None:
    plan = plan_of(shipped, PlanRecords())
    nightly = render_svg(plan.night, plan.inputs.window_start)
    assert "base backup" not in nightly  # weekly: not on every night
    both = render_svg(plan.night, plan.inputs.window_start, longer=plan.longer)
    root = ElementTree.fromstring(both)  # one well-formed document, a chart per night
    charts = root.findall("{http://www.w3.org/2000/svg}svg")
    assert len(charts) == 3 and 0 < float(charts[1].get("y", "0")) < float(charts[2].get("y", "0"))
    assert "base backup databases (primary-db-01 → primary-store-01)" in both
    assert both.index("backup files") < both.index("base backup databases")
