"""The night's plan from the inventory and the agents' records, and its chart: pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.backup.chart import render_svg
from egov.backup.night import plan_night
from egov.backup.plan import BackupPlan, make_backup_plan
from egov.backup.planfigure import DECLARED
from egov.backup.planinputs import PlanRecords, load_plan_records, make_plan_inputs
from egov.inventory import load_estate
from egov.inventory.model import Estate
from egov.records import BackupRecord, ReplicationRecord, RestoreTestRecord, Result, write_record

CAMAU = Path(__file__).parents[2] / "inventory" / "camau.yaml"
NIGHT = 1_764_900_000.0  # a night in December 2025, epoch seconds
GB = 1e9


def with_dataset(estate: Estate, name: str, **update: object) -> Estate:
    """``estate`` with its dataset ``name``'s fields replaced by ``update``."""
    dataset = estate.backup.datasets[name].model_copy(update=update)
    datasets = {**estate.backup.datasets, name: dataset}
    return estate.model_copy(
        update={"backup": estate.backup.model_copy(update={"datasets": datasets})}
    )


def with_shards(estate: Estate, count: int) -> Estate:
    """``estate`` with its files dataset split into ``count`` shards."""
    return with_dataset(estate, "files", shards=count)


@pytest.fixture(scope="module")
def camau() -> Estate:
    """camau.yaml as it stood before its file store was sharded (``shards: 1``): the plan's
    proposals are tested from there."""
    return with_shards(load_estate(CAMAU).estate, 1)


def test_shipped_camau_runs_the_shards_its_plan_proposed() -> None:
    plan = plan_of(load_estate(CAMAU).estate, PlanRecords())
    assert plan.inputs.shards == {"files": 8}
    assert "shards" not in kinds(plan)
    assert not any("backup files" in finding for finding in plan.night.findings)
    assert plan.proposed.fits, plan.proposed.findings


def files_record(
    *, seconds: float, added: float = 10 * GB, files: int = 80_000_000
) -> BackupRecord:
    """The file store's newest backup as the agent on store-01 would write it."""
    return BackupRecord(
        dataset="files",
        host="primary-store-01",
        site="primary",
        repository="primary",
        started_at=NIGHT,
        finished_at=NIGHT + seconds,
        result=Result.SUCCESS,
        bytes_added=int(added),
        bytes_processed=int(138_000 * GB),
        files_processed=files,
    )


def copy_record(repository: str, *, seconds: float, copied: float) -> ReplicationRecord:
    site = {"vnpt": "vnpt", "site2": "site2"}[repository]
    return ReplicationRecord(
        source="primary",
        repository=repository,
        site=site,
        source_site="primary",
        started_at=NIGHT,
        finished_at=NIGHT + seconds,
        result=Result.SUCCESS,
        bytes_copied=int(copied),
    )


def plan_of(estate: Estate, records: PlanRecords) -> BackupPlan:
    return make_backup_plan(make_plan_inputs(estate, records))


def kinds(plan: BackupPlan) -> set[str]:
    return {proposal.kind for proposal in plan.proposals}


def test_without_records_every_figure_is_a_declared_estimate(camau: Estate) -> None:
    plan = plan_of(camau, PlanRecords())
    assert {job.size_bytes.source for job in plan.inputs.jobs} == {DECLARED}
    assert {job.throughput.source for job in plan.inputs.jobs} == {DECLARED}
    assert all(link.rate and link.rate.source == DECLARED for link in plan.inputs.links)
    files = next(job for job in plan.inputs.jobs if job.dataset == "files")
    assert files.size_bytes.value == 138e12 and files.files.value == 80_000_000


def test_camau_as_configured_does_not_fit_and_says_why(camau: Estate) -> None:
    night = plan_of(camau, PlanRecords()).night
    assert not night.fits
    assert any("backup files" in finding and "every 1h" in finding for finding in night.findings)
    # the weekly dump is not in the nightly night: the copies fit beside the hourly files
    assert not any("databases" in finding or "copy" in finding for finding in night.findings)


def test_camau_with_its_proposals_fits(camau: Estate) -> None:
    plan = plan_of(camau, PlanRecords())
    assert "shards" in kinds(plan) and "bandwidth" not in kinds(plan)
    assert plan.proposed.fits, plan.proposed.findings
    assert plan.changes.shards == {"files": 8}
    files_rpo = [item for item in plan.proposed.rpo if item.dataset == "files"]
    assert files_rpo and all(item.meets for item in files_rpo)


