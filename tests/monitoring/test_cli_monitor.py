"""``egov monitor``, run in-process: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egov.cli import run
from egov.cli.app import stdout
from tests.fake_alertmanager import FakeAlertmanager, serving_alertmanager
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


# `egov monitor alerts` against a fake Alertmanager on loopback: it stands in for the real
# one, which the lab suite exercises.


def _firing_and_silenced(fake: FakeAlertmanager) -> None:
    drill = fake.add_silence("egov drill quarterly-test-failover", "drill …", site="site2")
    fake.alerts = [
        {
            "fingerprint": "a1",
            "labels": {"alertname": "BackupStale", "severity": "warning", "site": "primary"},
            "annotations": {"summary": "Backup of files at primary is stale"},
            "startsAt": "2026-12-05T07:00:00Z",
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            "receivers": [{"name": "null"}],
        },
        {
            "fingerprint": "a2",
            "labels": {
                "alertname": "HostDown",
                "severity": "critical",
                "site": "site2",
                "host": "site2-db-01",
            },
            "annotations": {"summary": "Host site2-db-01 is down"},
            "startsAt": "2026-12-05T07:30:00.123456789Z",
            "status": {"state": "suppressed", "silencedBy": [drill], "inhibitedBy": []},
            "receivers": [{"name": "null"}],
        },
    ]


def test_alerts_as_json_say_what_fires_and_which_drill_silenced_what(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serving_alertmanager() as fake:
        _firing_and_silenced(fake)
        assert run(["monitor", "alerts", "--alertmanager", fake.url, "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["alertmanager"] == fake.url
    assert report["counts"] == {"firing": 1, "silenced": 1, "inhibited": 0}
    first, second = report["alerts"]
    assert (first["alertname"], first["status"], first["host"]) == (
        "HostDown",
        "silenced",
        "site2-db-01",
    )
    assert first["silenced_by"][0]["drill"] == "quarterly-test-failover"
    assert (second["alertname"], second["status"]) == ("BackupStale", "firing")
    assert second["age_seconds"] > 0


def test_alerts_as_text_name_the_drill(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stdout, "width", 240)  # one row per line, as on an operator's screen
    with serving_alertmanager() as fake:
        _firing_and_silenced(fake)
        assert run(["monitor", "alerts", "--alertmanager", fake.url]) == 0
    out = capsys.readouterr().out
    assert "drill quarterly-test-failover" in out
    assert "1 firing, 1 silenced, 0 inhibited" in out


def test_no_alert_at_all_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with serving_alertmanager() as fake:
        assert run(["monitor", "alerts", "--alertmanager", fake.url]) == 0
    assert "no alert firing, silenced or inhibited" in capsys.readouterr().out


def test_no_alertmanager_answering_fails_naming_the_hosts_tried(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["monitor", "alerts", "--alertmanager", "http://127.0.0.1:1"]) == 1
    error = capsys.readouterr().err
    assert "no Alertmanager answered to list the alerts: http://127.0.0.1:1" in error
    assert "Traceback" not in error


def test_an_alertmanager_refusing_fails_with_its_status_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serving_alertmanager() as fake:
        fake.refuse_with = 503
        assert run(["monitor", "alerts", "--alertmanager", fake.url]) == 1
    error = capsys.readouterr().err
    assert "HTTP 503" in error
    assert "secret" not in error


def test_a_bad_alertmanager_url_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["monitor", "alerts", "--alertmanager", "ftp://10.213.1.40"]) == 2
    assert "is not an Alertmanager URL" in capsys.readouterr().err
