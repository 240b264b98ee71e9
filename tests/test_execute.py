"""egov.execute: real processes, real signals."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

import egov.execute
from egov.errors import CommandFailed
from egov.execute import StartedCommand, run_command, run_pipeline


def test_a_command_that_times_out_is_interrupted_first(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    script = f"sleep 30 & trap 'kill $!; echo cleaned > {marker}; exit 130' INT; wait"
    with pytest.raises(CommandFailed) as raised:
        run_command(("sh", "-c", script), timeout_seconds=0.5)
    assert raised.value.returncode == 124
    assert marker.read_text() == "cleaned\n"


def test_a_timeout_says_what_the_command_said_last() -> None:
    """A stalled restic says why (a server answering 500, a lock): the timeout keeps it."""
    script = "echo 'Load(<lock/1>) returned error, retrying after 720ms' >&2; exec sleep 30"
    with pytest.raises(CommandFailed) as raised:
        run_command(("sh", "-c", script), timeout_seconds=0.5)
    assert raised.value.stderr_tail.startswith("timed out after 0.5 s; its last words:\n")
    assert "retrying after 720ms" in raised.value.stderr_tail
    started = StartedCommand(("sh", "-c", script))
    with pytest.raises(CommandFailed) as finished:
        started.finish("", timeout_seconds=0.5)
    assert "retrying after 720ms" in finished.value.stderr_tail


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


def _unstartable(tmp_path: Path) -> list[tuple[tuple[str, ...], int]]:
    """A program that does not exist (127) and one that exists but cannot run (126)."""
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    return [((str(tmp_path / "missing"),), 127), ((str(script),), 126)]


def test_a_program_that_cannot_start_fails_with_the_shells_codes(tmp_path: Path) -> None:
    for argv, code in _unstartable(tmp_path):
        with pytest.raises(CommandFailed) as raised:
            run_command(argv)
        assert raised.value.returncode == code
        with pytest.raises(CommandFailed) as raised:
            StartedCommand(argv)
        assert raised.value.returncode == code


def _children() -> set[int]:
    """The PIDs of this process's children, zombies included (a child not reaped)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            children.add(int(stat.parent.name))
    return children


def test_a_pipeline_whose_consumer_cannot_start_leaves_no_producer_behind(
    tmp_path: Path,
) -> None:
    before = _children()
    for consumer, code in _unstartable(tmp_path):
        with pytest.raises(CommandFailed) as raised:
            run_pipeline(("sleep", "30"), consumer)
        assert raised.value.returncode == code and raised.value.argv == consumer
        assert _children() == before  # the producer was killed and reaped
    with pytest.raises(CommandFailed) as raised:
        run_pipeline(_unstartable(tmp_path)[0][0], ("cat",))
    assert raised.value.returncode == 127


def test_a_started_command_reads_its_input_when_finished_and_nothing_when_cancelled() -> None:
    started = StartedCommand(("sh", "-c", "cat; exit 4"))
    result = started.finish("manifest")
    assert (result.returncode, result.stdout) == (4, "manifest")
    cancelled = StartedCommand(("sh", "-c", "read line; echo got $line"))
    assert cancelled.cancel().stdout == ""  # interrupted before any input: never an empty one


def test_a_started_command_can_be_fed_before_it_is_finished() -> None:
    started = StartedCommand(("sh", "-c", "cat; exit 0"))
    assert started.feed("mani")
    assert started.finish("fest").stdout == "manifest"
    gone = StartedCommand(("true",))
    deadline = time.monotonic() + 10
    while not gone.exited and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not gone.feed("x" * 100_000)  # its stdin is a broken pipe: said, not raised
    assert gone.cancel().returncode == 0


def test_a_failing_producer_never_gives_the_consumer_an_end_of_input(tmp_path: Path) -> None:
    """restic --stdin stores what it read at end-of-input: a cut dump must interrupt it."""
    marker = tmp_path / "committed"
    consumer = (
        sys.executable,
        "-c",
        f"import sys, pathlib; sys.stdin.buffer.read(); pathlib.Path({str(marker)!r}).touch()",
    )
    source, sink = run_pipeline(("sh", "-c", "echo part of a dump; sleep 0.5; exit 3"), consumer)
    assert source.returncode == 3
    assert sink.returncode != 0 and not marker.exists()  # interrupted, nothing committed
    source, sink = run_pipeline(("sh", "-c", "echo a whole dump"), consumer)
    assert (source.returncode, sink.returncode) == (0, 0) and marker.exists()
