"""The estate's derived facts, and the consumers held to one answer.

``egov backup status`` and the exporter each read the same state directory here, the real
way (``freshness.load_status``; ``EgovCollector`` built from ``make_targets``), and must agree
dataset by dataset and repository by repository: a rule changed on one side only fails
``test_status_and_exporter_agree``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from egov.backup.freshness import DatasetStatus, load_status
from egov.inventory import load_estate
from egov.inventory.derive import (
    covers_path,
    get_backup_target,
    get_dataset_hosts,
    get_dataset_site_hosts,
    get_recovery_site,
    get_remote_replicas,
    get_repository_order,
)
from egov.inventory.model import Estate, SiteStatus
from egov.monitoring.exporter import make_registry
from egov.monitoring.targets import make_targets
from egov.records import CatalogRecord, LatestSnapshot, Result, write_record

ROOT = Path(__file__).resolve().parents[2]
CAMAU = ROOT / "inventory" / "camau.yaml"
LAB = ROOT / "inventory" / "lab.yaml"
SONGXANH = ROOT / "tests" / "inventory" / "data" / "songxanh.yaml"
NOW = 1_800_000_000.0
MARGIN_SECONDS = 60.0


@pytest.fixture(scope="module")
def camau() -> Estate:
    return load_estate(CAMAU).estate


@pytest.fixture(scope="module")
def lab() -> Estate:
    return load_estate(LAB).estate


@pytest.fixture(scope="module")
def songxanh() -> Estate:
    return load_estate(SONGXANH).estate


def _write_catalogs(
    estate: Estate, state_dir: Path, ages: dict[tuple[str, str], dict[str, float | None]]
) -> None:
    """One catalog per repository: ``ages[(dataset, repository)][host]`` seconds old (None or
    absent: no snapshot), as the replication's catalog refresh writes them."""
    for name, repository in estate.backup.repositories.items():
        latest = {
            dataset: {
                host: LatestSnapshot(id="ab" * 32, time=NOW - age)
                for host, age in hosts.items()
                if age is not None
            }
            for (dataset, at), hosts in ages.items()
            if at == name
        }
        record = CatalogRecord(
            repository=name, site=repository.site, refreshed_at=NOW, result=Result.SUCCESS,
            snapshot_count=1, latest=latest, last_success_at=NOW,
        )  # fmt: skip
        write_record(record, state_dir)


def _straddling_ages(estate: Estate) -> dict[tuple[str, str], dict[str, float | None]]:
    """Each (dataset, repository) in turn: just inside the target, one host missing, just
    past the target: every way to be fresh or not, a minute from the line, so a rule moved
    by more than that on one side shows."""
    ages: dict[tuple[str, str], dict[str, float | None]] = {}
    pairs = [
        (name, repository)
        for name, dataset in estate.backup.datasets.items()
        for repository in get_repository_order(estate, dataset)
    ]
    for case_index, (name, repository) in enumerate(pairs):
        target = get_backup_target(estate, name).target.total_seconds()
        hosts = [ref.qualified_name for ref in get_dataset_hosts(estate, name)]
        case = case_index % 3
        age = target - MARGIN_SECONDS if case != 2 else target + MARGIN_SECONDS
        ages[(name, repository)] = {
            host: None if case == 1 and position == 0 else age
            for position, host in enumerate(hosts)
        }
    return ages


def _exporter_view(estate: Estate, state_dir: Path) -> dict[tuple[str, str], dict[str, object]]:
    """Per (dataset, repository), what the exporter publishes, summed over the sites of the
    dataset's hosts: its target, its hosts, and fresh as the BackupStale alert judges it
    (``time() - dr_backup_last_snapshot_timestamp_seconds > target`` fires)."""
    targets = make_targets(estate)
    registry = make_registry(targets, state_dir)
    view: dict[tuple[str, str], dict[str, object]] = {}
    for target in targets.datasets:
        site = {"dataset": target.dataset, "site": target.site}
        published = registry.get_sample_value("dr_backup_rpo_target_seconds", site)
        for repository in target.repositories:
            labels = {**site, "repository": repository}
            newest = registry.get_sample_value("dr_backup_last_snapshot_timestamp_seconds", labels)
            assert published is not None and newest is not None
            entry = view.setdefault(
                (target.dataset, repository),
                {"targets": set(), "hosts": [], "fresh": True},
            )
            entry["targets"] = {*entry["targets"], published}  # type: ignore[misc]
            entry["hosts"] = [*entry["hosts"], *target.hosts]  # type: ignore[misc]
            entry["fresh"] = entry["fresh"] and NOW - newest <= published
    return view


def _status_view(rows: list[DatasetStatus]) -> dict[tuple[str, str], dict[str, object]]:
    return {
        (row.dataset, row.repository): {
            "targets": {row.target_seconds},
            "hosts": row.hosts_expected,
            "fresh": row.fresh,
        }
        for row in rows
    }


