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
        (
            ["lab", "fault", "power-off", "primary/db-99", "-i", LAB],
            "lab host 'primary/db-99' matches no host",
        ),
        (["lab", "fault", "power-off", "moon", "-i", LAB], "lab host 'moon' matches no host"),
        (["lab", "fault", "cut", "primary/db-01", "-i", LAB], "is not a site"),
        (
            ["lab", "fault", "stop-service", "site2", "nginx", "-i", LAB],
            "lab host 'site2' names 4 hosts",
        ),
        (["lab", "fault", "shape", "vnpt", "--rate-kbit", "0", "-i", LAB], "rate-kbit"),
        (["lab", "exec", "primary/db-01", "-i", LAB], "no command given"),
        (["lab", "ssh", "vnpt/s3-02", "-i", LAB], "lab host 'vnpt/s3-02' matches no host"),
        (["lab", "ssh", "db-01", "-i", LAB], "lab host 'db-01' names 2 hosts"),
        (["lab", "exec", "rol:db", "-i", LAB, "--", "true"], "not a selector form"),
        (["lab", "fault", "fill", "*-db-*", "-i", LAB], "names 3 hosts"),
    ],
)
def test_bad_lab_input_exits_2(
    arguments: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(arguments) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_lab_hosts_take_both_spellings() -> None:
    from egov.cli.lab import resolve_machine
    from egov.inventory import load_estate

    estate = load_estate(Path(LAB)).estate
    assert (
        resolve_machine(estate, "site2/mon-01")
        == resolve_machine(estate, "site2-mon-01")
        == "site2-mon-01"
    )
