from __future__ import annotations

import json
from pathlib import Path

import pytest

from egov.inventory.model import Estate
from egov.monitoring.targets import MonitoringTargets, load_targets, make_targets


def test_file_backups_are_held_to_the_files_rpo(lab_targets: MonitoringTargets) -> None:
    files = next(target for target in lab_targets.datasets if target.dataset == "files")
    assert files.backup_target_seconds == 600  # schedule 5m + 0s + the catalog's 5m (rpo 5m)
    assert files.hosts == ("primary-store-01",)
    assert files.repositories == ("primary", "vnpt", "site2")


def test_database_dumps_are_held_to_their_schedule_when_replication_meets_the_rpo(
    lab_targets: MonitoringTargets,
) -> None:
    databases = next(target for target in lab_targets.datasets if target.dataset == "databases")
    # 24h + 5m delay + 5m for the catalog refresh (the lab replicates every 5 minutes)
    assert databases.backup_target_seconds == 86400 + 300 + 300


def test_a_dataset_on_every_host_is_one_target_per_site(lab_targets: MonitoringTargets) -> None:
    etc = [target for target in lab_targets.datasets if target.dataset == "etc"]
    assert [target.site for target in etc] == ["primary", "vnpt", "site2"]
    assert "site2-db-01" in etc[2].hosts


def test_replicas_carry_the_tightest_rpo_of_their_databases(
    lab_targets: MonitoringTargets,
) -> None:
    assert {(r.host, r.lag_target_seconds) for r in lab_targets.replicas} == {
        ("primary-db-02", 5.0),
        ("site2-db-01", 5.0),
    }
    assert lab_targets.database_hosts == ("primary-db-01",)
    assert lab_targets.monitoring_hosts == ("primary-mon-01", "site2-mon-01")


def test_each_archive_host_is_a_target_with_the_archive_limits(
    lab_targets: MonitoringTargets,
) -> None:
    assert [(a.site, a.host, a.server) for a in lab_targets.archives] == [
        ("primary", "primary-store-01", "databases-primary-db-01"),
        ("site2", "site2-store-01", "databases-primary-db-01"),
    ]
    site2 = lab_targets.archives[1]
    # the archive's rpo 60s and 30 s; the policy's schedule (24h, 5m delay) and a night of 12h
    assert (site2.rpo_seconds, site2.wal_limit_seconds) == (60, 90)
    assert site2.base_backup_limit_seconds == 86400 + 300 + 12 * 3600


def test_every_host_is_known_with_its_site(lab: Estate, lab_targets: MonitoringTargets) -> None:
    assert len(lab_targets.hosts) == len(list(lab.iter_hosts()))
    assert lab_targets.get_host_site("site2-mon-01") == "site2"
    assert lab_targets.get_host_site("vnpt-s3-01") == "vnpt"
    with pytest.raises(KeyError):
        lab_targets.get_host_site("site2-nowhere")


def test_targets_written_before_hosts_were_listed_still_load(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    data = json.loads(lab_targets.to_json())
    del data["hosts"]
    path = tmp_path / "targets.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_targets(path).hosts == ()


def test_capacity_and_the_lab_flag_come_from_the_inventory(
    lab_targets: MonitoringTargets,
) -> None:
    primary = next(site for site in lab_targets.sites if site.site == "primary")
    assert primary.storage_capacity_bytes == 142.8e12
    assert lab_targets.is_lab


def test_targets_survive_their_json_file(lab: Estate, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "targets.json"
    path.write_text(make_targets(lab).to_json(), encoding="utf-8")
    assert load_targets(path) == make_targets(lab)
