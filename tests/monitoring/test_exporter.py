from __future__ import annotations

import math
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from egov.monitoring.exporter import EgovCollector, make_registry
from egov.monitoring.targets import MonitoringTargets
from egov.records import (
    CatalogRecord,
    DrillRecord,
    LatestSnapshot,
    RestoreTestRecord,
    Result,
    VerificationRecord,
    write_record,
)

NOW = 1_750_000_000.0


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def catalog(repository: str, site: str, times: dict[str, float], **extra: object) -> CatalogRecord:
    latest = {
        "files": {"primary-store-01": LatestSnapshot(id=f"{repository}1", time=times["files"])}
    }
    return CatalogRecord(
        repository=repository,
        site=site,
        refreshed_at=NOW,
        result=Result.SUCCESS,
        latest=latest,
        last_success_at=NOW,
        **extra,  # type: ignore[arg-type]
    )


def test_a_fresh_state_exports_every_known_series_as_zero_or_nan(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    registry = make_registry(lab_targets, tmp_path)
    labels = {"dataset": "files", "site": "primary", "repository": "vnpt"}
    assert sample(registry, "dr_backup_last_snapshot_timestamp_seconds", **labels) == 0
    assert sample(registry, "dr_backup_snapshot_present", **labels) == 0
    assert math.isnan(sample(registry, "dr_replication_lag_seconds", **labels) or 0)
    assert sample(registry, "dr_backup_rpo_target_seconds", dataset="files", site="primary") == 600
    scenario = {"scenario": "quarterly-test-failover"}
    assert sample(registry, "dr_drill_last_success_timestamp_seconds", **scenario) == 0
    assert math.isnan(sample(registry, "dr_drill_last_result", **scenario) or 0)
    assert math.isnan(
        sample(registry, "dr_drill_last_rto_seconds", **scenario, dr_service="portal") or 0
    )
    assert sample(registry, "dr_drill_rto_target_seconds", dr_service="portal") == 180
    assert sample(registry, "dr_site_storage_capacity_bytes", site="primary") == 142.8e12
    assert sample(registry, "dr_exporter_up") == 1


def test_snapshots_replication_lag_and_sizes_come_from_the_catalogs(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    write_record(catalog("primary", "primary", {"files": NOW - 60}, size_bytes=10**12), tmp_path)
    write_record(catalog("vnpt", "vnpt", {"files": NOW - 660}), tmp_path)
    registry = make_registry(lab_targets, tmp_path)
    files = {"dataset": "files", "site": "primary"}
    assert (
        sample(registry, "dr_backup_last_snapshot_timestamp_seconds", **files, repository="primary")
        == NOW - 60
    )
    assert sample(registry, "dr_replication_lag_seconds", **files, repository="primary") == 0
    assert sample(registry, "dr_replication_lag_seconds", **files, repository="vnpt") == 600
    assert sample(registry, "dr_backup_snapshot_present", **files, repository="site2") == 0
    assert sample(registry, "dr_repository_size_bytes", repository="primary", site="primary") == (
        10**12
    )
    assert math.isnan(
        sample(registry, "dr_repository_size_bytes", repository="vnpt", site="vnpt") or 0
    )


def test_a_failure_keeps_the_last_success_and_reports_the_result(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    write_record(
        DrillRecord(
            scenario="quarterly-test-failover",
            mode="test",
            started_at=NOW - 100,
            finished_at=NOW,
            result=Result.FAILURE,
            rto_seconds={"portal": 200.0},
            lost_records={"portal": 13},
            failed_writes={"portal": 2},
            last_success_at=NOW - 86400,
        ),
        tmp_path,
    )
    write_record(
        VerificationRecord(
            repository="vnpt",
            site="vnpt",
            checked_at=NOW,
            result=Result.FAILURE,
            subset=3,
            subsets=7,
            last_success_at=NOW - 86400,
        ),
        tmp_path,
    )
    write_record(
        RestoreTestRecord(
            dataset="databases",
            repository="site2",
            site="site2",
            tested_at=NOW,
            result=Result.SUCCESS,
            duration_seconds=42.0,
            last_success_at=NOW,
        ),
        tmp_path,
    )
    registry = make_registry(lab_targets, tmp_path)
    scenario = {"scenario": "quarterly-test-failover"}
    assert sample(registry, "dr_drill_last_success_timestamp_seconds", **scenario) == NOW - 86400
    assert sample(registry, "dr_drill_last_result", **scenario) == 0
    assert sample(registry, "dr_drill_last_rto_seconds", **scenario, dr_service="portal") == 200
    # the losses the verdict judged travel with the record, record by record
    assert sample(registry, "dr_drill_last_lost_records", **scenario, dr_service="portal") == 13
    assert sample(registry, "dr_drill_last_failed_writes", **scenario, dr_service="portal") == 2
    assert math.isnan(
        sample(registry, "dr_drill_last_lost_records", **scenario, dr_service="motcua") or 0
    )
    assert sample(registry, "dr_drill_info", **scenario, mode="test") == 1
    vnpt = {"repository": "vnpt", "site": "vnpt"}
    assert sample(registry, "dr_verification_last_result", **vnpt) == 0
    assert sample(registry, "dr_verification_coverage_ratio", **vnpt) == pytest.approx(3 / 7)
    assert sample(registry, "dr_verification_last_success_timestamp_seconds", **vnpt) == (
        NOW - 86400
    )
    restore = {"dataset": "databases", "repository": "site2", "site": "site2"}
    assert sample(registry, "dr_restore_test_duration_seconds", **restore) == 42
    assert sample(registry, "dr_restore_test_last_result", **restore) == 1


def test_the_last_journal_closing_hash_is_published_with_its_key(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    record = DrillRecord(
        scenario="quarterly-test-failover",
        mode="test",
        started_at=NOW - 100,
        finished_at=NOW,
        result=Result.SUCCESS,
        last_success_at=NOW,
        journal_closing_hash="ab" * 32,
        journal_key="SHA256:key",
    )
    write_record(record, tmp_path)
    registry = make_registry(lab_targets, tmp_path)
    labels = {"scenario": "quarterly-test-failover", "journal_key": "SHA256:key"}
    assert sample(registry, "dr_drill_journal_info", **labels, journal_hash="ab" * 32) == 1
    write_record(record.model_copy(update={"journal_closing_hash": ""}), tmp_path)
    registry = make_registry(lab_targets, tmp_path)  # an unsigned record claims nothing
    assert sample(registry, "dr_drill_journal_info", **labels, journal_hash="") is None


def test_a_record_turned_unreadable_keeps_its_last_value(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    path = write_record(catalog("primary", "primary", {"files": NOW}), tmp_path)
    registry = make_registry(lab_targets, tmp_path)
    labels = {"dataset": "files", "site": "primary", "repository": "primary"}
    assert sample(registry, "dr_backup_last_snapshot_timestamp_seconds", **labels) == NOW
    path.write_text("{ half a record", encoding="utf-8")
    assert sample(registry, "dr_backup_last_snapshot_timestamp_seconds", **labels) == NOW


def test_an_unreadable_state_directory_says_so_without_dropping_series(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    registry = make_registry(lab_targets, tmp_path / "missing")
    assert sample(registry, "dr_exporter_up") == 0
    assert sample(registry, "dr_backup_rpo_target_seconds", dataset="files", site="primary") == 600


def test_the_scrape_does_not_grow_with_the_number_of_snapshots(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    sizes = []
    for count in (10, 100_000):
        write_record(catalog("primary", "primary", {"files": NOW}, snapshot_count=count), tmp_path)
        text = generate_latest(make_registry(lab_targets, tmp_path)).decode()
        sizes.append(len([line for line in text.splitlines() if not line.startswith("#")]))
    assert sizes[0] == sizes[1]


def test_exposition_passes_promtool_check_metrics(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    write_record(catalog("primary", "primary", {"files": NOW}), tmp_path)
    text = generate_latest(make_registry(lab_targets, tmp_path))
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_names_follow_the_conventions(lab_targets: MonitoringTargets, tmp_path: Path) -> None:
    collector = EgovCollector(lab_targets, tmp_path)
    for family in collector.collect():
        assert family.name.startswith("dr_")
        assert not family.name.endswith("_total")
        for metric in family.samples:
            assert not {"type", "instance", "job", "service"} & set(metric.labels)


def test_served_over_http(lab_targets: MonitoringTargets, tmp_path: Path) -> None:
    server, thread = start_http_server(
        0, addr="127.0.0.1", registry=make_registry(lab_targets, tmp_path)
    )
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
        assert "dr_exporter_up 1.0" in body
    finally:
        server.shutdown()
        thread.join(timeout=5)
