"""`egov lab` refuses bad input with one message and exit code 2, touching nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.cli import run

ROOT = Path(__file__).resolve().parents[1]
LAB = str(ROOT / "inventory" / "lab.yaml")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["lab", "up", "-i", str(ROOT / "inventory" / "camau.yaml")], "not a lab"),
        (["lab", "status", "-i", str(ROOT / "tests/inventory/data/songxanh.yaml")], "not a lab"),
        (["lab", "fault", "power-off", "primary/db-99", "-i", LAB], "no lab host 'primary/db-99'"),
        (["lab", "fault", "power-off", "moon", "-i", LAB], "no lab host 'moon'"),
        (["lab", "fault", "cut", "primary/db-01", "-i", LAB], "is not a site"),
        (["lab", "fault", "stop-service", "site2", "nginx", "-i", LAB], "no lab host 'site2'"),
        (["lab", "fault", "shape", "vnpt", "--rate-kbit", "0", "-i", LAB], "rate-kbit"),
        (["lab", "exec", "primary/db-01", "-i", LAB], "no command given"),
        (["lab", "ssh", "vnpt/s3-02", "-i", LAB], "no lab host"),
    ],
)
def test_bad_lab_input_exits_2(
    arguments: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(arguments) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
