"""The backup deploy's pure builders: calendars and units."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from egov.backup.repositories import CLIENT_SECRETS, RETENTION_SECRETS
from egov.deploys import backup
from egov.errors import InputError
from egov.inventory.backup import Schedule
from egov.inventory.model import Estate
from tests.backup.conftest import need
from tests.deploys.support import plan_deploy


@pytest.mark.parametrize(
    ("interval", "at", "calendar"),
    [
        (timedelta(hours=24), "01:30", "*-*-* 01:30:00"),
        (timedelta(minutes=15), "00:00", "*:0/15"),
        (timedelta(minutes=5), "00:02", "*:2/5"),
        (timedelta(hours=6), "01:30", "1/6:30:00"),
        (timedelta(days=2), "03:00", "*-*-1/2 03:00:00"),
    ],
)
def test_on_calendar_follows_the_schedule(interval: timedelta, at: str, calendar: str) -> None:
    assert backup.make_on_calendar(Schedule(interval=interval, at=at)) == calendar


@pytest.mark.parametrize(
    ("first_day", "calendar"), [(None, "*-*-1/7"), (1, "*-*-1/7"), (4, "*-*-4/7"), (7, "*-*-7/7")]
)
def test_first_day_moves_a_weekly_job_to_other_days(first_day: int | None, calendar: str) -> None:
    schedule = Schedule(interval=timedelta(days=7), at="22:00", first_day=first_day)
    assert backup.make_on_calendar(schedule) == f"{calendar} 22:00:00"


def test_an_interval_without_calendar_form_is_refused() -> None:
    with pytest.raises(InputError, match="no systemd calendar form"):
        backup.make_on_calendar(Schedule(interval=timedelta(minutes=40)))


def test_timer_is_persistent_and_randomized() -> None:
    text = backup.make_timer(
        "d", "egov-backup@etc.service", "*-*-* 01:30:00", timedelta(minutes=30)
    )
    assert "OnCalendar=*-*-* 01:30:00\n" in text
    assert "RandomizedDelaySec=1800\n" in text and "Persistent=true\n" in text
    assert "Unit=egov-backup@etc.service\n" in text


def test_backup_service_runs_the_agent_for_its_instance() -> None:
    text = backup.make_backup_service()
    assert "ExecStart=/opt/egov/venv/bin/egov agent backup --dataset %i\n" in text
    assert "Type=oneshot" in text


def test_a_stop_signals_the_agent_alone_so_it_can_interrupt_restic() -> None:
    """With the default KillMode, restic would get SIGTERM too and die holding its lock."""
    for text in (
        backup.make_backup_service(),
        backup.make_retention_service(),
        backup.make_agent_service("egov replication", "replicate"),
    ):
        assert "KillMode=mixed\n" in text


def test_retention_runs_as_the_repository_user_with_a_credential() -> None:
    text = backup.make_retention_service()
    assert "User=egov-restic-%i" in text
    assert "LoadCredential=restic-password:/etc/egov/secrets/restic-%i" in text


def test_replication_starts_after_the_nightly_window() -> None:
    assert backup.make_shifted_time("01:30", backup.REPLICATION_DELAY) == "04:30"
    assert backup.make_shifted_time("23:30", timedelta(hours=3)) == "02:30"


def test_replication_follows_the_most_frequent_dataset_half_an_interval_later() -> None:
    from pathlib import Path

    from egov.inventory import load_estate

    root = Path(__file__).resolve().parents[2]
    lab = load_estate(root / "inventory" / "lab.yaml").estate  # files every 5 min
    assert backup.make_replication_calendar(lab) == ("*:2/5", timedelta(0))
    nightly = lab.model_copy(
        update={
            "backup": lab.backup.model_copy(
                update={
                    "datasets": {
                        name: dataset.model_copy(update={"schedule": None})
                        for name, dataset in lab.backup.datasets.items()
                    }
                }
            )
        }
    )
    # only nightly datasets: three hours after the 01:30 start, with a randomized delay
    assert backup.make_replication_calendar(nightly) == ("*-*-* 04:30:00", timedelta(minutes=5))


def test_the_store_host_creates_its_repository_once_and_never_over_files(tmp_path: Path) -> None:
    """The deploy's script, run for real on temporary paths: a repository restic opens, a
    second run that changes nothing, and a refusal where files lie without a config."""
    need("restic")
    (tmp_path / "restic" / "primary").mkdir(parents=True)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "restic-primary").write_text("a-repository-password\n")
    script = backup.make_repository_init_script(
        "primary", str(tmp_path / "restic"), str(tmp_path / "secrets"), f"{os.getuid()}"
    )
    run = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    config = tmp_path / "restic" / "primary" / "config"
    opened = subprocess.run(
        ["restic", "--no-cache", "-r", str(config.parent), "cat", "config"],
        env={"PATH": os.environ["PATH"], "RESTIC_PASSWORD": "a-repository-password"},
        capture_output=True,
        check=False,
    )
    assert opened.returncode == 0, opened.stderr
    created = config.read_bytes()
    again = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert again.returncode == 0 and config.read_bytes() == created
    assert sorted(p.name for p in (tmp_path / "restic").iterdir()) == ["primary"]
    config.unlink()  # files, but no config: somebody must look first
    refused = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "holds files but no config" in refused.stderr
    assert (tmp_path / "restic" / "primary" / "keys").is_dir()


def test_s3_retention_runs_as_a_transient_user_given_the_prune_key() -> None:
    text = backup.make_s3_retention_service("vnpt")
    assert "DynamicUser=yes" in text and "User=egov-restic" not in text
    assert "LoadCredential=restic-password:/etc/egov/secrets/restic-vnpt\n" in text
    assert "LoadCredential=s3-access-key:/etc/egov/secrets/s3-vnpt-prune-access-key\n" in text
    assert "LoadCredential=s3-secret-key:/etc/egov/secrets/s3-vnpt-prune-secret-key\n" in text
    assert "agent retention --repository vnpt " in text and "KillMode=mixed\n" in text


def test_the_vnpt_host_plans_the_s3_retention_with_the_prune_key_and_shows_no_secret(
    lab: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    repositories = {}
    for name, repository in lab.backup.repositories.items():
        references = {}
        for key in CLIENT_SECRETS + RETENTION_SECRETS:
            if getattr(repository, key) is not None:
                variable = f"EGOV_TEST_{name}_{key}".upper()
                monkeypatch.setenv(variable, f"secret-value-{name}-{key}-0123456789")
                references[key] = f"env:{variable}"
        repositories[name] = repository.model_copy(update=references)
    estate = lab.model_copy(
        update={"backup": lab.backup.model_copy(update={"repositories": repositories})}
    )
    names, logs = plan_deploy(estate, "vnpt/s3-01", backup.backup)
    secrets = [name for name in names if "Secret /etc/egov/secrets/" in name]
    assert "backup | Secret /etc/egov/secrets/s3-vnpt-prune-access-key" in secrets
    assert "backup | Secret /etc/egov/secrets/s3-vnpt-prune-secret-key" in secrets
    assert not any(name.endswith("/s3-vnpt-access-key") for name in secrets)
    assert "backup | Unit egov-retention@vnpt.service" in names
    assert "backup | Unit egov-retention@vnpt.timer" in names
    assert not any("Create repository vnpt" in name for name in names)
    assert "secret-value-" not in logs
    replicator, _ = plan_deploy(estate, "primary/mon-01", backup.backup)
    assert not any("prune" in name for name in replicator)
