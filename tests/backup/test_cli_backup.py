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


CAMAU = LAB.parent / "camau.yaml"


def test_plan_without_records_says_declared_and_fits_as_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["backup", "plan", "-i", str(CAMAU), "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(declared estimate)" in out and "measured" not in out
    # the 8 shards the plan once proposed are configured: they run, and are not proposed again
    assert "(primary-store-01) ×8" in out and "shards: back files up in" not in out
    assert "the night as configured: everything fits in the window" in out
    assert "proposed:" not in out
    # the databases' RPO is the WAL archive's where it is held; the weekly dump's own night
    assert "RPO of databases at primary (WAL archive on primary-store-01): 1m" in out
    # the weekly dump and the weekly base backups on nights of their own (`first_day: 2`)
    assert "The night of days 2, 9, 16, 23 and 30 (jobs run less often than daily): needs" in out
    assert "The night of days 3, 10, 17, 24 and 31 (jobs run less often than daily): needs" in out
    assert "every 1w from 22:00 on the night of days 3, 10, 17, 24 and 31, ends" in out


def test_plan_json_says_which_figure_was_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.backup.test_plan import copy_record, files_record

    write_record(files_record(seconds=2400), tmp_path)
    write_record(copy_record("vnpt", seconds=100, copied=10e9), tmp_path)
    argv = ["backup", "plan", "-i", str(CAMAU), "--state-dir", str(tmp_path), "-o", "json"]
    assert run(argv) == 0
    plan = json.loads(capsys.readouterr().out)
    files = next(job for job in plan["inputs"]["jobs"] if job["dataset"] == "files")
    assert files["throughput"]["source"].startswith("measured on primary-store-01")
    vnpt = next(link for link in plan["inputs"]["links"] if link["repository"] == "vnpt")
    assert vnpt["rate"]["source"].startswith("measured copying primary → vnpt")
    assert plan["proposed"]["findings"] == []


def test_plan_reads_the_inventory_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EGOV_INVENTORY", str(CAMAU))
    assert run(["backup", "plan", "--state-dir", str(tmp_path), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["inputs"]["window_start"] == "01:30"


def test_plan_refuses_a_broken_inventory_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "estate.yaml"
    text = CAMAU.read_text(encoding="utf-8")
    bad.write_text(text.replace("wan_bandwidth: 200 Mbit/s", "wan_bandwidth: 200 Mbps"))
    line = next(
        number
        for number, content in enumerate(bad.read_text().splitlines(), 1)
        if "200 Mbps" in content
    )
    assert run(["backup", "plan", "-i", str(bad), "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{line}:" in err and "not a rate" in err and "Traceback" not in err


def test_plan_draws_the_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "night.svg"
    argv = ["backup", "plan", "-i", str(CAMAU), "--state-dir", str(tmp_path), "--svg", str(svg)]
    assert run([*argv, "-o", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    dump_night, base_night = plan["longer"]
    assert plan["night"]["findings"] == [] and dump_night["findings"]  # its copies run late
    assert base_night["days"] == [3, 10, 17, 24, 31] and base_night["findings"] == []
    drawn = svg.read_text()
    assert "window end" in drawn and "backup files" in drawn
    # the weekly dump and base backups: on nights of their own, drawn under the nightly one
    assert "The night of days 2, 9, 16, 23 and 30" in drawn
    assert "The night of days 3, 10, 17, 24 and 31" in drawn
    assert "base backup databases (primary-db-01 → site2-store-01)" in drawn


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


def _would_start(capsys: pytest.CaptureFixture[str], *arguments: str) -> list[str]:
    """The hosts ``backup run --dry-run --dataset etc`` would start the unit on."""
    assert run(["backup", "run", "-i", str(LAB), "--dataset", "etc", "--dry-run", *arguments]) == 0
    return [line.rsplit(" on ", 1)[1] for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("spelling", ["site2/mon-01", "site2-mon-01", "site2/mon-*"])
def test_run_host_takes_every_selector_spelling(
    spelling: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _would_start(capsys, "--host", spelling) == ["site2/mon-01"]


def test_run_host_keeps_the_bare_host_name_at_every_site(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _would_start(capsys, "--host", "mon-01") == ["primary/mon-01", "site2/mon-01"]
    assert _would_start(capsys, "--host", "mon-01", "--site", "site2") == ["site2/mon-01"]


def test_run_limit_and_exclude_as_deploy_has_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert _would_start(capsys, "--limit", "role:storage") == ["primary/store-01", "site2/store-01"]
    assert _would_start(capsys, "--limit", "role:storage", "--exclude", "site:primary") == [
        "site2/store-01"
    ]
    assert "primary/db-01" not in _would_start(capsys, "--exclude", "*-db-*")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--host", "primary/db-99"], "--host 'primary/db-99' matches no host"),
        (["--limit", "role:mailserver"], "--limit 'role:mailserver' matches no host"),
        (["--exclude", "rol:db"], "not a selector form"),
        (["--host", "primary/store-01", "--site", "site2"], "the selection leaves no host"),
    ],
)
def test_run_bad_selection_is_exit_2_naming_the_forms(
    arguments: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["backup", "run", "-i", str(LAB), "--dry-run", *arguments]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("spelling", ["site2/mon-01", "site2-mon-01"])
def test_restore_to_host_takes_both_spellings(
    spelling: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--dataset", "etc", "--target", str(tmp_path / "t"), "--dry-run"]
    assert run(["backup", "restore", "-i", str(LAB), *arguments, "--to-host", spelling]) == 0
    assert "10.213.3.40 egov agent restore --dataset etc" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--to-host", "host:mon-01", "--to-host 'host:mon-01' names 2 hosts"),
        ("--to-host", "moon/db-01", "--to-host 'moon/db-01' matches no host"),
        ("--host", "primary/db-99", "--host 'primary/db-99' matches no host"),
    ],
)
def test_restore_host_options_refuse_what_names_no_single_host(
    option: str, value: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--dataset", "etc", "--target", str(tmp_path / "t"), "--dry-run", option, value]
    assert run(["backup", "restore", "-i", str(LAB), *arguments]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["primary/db-01", "primary-db-01"])
def test_snapshots_host_reaches_restic_as_the_qualified_name(
    spelling: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the repository is the lab's, which only `egov lab up` makes: its listing is replaced,
    # and what it would be asked is recorded
    from egov.backup import datasetrestore

    asked: list[str | None] = []
    monkeypatch.setattr(
        datasetrestore,
        "list_snapshots",
        lambda _config, _settings, _dataset, host: asked.append(host) or [],
    )
    assert run(["backup", "snapshots", "-i", str(LAB), "--host", spelling]) == 0
    assert asked == ["primary-db-01"]


def test_snapshots_unknown_host_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["backup", "snapshots", "-i", str(LAB), "--host", "nope"]) == 2
    assert "--host 'nope' matches no host" in capsys.readouterr().err


def test_plan_from_hosts_refuses_placeholders_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["backup", "plan", "-i", str(CAMAU), "--state-dir", str(tmp_path), "--from-hosts"]
    assert run(argv) == 2
    assert "placeholder addresses" in capsys.readouterr().err
