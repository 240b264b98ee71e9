"""The shipped inventories: production template, lab, and a fictional province."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egov.cli import run
from egov.inventory import load_estate
from egov.inventory.model import Estate
from egov.inventory.schema import SCHEMA_FILE, render_schema

ROOT = Path(__file__).resolve().parents[2]
CAMAU = ROOT / "inventory" / "camau.yaml"
LAB = ROOT / "inventory" / "lab.yaml"
SONGXANH = ROOT / "tests" / "inventory" / "data" / "songxanh.yaml"


@pytest.mark.parametrize("path", [CAMAU, LAB, SONGXANH], ids=["camau", "lab", "songxanh"])
def test_shipped_inventory_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inventory", "validate", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


def test_lab_and_fictional_province_have_no_warnings() -> None:
    assert load_estate(LAB).warnings == ()
    assert load_estate(SONGXANH).warnings == ()


def test_production_template_warns_only_about_placeholders() -> None:
    warnings = load_estate(CAMAU).warnings
    assert warnings
    assert all("placeholder" in warning for warning in warnings)


def test_production_template_matches_the_design_estate() -> None:
    estate = load_estate(CAMAU).estate
    assert len(estate.sites["primary"].hosts) == 9
    assert int(estate.sites["primary"].storage_capacity or 0) == 142_800_000_000_000
    assert estate.sites["vnpt"].role.value == "offsite"
    assert estate.sites["site2"].status.value == "planned"
    assert set(estate.services) == {"portal", "motcua"}
    assert estate.backup.replication == ["primary", "vnpt", "site2"]


def test_lab_has_the_topology_of_the_production_template() -> None:
    def shape(estate: Estate) -> dict[str, dict[str, list[str]]]:
        return {
            site: {name: sorted(host.roles) for name, host in model.hosts.items()}
            for site, model in estate.sites.items()
            if site != "vnpt"  # production VNPT is an endpoint; the lab runs a stand-in host
        }

    lab = load_estate(LAB).estate
    assert shape(lab) == shape(load_estate(CAMAU).estate)
    assert sum(1 for _ in lab.iter_hosts()) == 14


def test_committed_json_schema_matches_the_model() -> None:
    committed = (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render_schema(), (
        "run `egov inventory schema inventory/egov-inventory.schema.json`"
    )


def test_show_json_is_the_resolved_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inventory", "show", "-i", str(LAB), "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backup"]["schedule"]["randomized_delay"] == "5m"
    assert data["drills"]["interval"] == "13w"
    # The resolved model reads back as the same estate.
    assert Estate.model_validate(data) == load_estate(LAB).estate


def test_show_text_lists_every_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inventory", "show", "-i", str(SONGXANH)]) == 0
    out = capsys.readouterr().out
    for name in ("dc-north/gw", "dc-south/pg-b", "hoso", "Sông Xanh"):
        assert name in out


def test_inventory_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EGOV_INVENTORY", str(SONGXANH))
    assert run(["inventory", "validate", "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"file": str(SONGXANH), "valid": True, "warnings": []}


def test_strict_validation_fails_on_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inventory", "validate", "--strict", str(CAMAU)]) == 2
    assert "--strict" in capsys.readouterr().err


def test_schema_command_writes_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "schema.json"
    assert run(["inventory", "schema", str(target)]) == 0
    assert json.loads(target.read_text())["title"] == "egov inventory"
    capsys.readouterr()  # what the first said, wrapped over as many lines as the path takes
    assert run(["inventory", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$schema"].endswith("schema")
