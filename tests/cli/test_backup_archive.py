"""``egov backup restore --to-latest`` and the archive restore tests in-process: both run
``egov agent archive-restore`` on the archive host through one helper, and report its failure.

The archive hosts cannot be reached from here: a script named ``ssh`` first on PATH stands in
for the SSH client (the subprocess edge: egov reaches the hosts only by that name). It logs its
arguments, and prints ``answer.json`` or fails as an agent does, for the hosts told to fail.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from egov.cli import run
from egov.cli.backup_archive import run_archive_restore_tests
from egov.inventory import load_estate
from egov.inventory.model import Estate
from tests.backup.conftest import LAB

PRIMARY_STORE = "10.213.1.30"
SITE2_STORE = "10.213.3.30"
RECOVERY = {
    "server": "databases-primary-db-01",
    "backup_id": "20261205T220111",
    "backup_end": "2026-12-05T22:01:15+07:00",
    "target_time": None,
    "directory": "/var/tmp/pitr",
    "replayed": True,
    "segment_closed": True,
    "last_transaction": "2026-12-05T15:02:09.590464+00:00",
    "databases": ["portal", "motcua"],
    "queries_checked": 4,
}


@pytest.fixture(scope="module")
def lab() -> Estate:
    return load_estate(LAB).estate


@dataclass
class FakeSsh:
    """Where the fake ``ssh`` logs its calls and reads what it answers."""

    log: Path
    answer: Path
    failing: Path

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSsh:
    """An ``ssh`` first on PATH: it prints ``answer.json``, or for a host whose address is a
    line of ``failing`` says on stderr what a failed recovery says and exits 1."""
    directory = tmp_path / "bin"
    directory.mkdir()
    fake = FakeSsh(tmp_path / "ssh.log", tmp_path / "answer.json", tmp_path / "failing")
    fake.answer.write_text(json.dumps(RECOVERY))
    fake.failing.write_text("")
    script = directory / "ssh"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {fake.log}\n'
        'for word in "$@"; do host="$host $word"; done\n'
        'while read -r address; do case "$host" in *@$address\\ *)\n'
        '  echo "egov: barman recover failed: ERROR: no space left on device" >&2; exit 1;;\n'
        f"esac; done < {fake.failing}\n"
        f"cat {fake.answer}\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return fake


def _restore(*extra: str) -> int:
    return run(["backup", "restore", "--dataset", "databases", "-i", str(LAB), "--to-latest",
                "--target", "/var/tmp/pitr", *extra])  # fmt: skip


def test_a_restore_runs_the_agent_on_the_archive_host_and_reports_it(
    fake_ssh: FakeSsh, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _restore("--verify") == 0
    out = capsys.readouterr().out
    assert "recovered databases of primary/db-01 to the end of the archive" in out
    assert "4 sanity queries on 2 databases returned rows" in out
    (call,) = fake_ssh.calls()
    assert f"root@{PRIMARY_STORE} " in call
    assert "egov agent archive-restore --server databases-primary-db-01" in call
    assert "--target /var/tmp/pitr" in call and "--verify" in call
    assert "--throwaway" not in call


def test_a_failed_restore_says_where_and_the_agents_last_words(
    fake_ssh: FakeSsh, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ssh.failing.write_text(PRIMARY_STORE + "\n")
    assert _restore() == 1
    err = capsys.readouterr().err
    assert "point-in-time restore on primary/store-01 failed" in err
    assert "barman recover failed: ERROR: no space left on device" in err


def test_an_agent_that_prints_no_recovery_is_a_failure_not_a_crash(
    fake_ssh: FakeSsh, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ssh.answer.write_text("Welcome to store-01\n")
    assert _restore() == 1
    err = capsys.readouterr().err
    assert "point-in-time restore on primary/store-01 printed no recovery" in err
    assert "Welcome to store-01" in err and "internal error" not in err


def test_restore_tests_run_on_every_active_archive_and_collect_the_failures(
    fake_ssh: FakeSsh, lab: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ssh.failing.write_text(SITE2_STORE + "\n")
    failures = run_archive_restore_tests(lab)
    out = capsys.readouterr().out
    where = "databases from {}'s WAL archive"
    assert f"restore test of {where.format('primary/store-01')}: success" in out
    assert "(to the transaction of 2026-12-05 22:02:09.590+07:00, 4 sanity queries)" in out
    assert f"restore test of {where.format('site2/store-01')}: failure" in out
    assert failures == [
        f"restore test of {where.format('site2/store-01')}: point-in-time restore on "
        "site2/store-01 failed: egov: barman recover failed: ERROR: no space left on device"
    ]
    calls = fake_ssh.calls()
    assert len(calls) == 2
    assert all("--verify" in call and "--throwaway" in call for call in calls)
    assert "--target /var/tmp/egov-archive-restore-test-databases-primary-db-01" in calls[0]
