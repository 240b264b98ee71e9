"""egov.execute: real processes, real signals."""

from __future__ import annotations

from pathlib import Path

import pytest

import egov.execute
from egov.errors import CommandFailed
from egov.execute import run_command


def test_a_command_that_times_out_is_interrupted_first(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    script = f"sleep 30 & trap 'kill $!; echo cleaned > {marker}; exit 130' INT; wait"
    with pytest.raises(CommandFailed) as raised:
        run_command(("sh", "-c", script), timeout_seconds=0.5)
    assert raised.value.returncode == 124
    assert marker.read_text() == "cleaned\n"


def test_a_command_deaf_to_the_interrupt_is_killed_after_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(egov.execute, "TIMEOUT_GRACE_SECONDS", 0.3)
    with pytest.raises(CommandFailed) as raised:
        run_command(("sh", "-c", "trap '' INT; exec sleep 30"), timeout_seconds=0.3)
    assert raised.value.returncode == 124


def test_output_input_and_exit_code_are_kept() -> None:
    result = run_command(("sh", "-c", "cat; echo err >&2; exit 3"), input_text="hi", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "hi", "err\n")
    with pytest.raises(CommandFailed) as raised:
        run_command(("sh", "-c", "echo boom >&2; exit 2"))
    assert raised.value.returncode == 2 and "boom" in raised.value.stderr_tail