@pytest.mark.parametrize("path", [CAMAU, LAB, SONGXANH], ids=["camau", "lab", "songxanh"])
def test_status_and_exporter_agree(path: Path, tmp_path: Path) -> None:
    estate = load_estate(path).estate
    _write_catalogs(estate, tmp_path, _straddling_ages(estate))
    status = _status_view(load_status(estate, tmp_path, NOW))
    exporter = _exporter_view(estate, tmp_path)
    assert set(status) == set(exporter), "the same datasets at the same repositories"
    for key, seen in exporter.items():
        hosts = seen["hosts"]
        assert isinstance(hosts, list) and len(hosts) == len(set(hosts))
        assert {**seen, "hosts": len(hosts)} == status[key], key
    fresh = [seen["fresh"] for seen in exporter.values()]
    assert True in fresh and False in fresh, "the ages straddle the target both ways"


def test_a_fresh_snapshot_from_every_active_host_makes_every_dataset_fresh(
    camau: Estate, tmp_path: Path
) -> None:
    ages: dict[tuple[str, str], dict[str, float | None]] = {
        (name, repository): {ref.qualified_name: 600.0 for ref in get_dataset_hosts(camau, name)}
        for name, dataset in camau.backup.datasets.items()
        for repository in get_repository_order(camau, dataset)
    }
    assert all(
        camau.sites[ref.site].status is SiteStatus.ACTIVE
        for hosts in ages.values()
        for ref in camau.iter_hosts()
        if ref.qualified_name in hosts
    )
    _write_catalogs(camau, tmp_path, ages)
    rows = load_status(camau, tmp_path, NOW)
    assert {row.dataset for row in rows} == set(camau.backup.datasets)
    assert [row for row in rows if not row.fresh] == []
    etc = [row for row in rows if row.dataset == "etc"]
    assert [(row.hosts_present, row.hosts_expected) for row in etc] == [(9, 9)] * 3
    assert all(seen["fresh"] for seen in _exporter_view(camau, tmp_path).values())


def test_a_planned_sites_hosts_are_not_expected_to_back_up(camau: Estate) -> None:
    hosts = get_dataset_hosts(camau, "etc")
    assert len(hosts) == 9 and {ref.site for ref in hosts} == {"primary"}
    assert [covered.site for covered in get_dataset_site_hosts(camau, "etc")] == ["primary"]


def test_every_site_with_hosts_is_covered_where_all_are_active(lab: Estate) -> None:
    covered = {c.site: len(c.hosts) for c in get_dataset_site_hosts(lab, "etc")}
    assert covered == {"primary": 9, "vnpt": 1, "site2": 4}


def test_a_path_is_covered_by_components_not_by_prefix(lab: Estate) -> None:
    files = lab.backup.datasets["files"]  # paths: [/srv/files]
    assert covers_path(files, "/srv/files")
    assert covers_path(files, "/srv/files/portal")
    assert not covers_path(files, "/srv/files2")
    assert not covers_path(files, "/srv")


def test_a_replica_at_a_planned_site_is_designed_but_not_streaming(camau: Estate) -> None:
    replicas = get_remote_replicas(camau, "primary", "db-01")
    assert [ref.selector for ref in replicas.planned] == ["site2/db-01"]
    assert not replicas.streaming and replicas.designed


def test_a_local_standby_is_no_remote_replica(lab: Estate, songxanh: Estate) -> None:
    replicas = get_remote_replicas(lab, "primary", "db-01")
    assert [ref.selector for ref in replicas.active] == ["site2/db-01"]  # not primary/db-02
    assert get_remote_replicas(songxanh, "dc-north", "pg-a").streaming


def test_an_unreplicated_databases_rpo_is_the_dumps_target(lab: Estate) -> None:
    sites = dict(lab.sites)
    del sites["site2"]  # and with it the only remote replica
    services = {
        name: service.model_copy(update={"sites": {"primary": service.sites["primary"]}})
        for name, service in lab.services.items()
    }
    alone = lab.model_copy(update={"sites": sites, "services": services})
    assert get_backup_target(lab, "databases").rpo is None
    assert get_backup_target(alone, "databases").rpo == timedelta(seconds=5)


def test_a_dataset_written_past_the_first_repository_is_not_copied(lab: Estate) -> None:
    files = lab.backup.datasets["files"]
    assert get_repository_order(lab, files) == ("primary", "vnpt", "site2")
    elsewhere = files.model_copy(update={"repository": "site2"})
    assert get_repository_order(lab, elsewhere) == ("site2",)


def test_the_recovery_site_is_the_first_active_placement_after_the_primary(
    camau: Estate, lab: Estate, songxanh: Estate
) -> None:
    assert get_recovery_site(lab, "portal") == "site2"
    assert get_recovery_site(songxanh, "hoso") == "dc-south"
    assert get_recovery_site(camau, "portal") is None  # site 2 is still planned
