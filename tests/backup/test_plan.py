"""The nightly window model and its chart: pure."""

from __future__ import annotations

from egov.backup.chart import render_svg
from egov.backup.plan import Assumptions, DatasetAssumption, Link, plan_nightly_window


def small() -> Assumptions:
    return Assumptions(
        window_hours=1.05,
        backup_bytes_per_second=100e6,
        scan_files_per_second=1000,
        added_ratio=1.0,
        link_efficiency=1.0,
        datasets=[
            DatasetAssumption(name="a", host="h1", size_bytes=360e9, daily_change_ratio=1.0),
            DatasetAssumption(name="b", host="h1", size_bytes=0, file_count=3600),
            DatasetAssumption(name="c", host="h2", size_bytes=36e9, daily_change_ratio=0.5),
        ],
        links=[Link(repository="vnpt", site="vnpt", bandwidth_bits_per_second=8e9)],
    )


def test_one_host_runs_its_datasets_in_turn_hosts_in_parallel() -> None:
    plan = plan_nightly_window(small())
    bars = {bar.label: bar for bar in plan.bars}
    assert bars["backup a (h1)"].end_seconds == 3600
    assert bars["backup b (h1)"].start_seconds == 3600
    assert bars["backup b (h1)"].end_seconds == 3600 + 3.6
    assert bars["backup c (h2)"].start_seconds == 0


def test_copy_follows_the_backups_and_sets_the_site_rpo() -> None:
    plan = plan_nightly_window(small())
    copy = plan.bars[-1]
    assert copy.start_seconds == 3603.6
    assert round(copy.end_seconds - copy.start_seconds, 3) == round(378e9 * 8 / 8e9, 3)
    assert plan.rpo_seconds["vnpt"] == 24 * 3600 + copy.end_seconds
    assert plan.fits is False and "copy to vnpt" in plan.overruns[0]


def test_default_camau_night_does_not_fit_and_says_so() -> None:
    plan = plan_nightly_window(Assumptions())
    assert sum(item.size_bytes for item in plan.assumptions.datasets) > 142e12
    assert not plan.fits


def test_svg_marks_the_window_end_and_late_bars() -> None:
    svg = render_svg(plan_nightly_window(small()))
    assert svg.startswith("<svg") and "window end" in svg and "<script" not in svg
    assert svg.count("<rect") == 4 and "#c0392b" in svg


def test_the_most_extreme_assumptions_allowed_still_make_a_plan() -> None:
    from egov.backup.plan import Assumptions, DatasetAssumption, Link, plan_nightly_window

    slowest = Assumptions(
        backup_bytes_per_second=1e3,
        scan_files_per_second=1,
        dump_bytes_per_second=1e3,
        link_efficiency=0.01,
        interval_hours=24 * 366,
        datasets=[
            DatasetAssumption(name="d", host="h", size_bytes=1e18, file_count=10**12),
            DatasetAssumption(name="p", host="h", kind="postgres", size_bytes=1e18),
        ],
        links=[Link(repository="r", site="s", bandwidth_bits_per_second=1e3)],
    )
    plan = plan_nightly_window(slowest)
    assert not plan.fits
