"""A point-in-time recovery (``pointintime.recover``) that fails leaves its target as it found
it: removed when egov created it, emptied when it existed; a target that is not empty is
refused before anything runs.

Barman and PostgreSQL cannot run here (Barman needs a primary to pull from, and the barman
user): fakes stand in for them at the subprocess edge, scripts first on PATH named as the
archive host's commands (``runuser``, ``chown``, ``psql``, ``barman``) and a fake
``postgres_bin`` (``pg_ctl``, ``psql``). Each logs its call; ``barman recover`` writes a partial
cluster into the target before it fails, as a full disk would leave it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from egov.backup.pointintime import Recovery, recover
from egov.backup.recoverytarget import clean_target, make_target
from egov.errors import BackupError

DATA = Path(__file__).parent / "data" / "barman"
SERVER = "databases-primary-db-01"
#: after the sample's only base backup ended (22:01:15 +07:00)
AFTER_THE_BACKUP = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
SCRIPTS = {
    # runuser -u barman -- COMMAND...: run COMMAND (the barman user does not exist here)
    "runuser": 'shift 3; exec "$@"\n',
    "chown": "exit 0\n",
    # the primary cannot be reached: recovery goes on with the archive as it is
    "psql": 'echo "psql: error: could not connect to server" >&2; exit 2\n',
    "barman": f"""case "$*" in
*list-backups*) cat {DATA / "list-backups.json"};;
*recover*)
  for target; do :; done
  mkdir -p "$target/base/1" && echo 16 > "$target/PG_VERSION" && echo x > "$target/base/1/1259"
  if [ -e "$FAKE_FAIL/recover" ]; then echo "ERROR: Cannot recover: No space left" >&2; exit 1; fi;;
esac
""",
}
POSTGRES_SCRIPTS = {
    "pg_ctl": """case "$*" in *start*)
  while [ "$1" != "-l" ]; do shift; done; log="$2"
  if [ -e "$FAKE_FAIL/start" ]; then
    echo "FATAL:  recovery ended before configured recovery target was reached" >> "$log"
    exit 1
  fi
  echo "LOG:  redo done at 0/A0000D8" >> "$log"
  echo "LOG:  last completed transaction was at log time 2026-12-05 15:02:09.590464+00" >> "$log"
esac
""",
    "psql": 'case "$*" in *pg_is_in_recovery*) echo f;; *) echo 1;; esac\n',
}


@dataclass
class Fakes:
    """The fake commands' log, the switches that make them fail, and the fake postgres_bin."""

    calls: Path
    fail: Path
    postgres_bin: Path

    def run(self, directory: Path, *, verify: bool = False, throwaway: bool = False) -> Recovery:
        return recover(
            SERVER, "10.213.1.20", directory, AFTER_THE_BACKUP, postgres_bin=self.postgres_bin,
            verify=verify, databases=("portal",), queries=("SELECT 1",), throwaway=throwaway,
        )  # fmt: skip


def _install(directory: Path, scripts: dict[str, str], calls: Path) -> None:
    directory.mkdir()
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\n{body}')
        path.chmod(0o755)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    fake = Fakes(tmp_path / "calls.log", tmp_path / "fail", tmp_path / "postgres-bin")
    fake.fail.mkdir()
    _install(tmp_path / "bin", SCRIPTS, fake.calls)
    _install(fake.postgres_bin, POSTGRES_SCRIPTS, fake.calls)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_FAIL", str(fake.fail))
    return fake


@pytest.fixture
def unrelated(tmp_path: Path) -> Path:
    """A file beside the target that the recovery has nothing to do with."""
    path = tmp_path / "unrelated" / "dossier.txt"
    path.parent.mkdir()
    path.write_text("citizen 0042\n")
    return path


def test_a_failed_barman_recover_removes_the_directories_egov_created(
    fakes: Fakes, tmp_path: Path, unrelated: Path
) -> None:
    restores = tmp_path / "restores"
    restores.mkdir()
    (restores / "keep.txt").write_text("was here before\n")
    (fakes.fail / "recover").touch()
    with pytest.raises(BackupError) as raised:
        fakes.run(restores / "new" / "pitr")
    message = str(raised.value)
    assert "barman recover failed: ERROR: Cannot recover: No space left" in message
    assert f"{restores / 'new'} was removed (egov had created it for" in message
    assert "barman recover" in fakes.calls.read_text()  # it did write into the target
    assert sorted(path.name for path in restores.iterdir()) == ["keep.txt"]
    assert (restores / "keep.txt").read_text() == "was here before\n"
    assert unrelated.read_text() == "citizen 0042\n"


def test_a_failed_replay_empties_the_empty_directory_it_was_given(
    fakes: Fakes, tmp_path: Path, unrelated: Path
) -> None:
    target = tmp_path / "pitr"
    target.mkdir(mode=0o750)
    target.chmod(0o750)
    (fakes.fail / "start").touch()
    with pytest.raises(BackupError) as raised:
        fakes.run(target, verify=True)
    message = str(raised.value)
    assert "the recovered cluster does not start" in message
    assert "recovery ended before configured recovery target was reached" in message
    assert f"{target} was emptied again (it was empty before)" in message
    assert target.is_dir() and list(target.iterdir()) == []
    assert (target.stat().st_mode & 0o777) == 0o750
    assert "pg_ctl -D" in fakes.calls.read_text()
    assert unrelated.read_text() == "citizen 0042\n"


def test_a_target_that_is_not_empty_is_refused_before_anything_runs(
    fakes: Fakes, tmp_path: Path
) -> None:
    target = tmp_path / "pitr"
    target.mkdir()
    (target / "PG_VERSION").write_text("15\n")
    with pytest.raises(BackupError, match="exists and is not an empty directory"):
        fakes.run(target, verify=True)
    a_file = tmp_path / "a-file"
    a_file.write_text("mine\n")
    with pytest.raises(BackupError, match="exists and is not an empty directory"):
        fakes.run(a_file)
    assert not fakes.calls.exists()
    assert (target / "PG_VERSION").read_text() == "15\n" and a_file.read_text() == "mine\n"


def test_a_recovery_that_succeeds_keeps_what_it_recovered(fakes: Fakes, tmp_path: Path) -> None:
    target = tmp_path / "pitr"
    recovery = fakes.run(target, verify=True)
    assert recovery.replayed and recovery.queries_checked == 1
    assert recovery.last_transaction == datetime(2026, 12, 5, 15, 2, 9, 590464, tzinfo=UTC)
    assert (target / "PG_VERSION").read_text() == "16\n"


def test_a_restore_tests_throwaway_target_is_cleaned_after_a_success(
    fakes: Fakes, tmp_path: Path
) -> None:
    fakes.run(tmp_path / "test", verify=True, throwaway=True)
    assert not (tmp_path / "test").exists()
    (tmp_path / "given").mkdir()
    fakes.run(tmp_path / "given", verify=True, throwaway=True)
    assert list((tmp_path / "given").iterdir()) == []


def test_a_target_that_cannot_be_created_or_cleaned_says_so(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("mine\n")
    with pytest.raises(BackupError, match=r"cannot create .*a-file/pitr"):
        make_target(a_file / "pitr")
    assert a_file.read_text() == "mine\n"
    existing = tmp_path / "existing"
    existing.mkdir()
    taken = make_target(existing)
    shutil.rmtree(existing)  # gone under the recovery's feet
    assert "could not be cleaned" in clean_target(taken)
