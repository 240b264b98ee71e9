"""One drill at a time per estate, and none after a runner died until it is recovered.

The lock is a small JSON file created exclusively in the estate's drill directory, naming
the runner's PID and its journal. A lock whose runner is gone and whose journal is not closed
means a drill was killed halfway: its rollbacks have not run, so nothing new may start
until ``egov drill recover`` has finished them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from egov.drills.journal import JournalError, is_closed, read_journal
from egov.errors import DrillError
from egov.inputfile import JSON_INPUT, MissingInput, UnreadableInput, read_input_bytes

LOCK_NAME = "lock"


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock."""

    pid: int
    journal: Path

    def is_alive(self) -> bool:
        """Whether the runner's process still exists."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def read_lock(directory: Path) -> LockInfo | None:
    """The lock of the drill directory, or None when no drill holds it."""
    try:
        data = json.loads(read_input_bytes(directory / LOCK_NAME, JSON_INPUT))
        return LockInfo(pid=int(data["pid"]), journal=Path(data["journal"]))
    except MissingInput:
        return None
    except (UnreadableInput, ValueError, KeyError, TypeError, RecursionError):
        raise DrillError(
            f"{directory / LOCK_NAME}: the drill lock is unreadable",
            "look at the latest journal with `egov drill history`, then remove the lock by hand",
        ) from None


def is_finished(journal: Path) -> bool:
    """Whether the journal has its closing entry (its end, then its signed close)."""
    try:
        entries = read_journal(journal, torn_tail_ok=True)
    except JournalError:
        return False
    return is_closed(entries)


def acquire(directory: Path, journal: Path) -> None:
    """Take the lock for a new drill writing ``journal``; DrillError if it cannot start."""
    directory.mkdir(parents=True, exist_ok=True)
    holder = read_lock(directory)
    if holder is not None:
        if holder.is_alive() and holder.pid != os.getpid():
            raise DrillError(
                f"another drill is running (pid {holder.pid}, journal {holder.journal})",
                "wait for it to end",
            )
        if not is_finished(holder.journal):
            raise DrillError(
                f"the drill of {holder.journal} was stopped before it finished: its rollbacks "
                "may not have run",
                "run `egov drill recover` first",
            )
        release(directory)
    body = json.dumps({"pid": os.getpid(), "journal": str(journal)})
    try:
        descriptor = os.open(directory / LOCK_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    except FileExistsError:
        raise DrillError("another drill took the lock just now", "wait for it to end") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(body)


def release(directory: Path) -> None:
    """Drop the lock (the drill's journal has its end, or recover finished it)."""
    (directory / LOCK_NAME).unlink(missing_ok=True)
