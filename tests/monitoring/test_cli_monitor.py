"""``egov monitor``, run in-process: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egov.cli import run
from tests.monitoring.conftest import LAB


def test_rules_are_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["monitor", "rules", str(tmp_path), "-i", str(LAB)]) == 0
    assert "alert: BackupStale" in (tmp_path / "egov.yml").read_text(encoding="utf-8")
    assert "wrote" in capsys.readouterr().out


def test_dashboards_and_provisioning_are_written(tmp_path: Path) -> None:
    assert run(["monitor", "dashboards", str(tmp_path), "-i", str(LAB)]) == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert "dashboards/egov-overview.json" in written
    assert "provisioning/dashboards/egov.yaml" in written
    assert "provisioning/datasources/egov.yaml" in written


def test_an_unusable_output_directory_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert run(["monitor", "rules", str(blocker / "sub"), "-i", str(LAB)]) == 2
    error = capsys.readouterr().err
    assert "cannot use as output directory" in error
    assert "Traceback" not in error


def test_a_bad_prometheus_url_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["monitor", "status", "--prometheus", "ftp://10.213.1.40"]) == 2
    assert "is not a Prometheus URL" in capsys.readouterr().err


def test_an_unreachable_prometheus_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["monitor", "status", "--prometheus", "http://127.0.0.1:1"]) == 1
    error = capsys.readouterr().err
    assert "no Prometheus answered: http://127.0.0.1:1" in error
    assert "hint:" in error


def test_status_as_json_from_a_real_prometheus(
    prometheus_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["monitor", "status", "--prometheus", prometheus_url, "-o", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["prometheus"] == prometheus_url
    assert {"sites", "services", "backups", "replication", "postgres", "alerts"} <= set(status)


def test_status_as_text(prometheus_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["monitor", "status", "--prometheus", prometheus_url]) == 0
    assert "Prometheus" in capsys.readouterr().out


def test_an_unreadable_state_directory_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["monitor", "exporter", "--state-dir", str(tmp_path / "missing"), "-i", str(LAB)])
    assert code == 2
    assert "cannot read the state directory" in capsys.readouterr().err


def test_a_bad_targets_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = tmp_path / "targets.json"
    targets.write_text("{}", encoding="utf-8")
    code = run(["monitor", "exporter", "--state-dir", str(tmp_path), "--targets", str(targets)])
    assert code == 2
    assert "cannot read the monitoring targets" in capsys.readouterr().err