def test_the_target_comes_from_derive(camau: Estate) -> None:
    from egov.inventory.derive import get_backup_target

    plan = plan_of(camau, PlanRecords())
    for item in plan.night.rpo:
        target = get_backup_target(camau, item.dataset)
        # a WAL archive is held to the data's RPO, not to the floor of the dump's schedule
        expected = (
            target.rpo if item.via.startswith("WAL archive") and target.rpo else target.target
        )
        assert item.target_seconds == expected.total_seconds()


def test_a_faster_measured_store_fits_without_shards(camau: Estate) -> None:
    # the agent walked the 80 million files and read 10 GB of changes in 40 minutes
    plan = plan_of(camau, PlanRecords(backups=[files_record(seconds=2400)]))
    files = next(job for job in plan.inputs.jobs if job.dataset == "files")
    assert files.throughput.source.startswith("measured on primary-store-01 at 2025-12-05")
    assert files.size_bytes.source == files.throughput.source.split(" (")[0]
    assert not any("backup files" in finding for finding in plan.night.findings)
    assert "files" not in plan.changes.shards


def test_a_slower_measured_store_needs_shards(camau: Estate) -> None:
    fast = plan_of(camau, PlanRecords(backups=[files_record(seconds=2400)]))
    slow = plan_of(camau, PlanRecords(backups=[files_record(seconds=4 * 3600)]))
    assert any("backup files" in finding for finding in slow.night.findings)
    assert slow.changes.shards["files"] > 1
    assert slow.proposed.fits
    assert slow.model_dump() != fast.model_dump()


def test_a_measured_link_replaces_the_declared_one(camau: Estate) -> None:
    fast = plan_of(
        camau,
        PlanRecords(
            backups=[files_record(seconds=2400)],
            replications=[copy_record("vnpt", seconds=100, copied=10 * GB)],  # 800 Mbit/s
        ),
    )
    vnpt = next(link for link in fast.inputs.links if link.repository == "vnpt")
    assert vnpt.rate is not None and vnpt.rate.source.startswith("measured copying primary")
    assert not any("vnpt" in p.text for p in fast.proposals if p.kind == "bandwidth")
    slow = plan_of(
        camau,
        PlanRecords(
            backups=[files_record(seconds=2400)],
            replications=[copy_record("vnpt", seconds=100_000, copied=10 * GB)],  # 0.8 Mbit/s
        ),
    )
    assert any("copy to vnpt" in finding for finding in slow.night.findings)
    assert any(p.kind == "bandwidth" and "vnpt" in p.text for p in slow.proposals)
    assert slow.proposed.fits


def test_records_too_small_to_time_leave_the_declared_rate(camau: Estate) -> None:
    tiny = files_record(seconds=2, added=1000, files=10).model_copy(
        update={"bytes_processed": 5000}
    )
    plan = plan_of(camau, PlanRecords(backups=[tiny]))
    files = next(job for job in plan.inputs.jobs if job.dataset == "files")
    assert files.size_bytes.source != DECLARED  # the size is measured all the same
    assert files.throughput.source == DECLARED


def test_a_first_full_backup_measures_no_daily_change(camau: Estate) -> None:
    full = files_record(seconds=90_000, added=138_000 * GB)
    files = next(
        job
        for job in make_plan_inputs(camau, PlanRecords(backups=[full])).jobs
        if job.dataset == "files"
    )
    assert files.daily_change.source == DECLARED and files.daily_change.value == 0.003


def test_failed_records_are_not_measurements(camau: Estate) -> None:
    failed = files_record(seconds=60).model_copy(update={"result": Result.FAILURE})
    inputs = make_plan_inputs(camau, PlanRecords(backups=[failed]))
    assert all(job.size_bytes.source == DECLARED for job in inputs.jobs)


def test_a_restore_test_measures_the_restore_rate(camau: Estate) -> None:
    restore = RestoreTestRecord(
        dataset="files",
        repository="primary",
        site="primary",
        tested_at=NIGHT,
        result=Result.SUCCESS,
        duration_seconds=138_000 * GB / 500e6,
    )
    plan = plan_of(camau, PlanRecords(backups=[files_record(seconds=2400)], restores=[restore]))
    files = next(item for item in plan.restores if item.dataset == "files")
    assert round(files.rate.value) == 500_000_000
    assert files.rate.source.startswith("measured by the restore test from primary")


