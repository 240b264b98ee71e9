"""The drill lock: real lock files and real processes (a live ``sleep``, a reaped ``true``)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from egov.drills import lock
from egov.drills.journal import Journal
from egov.drills.lock import LOCK_NAME, LockInfo, acquire, read_lock, release
from egov.errors import DrillError
from tests.drills.support import get_dead_pid, get_test_key


def write_lock(directory: Path, pid: int, journal: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / LOCK_NAME).write_text(json.dumps({"pid": pid, "journal": str(journal)}))


def write_journal(path: Path, *, finished: bool, closed: bool = True) -> Path:
    journal = Journal.create(path)
    journal.append("start", scenario="t-drill")
    if finished:
        journal.append("end", status="succeeded")
        if closed:
            journal.close(get_test_key())
    return path


@pytest.fixture
def live_pid() -> Iterator[int]:
    process = subprocess.Popen(["sleep", "30"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_acquire_names_this_process_and_release_drops_it(tmp_path: Path) -> None:
    directory = tmp_path / "drills"
    journal = directory / "run" / "journal.jsonl"
    acquire(directory, journal)
    assert read_lock(directory) == LockInfo(pid=os.getpid(), journal=journal)
    release(directory)
    assert read_lock(directory) is None
    release(directory)  # releasing twice is harmless


def test_a_live_holder_refuses_a_second_drill(tmp_path: Path, live_pid: int) -> None:
    directory = tmp_path / "drills"
    holder_journal = write_journal(tmp_path / "holder.jsonl", finished=False)
    write_lock(directory, live_pid, holder_journal)
    with pytest.raises(DrillError, match=f"another drill is running \\(pid {live_pid}") as caught:
        acquire(directory, tmp_path / "new.jsonl")
    assert caught.value.hint == "wait for it to end"
    assert read_lock(directory) == LockInfo(pid=live_pid, journal=holder_journal)


def test_a_live_holder_counts_even_with_a_finished_journal(tmp_path: Path, live_pid: int) -> None:
    directory = tmp_path / "drills"
    write_lock(directory, live_pid, write_journal(tmp_path / "holder.jsonl", finished=True))
    with pytest.raises(DrillError, match="another drill is running"):
        acquire(directory, tmp_path / "new.jsonl")


def test_a_dead_holder_with_an_unfinished_journal_asks_for_recover(tmp_path: Path) -> None:
    directory = tmp_path / "drills"
    holder_journal = write_journal(tmp_path / "holder.jsonl", finished=False)
    write_lock(directory, get_dead_pid(), holder_journal)
    with pytest.raises(DrillError, match="stopped before it finished") as caught:
        acquire(directory, tmp_path / "new.jsonl")
    assert "egov drill recover" in caught.value.hint
    assert read_lock(directory) is not None


def test_a_dead_holder_with_a_finished_journal_is_taken_over(tmp_path: Path) -> None:
    directory = tmp_path / "drills"
    write_lock(directory, get_dead_pid(), write_journal(tmp_path / "old.jsonl", finished=True))
    new_journal = tmp_path / "new.jsonl"
    acquire(directory, new_journal)
    assert read_lock(directory) == LockInfo(pid=os.getpid(), journal=new_journal)


def test_a_dead_holder_whose_journal_is_gone_asks_for_recover(tmp_path: Path) -> None:
    directory = tmp_path / "drills"
    write_lock(directory, get_dead_pid(), tmp_path / "gone.jsonl")
    with pytest.raises(DrillError, match="stopped before it finished"):
        acquire(directory, tmp_path / "new.jsonl")


def test_an_unreadable_lock_is_a_drill_error(tmp_path: Path) -> None:
    directory = tmp_path / "drills"
    directory.mkdir()
    (directory / LOCK_NAME).write_text("{not json")
    with pytest.raises(DrillError, match="the drill lock is unreadable"):
        read_lock(directory)


def test_is_finished_needs_the_closing_entry(tmp_path: Path) -> None:
    assert not lock.is_finished(write_journal(tmp_path / "open.jsonl", finished=False))
    ended = write_journal(tmp_path / "ended.jsonl", finished=True, closed=False)
    assert not lock.is_finished(ended)  # killed between its end and its close
    assert lock.is_finished(write_journal(tmp_path / "done.jsonl", finished=True))


def test_a_lock_that_is_a_fifo_is_a_drill_error_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / LOCK_NAME)
    with pytest.raises(DrillError, match="the drill lock is unreadable"):
        read_lock(tmp_path)
    assert read_lock(tmp_path / "nowhere") is None
