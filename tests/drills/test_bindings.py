"""Shipped scenarios name no site, dataset, repository or host: they refer to them by role
(``$recovery_site``), bound from each inventory, so they run unchanged on any estate; one
that needs what an estate lacks says so instead of failing halfway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from egov.cli import run
from egov.drills.bindings import bind, find_references, make_bindings
from egov.drills.loader import SHIPPED_DIRECTORY, ScenarioNotApplicable, load_scenario
from egov.inventory import load_estate
from egov.inventory.model import Estate

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "inventory" / "lab.yaml"
CAMAU = ROOT / "inventory" / "camau.yaml"
SONGXANH_LAB = ROOT / "inventory" / "songxanh-lab.yaml"
SONGXANH = ROOT / "tests" / "inventory" / "data" / "songxanh.yaml"
#: The `with:` keys (and mode keys) that name something of the estate.
NAMING_KEYS = {
    "site", "source", "target", "recovery_site", "active_site", "repository", "dataset",
    "host", "source_host", "target_host",
}  # fmt: skip


def estate(path: Path) -> Estate:
    return load_estate(path).estate


def test_the_lab_binds_every_name_to_ca_maus() -> None:
    bindings = make_bindings(estate(LAB))
    assert bindings.missing == {}
    assert bindings.values == {
        "primary_site": "primary",
        "recovery_site": "site2",
        "offsite_site": "vnpt",
        "primary_repository": "primary",
        "recovery_repository": "site2",
        "offsite_repository": "vnpt",
        "files_dataset": "files",
        "files_path": "/srv/files",
        "service_files_path": "/srv/files/portal",
        "primary_database_host": "db-01",
        "primary_database_machine": "primary-db-01",
        "standby_database_host": "db-02",
        "recovery_archive_host": "store-01",
        "archive_rpo": "1m",
    }


def test_the_second_province_binds_its_own_names_and_lacks_an_offsite_store() -> None:
    bindings = make_bindings(estate(SONGXANH_LAB))
    assert bindings.values["recovery_site"] == "south"
    assert bindings.values["recovery_repository"] == "south"
    assert bindings.values["files_dataset"] == "records-files"
    assert bindings.values["files_path"] == "/srv/records"
    assert bindings.values["standby_database_host"] == "pg-1b"
    assert bindings.values["primary_database_machine"] == "north-pg-1"
    assert set(bindings.missing) == {
        "offsite_site", "offsite_repository", "recovery_archive_host", "archive_rpo"
    }  # fmt: skip
    assert bindings.missing["archive_rpo"] == (
        "north/pg-1's WAL is archived at no host of south (backup.datasets.*.archive.hosts)"
    )


def test_a_planned_recovery_site_is_named_as_the_reason() -> None:
    bindings = make_bindings(estate(CAMAU))
    assert bindings.missing["recovery_site"] == (
        "the services' recovery site site2 is planned, not built yet"
    )


def test_a_missing_standby_and_file_dataset_are_missing_names() -> None:
    bindings = make_bindings(estate(SONGXANH))
    assert "standby_database_host" in bindings.missing
    assert "files_dataset" in bindings.missing


@pytest.mark.parametrize("path", sorted(SHIPPED_DIRECTORY.glob("*.yaml")), ids=lambda p: p.stem)
def test_a_shipped_scenario_names_nothing_of_an_estate(path: Path) -> None:
    literal = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in NAMING_KEYS and isinstance(value, str) and not value.startswith("$"):
                    literal.append(f"{where}.{key}: {value}")
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(yaml.safe_load(path.read_text()), path.stem)
    assert literal == []


def test_binding_replaces_whole_values_only() -> None:
    bindings = make_bindings(estate(LAB))
    data = {"with": {"site": "$recovery_site", "note": "see $recovery_site"}, "x": ["$files_path"]}
    assert bind(data, bindings) == {
        "with": {"site": "site2", "note": "see $recovery_site"},
        "x": ["/srv/files"],
    }
    assert [r.name for r in find_references(data)] == ["recovery_site", "files_path"]


def test_an_unknown_reference_is_refused_with_its_line_and_the_closest_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (SHIPPED_DIRECTORY / "quarterly-test-failover.yaml").read_text()
    broken = tmp_path / "quarterly-test-failover.yaml"
    broken.write_text(text.replace("{site: $recovery_site}", "{site: $recovery_sit}", 1))
    line = next(
        number
        for number, content in enumerate(broken.read_text().splitlines(), 1)
        if "$recovery_sit}" in content
    )
    code = run(["drill", "validate", "-i", str(LAB), str(broken)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{broken}:{line}:" in err
    assert "$recovery_sit is no name egov derives" in err
    assert "did you mean $recovery_site?" in err


def test_a_scenario_that_does_not_apply_is_listed_as_such_and_refused_on_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(["drill", "list", "-i", str(SONGXANH_LAB), "-o", "json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert not rows["ransomware-recovery"]["applies"]
    assert rows["ransomware-recovery"]["unmet"] == {
        "offsite_repository": "no active offsite site (an off-site backup store)"
    }
    assert rows["quarterly-test-failover"]["applies"]
    assert run(["drill", "validate", "-i", str(SONGXANH_LAB)]) == 0
    assert "does not apply to this estate" in capsys.readouterr().out
    code = run(
        ["drill", "run", "ransomware-recovery", "-i", str(SONGXANH_LAB), "--mode", "readiness",
         "--drill-dir", str(tmp_path)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "scenario ransomware-recovery does not apply to estate songxanh-lab" in err
    assert list(tmp_path.iterdir()) == []  # nothing journalled, nothing touched


def test_loading_an_inapplicable_scenario_raises_unless_allowed() -> None:
    path = SHIPPED_DIRECTORY / "vnpt-link-cut-during-replication.yaml"
    with pytest.raises(ScenarioNotApplicable) as raised:
        load_scenario(path, estate(SONGXANH_LAB))
    assert set(raised.value.unmet) == {"offsite_site", "offsite_repository"}
    loaded = load_scenario(path, estate(SONGXANH_LAB), allow_unmet=True)
    assert not loaded.applies


@pytest.mark.parametrize("path", [LAB, SONGXANH_LAB], ids=["lab", "songxanh-lab"])
def test_a_bound_scenario_holds_the_estates_names(path: Path) -> None:
    loaded = load_scenario(SHIPPED_DIRECTORY / "quarterly-test-failover.yaml", estate(path))
    plan = next(iter(loaded.scenario.modes.values()))
    assert plan.recovery_site == make_bindings(estate(path)).values["recovery_site"]