def test_a_late_daily_dump_is_moved_earlier(camau: Estate) -> None:
    """Without a WAL archive the dump must stay daily: a late one starts earlier instead."""
    estate = with_dataset(camau, "databases", schedule=None, archive=None)
    plan = plan_of(estate, PlanRecords())
    assert any("backup databases" in finding for finding in plan.night.findings)
    moved = [p.text for p in plan.proposals if p.kind == "schedule"]
    assert moved and moved[0].startswith("start databases at 2")
    assert "dump-schedule" not in kinds(plan)
    assert plan.proposed.fits


def test_copies_in_turn_then_in_parallel(camau: Estate) -> None:
    in_turn = camau.model_copy(
        update={"backup": camau.backup.model_copy(update={"parallel_copies": False})}
    )
    plan = plan_of(in_turn, PlanRecords())
    vnpt, site2 = (job for job in plan.night.jobs if job.kind == "copy")
    assert site2.start_seconds == vnpt.end_seconds  # one after the other, as configured
    assert "parallel-copies" in kinds(plan)
    vnpt, site2 = (job for job in plan.proposed.jobs if job.kind == "copy")
    assert site2.start_seconds == vnpt.start_seconds


def test_copies_configured_parallel_are_planned_so_and_not_proposed(camau: Estate) -> None:
    plan = plan_of(camau, PlanRecords())  # camau.yaml sets backup.parallel_copies
    vnpt, site2 = (job for job in plan.night.jobs if job.kind == "copy")
    assert site2.start_seconds == vnpt.start_seconds
    assert "parallel-copies" not in kinds(plan)


def test_the_records_are_read_from_the_state_directory(tmp_path: Path, camau: Estate) -> None:
    write_record(files_record(seconds=2400), tmp_path)
    write_record(copy_record("site2", seconds=100, copied=10 * GB), tmp_path)
    records = load_plan_records(tmp_path)
    assert len(records.backups) == 1 and len(records.replications) == 1
    assert load_plan_records(tmp_path / "nothing") == PlanRecords([], [], [])


def test_svg_marks_the_window_end_and_late_bars(camau: Estate) -> None:
    plan = plan_of(camau, PlanRecords())
    svg = render_svg(plan.night, plan.inputs.window_start)
    assert svg.startswith("<svg") and "window end" in svg and "<script" not in svg
    assert "#c0392b" in svg
    fitting = render_svg(plan.proposed, plan.inputs.window_start)
    assert "×8" in fitting


def test_an_estate_without_repositories_plans_nothing(camau: Estate) -> None:
    empty = camau.model_copy(
        update={"backup": camau.backup.model_copy(update={"replication": [], "datasets": {}})}
    )
    night = plan_night(make_plan_inputs(empty, PlanRecords()))
    assert night.jobs == [] and night.fits


def test_the_most_extreme_inventory_allowed_still_makes_a_plan(tmp_path: Path) -> None:
    text = CAMAU.read_text(encoding="utf-8")
    text = text.replace(
        "{size: 138 TB, files: 80000000, daily_change: 0.003}",
        "{size: 1000 PB, files: 1000000000000, daily_change: 0.999}",
    )
    for rate in ("240 MB/s", "150 MB/s", "145 MB/s", "1 Gbit/s", "200 Mbit/s"):
        text = text.replace(rate, "1 kB/s")
    text = text.replace("files_per_second: 3000", "files_per_second: 1")
    extreme = tmp_path / "extreme.yaml"
    extreme.write_text(text, encoding="utf-8")
    plan = plan_of(load_estate(extreme).estate, PlanRecords())
    assert not plan.night.fits and not plan.proposed.fits
    assert plan.model_dump_json()  # every figure finite


def test_shards_configured_are_planned_so_and_not_proposed_again(camau: Estate) -> None:
    """``backup.datasets.files.shards`` is read as the configured night, as parallel_copies is:
    the night as configured divides the walk among the shards, and no shard proposal repeats
    what the inventory already says."""
    plan = plan_of(with_shards(camau, 8), PlanRecords())
    assert plan.inputs.shards == {"files": 8}
    assert {job.shards for job in plan.night.jobs if job.dataset == "files"} == {8}
    assert "shards" not in kinds(plan)
    unsharded = plan_of(camau, PlanRecords())
    (proposal,) = [p.text for p in unsharded.proposals if p.kind == "shards"]
    assert "backup.datasets.files.shards: 8" in proposal
