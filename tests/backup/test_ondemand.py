"""The run-now command, run by a real ``sh`` with stand-ins for systemctl and journalctl on
PATH (the host's systemd is the lab's to exercise: tests/lab/test_backup*.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from egov.backup.ondemand import make_run_now_command

UNIT = "egov-replicate.service"


def _stand_ins(directory: Path, start_code: int) -> Path:
    """systemctl whose ``start`` exits ``start_code`` (the unit is never in flight) and a
    journalctl that echoes its arguments and the run's last line."""
    directory.mkdir()
    (directory / "systemctl").write_text(
        "#!/bin/sh\n"
        'case "$1" in show) echo inactive ;; '
        f'start) echo "Job for {UNIT} failed." >&2; exit {start_code} ;; esac\n'
    )
    (directory / "journalctl").write_text(
        '#!/bin/sh\necho "journalctl $*"\necho "replication failed: vnpt unreachable"\n'
    )
    for name in ("systemctl", "journalctl"):
        (directory / name).chmod(0o755)
    return directory


def _run(tmp_path: Path, start_code: int) -> subprocess.CompletedProcess[str]:
    bin_dir = _stand_ins(tmp_path / "bin", start_code)
    return subprocess.run(
        make_run_now_command(UNIT),
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("code", [1, 3])
def test_a_failed_run_keeps_its_exit_code_and_says_why_from_its_own_journal(
    tmp_path: Path, code: int
) -> None:
    result = _run(tmp_path, code)
    assert result.returncode == code
    assert "replication failed: vnpt unreachable" in result.stderr
    # the run's own processes since it started, not systemd's words about it
    assert f"_SYSTEMD_UNIT={UNIT} --since @" in result.stderr
    assert "-n 12" in result.stderr


def test_a_run_that_succeeds_reads_no_journal(tmp_path: Path) -> None:
    result = _run(tmp_path, 0)
    assert result.returncode == 0
    assert "journalctl" not in result.stdout + result.stderr
