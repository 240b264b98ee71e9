"""``egov backup`` and ``egov agent backup`` in-process: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egov.cli import run
from egov.records import CatalogRecord, LatestSnapshot, Result, write_record
from tests.backup.conftest import LAB


def test_unknown_dataset_is_exit_2_and_names_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["backup", "run", "-i", str(LAB), "--dataset", "nope", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--dataset nope: no such dataset" in err and "databases, files, etc" in err


def test_run_dry_run_lists_units_per_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(["backup", "run", "-i", str(LAB), "--dataset", "etc", "--site", "vnpt", "--dry-run"])
        == 0
    )
    out = capsys.readouterr().out
    assert "would start egov-backup@etc.service on vnpt/" in out


def test_status_json_reads_records_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_record(
        CatalogRecord(
            repository="primary", site="primary", refreshed_at=1.0, result=Result.SUCCESS,
            latest={"databases": {"primary-db-01": LatestSnapshot(id="a" * 64, time=1.0)}},
        ),
        tmp_path,
    )  # fmt: skip
    assert (
        run(["backup", "status", "-i", str(LAB), "--state-dir", str(tmp_path), "-o", "json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    row = next(r for r in rows if r["dataset"] == "databases" and r["site"] == "primary")
    assert row["hosts_present"] == 1 and row["fresh"] is False  # 1970 is old


def test_plan_bad_assumptions_give_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "assumptions.yaml"
    bad.write_text("window_hours: 6\nlink_efficiency: 3\n")
    assert run(["backup", "plan", "--assumptions", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:1: link_efficiency" in err


def test_plan_draws_the_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "night.svg"
    assert run(["backup", "plan", "--svg", str(svg), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["overruns"]
    assert "window end" in svg.read_text()


def test_restore_refuses_a_non_empty_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "busy").write_text("x")
    code = run(["backup", "restore", "-i", str(LAB), "--dataset", "etc", "--target", str(tmp_path)])
    assert code == 2
    assert "not an empty directory" in capsys.readouterr().err
    assert (tmp_path / "busy").read_text() == "x"


def test_agent_without_configuration_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["agent", "backup", "--config", str(tmp_path / "agent.json")]) == 2
    assert "cannot read the agent configuration" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"estate": "x", "site": "primary"}')
    assert run(["agent", "backup", "--config", str(broken)]) == 2
    assert "host: Field required" in capsys.readouterr().err


def test_undelete_refuses_a_rest_repository_and_a_bad_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["backup", "undelete", "-i", str(LAB), "--repository", "site2"]) == 2
    assert "--repository site2: not an S3 repository" in capsys.readouterr().err
    arguments = ["backup", "undelete", "-i", str(LAB), "--repository", "vnpt", "--since", "x"]
    assert run(arguments) == 2
    assert "--since x: not an ISO 8601 time" in capsys.readouterr().err


def test_status_text_says_what_protects_the_bucket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["backup", "status", "-i", str(LAB), "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "vnpt: COMPLIANCE object lock, 2 d: no key can delete a version" in out
