"""The drill journal: an append-only JSON Lines file whose entries form a hash chain.

Every entry carries the SHA-256 of the previous one and its own hash over its canonical JSON,
so an edited, removed or reordered line shows up when the chain is checked. Each append is
flushed and fsynced: a runner killed outright leaves every entry it wrote, which is what
``egov drill recover`` reads to finish the rollbacks.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from egov.inputfile import JOURNAL_INPUT, UnreadableInput, read_input_bytes

GENESIS = "0" * 64
JOURNAL_NAME = "journal.jsonl"


class JournalError(Exception):
    """The journal cannot be read or its chain is broken (the message says where)."""


def hash_entry(entry: dict[str, Any]) -> str:
    """The SHA-256 of ``entry`` without its own ``hash`` key, over canonical JSON."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def format_time(seconds: float) -> str:
    """UTC RFC 3339 with milliseconds: ``2026-11-27T08:00:00.123Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Journal:
    """Appends chained entries to ``path`` (created; never rewritten)."""

    path: Path
    last_hash: str = GENESIS
    next_seq: int = 0
    started_monotonic: float = 0.0
    # a parallel group's steps append from several threads: each entry must chain to the last
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def create(cls, path: Path) -> Journal:
        """A new, empty journal at ``path`` (refused if one is there already)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.close(descriptor)
        return cls(path=path, started_monotonic=time.monotonic())

    @classmethod
    def resume(cls, path: Path) -> Journal:
        """Continue an existing journal (``egov drill recover``) after checking its chain."""
        _cut_torn_line(path)
        entries = read_journal(path)
        journal = cls(path=path, started_monotonic=time.monotonic())
        if entries:
            journal.last_hash = entries[-1]["hash"]
            journal.next_seq = entries[-1]["seq"] + 1
            journal.started_monotonic -= float(entries[-1].get("t", 0.0))
        return journal

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one entry and make it durable before returning it."""
        with self._lock:
            now = time.time()
            entry: dict[str, Any] = {
                "seq": self.next_seq,
                "at": format_time(now),
                "epoch": round(now, 3),
                "t": round(time.monotonic() - self.started_monotonic, 3),
                "event": event,
                **fields,
                "prev": self.last_hash,
            }
            entry["hash"] = hash_entry(entry)
            line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
            with self.path.open("a", encoding="utf-8") as stream:
                stream.write(line)
                stream.flush()
                os.fsync(stream.fileno())
            self.last_hash = entry["hash"]
            self.next_seq += 1
            return entry


def _cut_torn_line(path: Path) -> None:
    """Drop a last line without its newline (the runner was killed mid-write).

    ``read_journal`` skips it, but the next entry appended would land on the same line, and
    the merged line would no longer parse.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return  # read_journal reports it
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as stream:
            stream.truncate(data.rfind(b"\n") + 1)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every entry of the journal at ``path``, after checking the whole chain.

    A torn last line (the runner killed mid-write) is dropped; anything else that does not
    chain raises JournalError naming the line.
    """
    try:
        lines = read_input_bytes(path, JOURNAL_INPUT).decode("utf-8").splitlines()
    except UnreadableInput as error:  # missing, not a regular file (a FIFO would block), huge
        raise JournalError(f"{path}: {error.reason}") from None
    except UnicodeDecodeError:
        raise JournalError(f"{path}: not a drill journal (not UTF-8 text)") from None
    entries: list[dict[str, Any]] = []
    previous = GENESIS
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            if number == len(lines):
                break  # the last write was cut short: everything before it stands
            raise JournalError(f"{path}:{number}: not a JSON journal entry") from None
        if not isinstance(entry, dict) or "hash" not in entry or "prev" not in entry:
            raise JournalError(f"{path}:{number}: not a drill journal entry")
        if entry["prev"] != previous:
            raise JournalError(
                f"{path}:{number}: the chain is broken here (an entry before it was changed, "
                "removed or reordered)"
            )
        if hash_entry(entry) != entry["hash"]:
            raise JournalError(f"{path}:{number}: this entry was changed after it was written")
        previous = entry["hash"]
        entries.append(entry)
    return entries
