"""The drill journal: an append-only JSON Lines file whose entries form a hash chain.

Every entry carries the SHA-256 of the previous one and its own hash over its canonical JSON,
so an edited, removed or reordered line shows up when the chain is checked. Each append is
flushed and fsynced: a runner killed outright leaves every entry it wrote, which is what
``egov drill recover`` reads to finish the rollbacks.

A chain alone can be recomputed by whoever edits it, and a cut tail leaves a good chain. So
every run ends with a closing entry signed by the estate's key (``signing.py``)::

    {"event": "close", "entries": 41, "last_hash": "<hash of entry 40>",
     "key": "SHA256:…", "signature": "<base64 ed25519>", "seq": 41, "prev": …, "hash": …}

signing ``make_closing_message(entries, last_hash, key)``. A journal without it is a run
still going or killed (``egov drill recover`` finishes and closes it), or a cut one;
``verification.py`` tells which line fails.
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
from typing import TYPE_CHECKING, Any

# re-exported: the drill modules and their tests catch it from here
from egov.errors import JournalError as JournalError  # noqa: PLC0414
from egov.errors import JournalUnreadable

if TYPE_CHECKING:
    from egov.drills.signing import SigningKey

from egov.inputfile import JOURNAL_INPUT, UnreadableInput, read_input_bytes

GENESIS = "0" * 64
JOURNAL_NAME = "journal.jsonl"
END_EVENT = "end"
CLOSE_EVENT = "close"
CLOSING_MESSAGE_VERSION = "egov-drill-journal-close-v1"


def hash_entry(entry: dict[str, Any]) -> str:
    """The SHA-256 of ``entry`` without its own ``hash`` key, over canonical JSON."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_closing_message(entries: int, last_hash: str, key: str) -> bytes:
    """What the closing entry signs: the count of entries before it, the last one's hash and
    the key's fingerprint (the hash covers, through the chain, every entry).

    >>> make_closing_message(2, "ab", "SHA256:x")
    b'egov-drill-journal-close-v1\\n2\\nab\\nSHA256:x\\n'
    """
    return f"{CLOSING_MESSAGE_VERSION}\n{entries}\n{last_hash}\n{key}\n".encode()


def is_closed(entries: list[dict[str, Any]]) -> bool:
    """Whether the run's journal has its closing entry (it may be checked, not trusted yet)."""
    return bool(entries) and entries[-1].get("event") == CLOSE_EVENT


def has_ended(entries: list[dict[str, Any]]) -> bool:
    """Whether the run wrote its end (closed or, killed just after, not yet)."""
    return any(entry.get("event") == END_EVENT for entry in entries[-2:])


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
    closed: bool = False
    #: the text of a torn last line that ``resume`` cut off ("" when none), for recover's note
    cut_text: str = ""
    # a parallel group's steps append from several threads: each entry must chain to the last
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

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
        cut_text = _cut_torn_line(path)
        entries = read_journal(path)
        if is_closed(entries):
            raise JournalError(f"{path}:{len(entries)}: the journal is closed already")
        journal = cls(path=path, started_monotonic=time.monotonic(), cut_text=cut_text)
        if entries:
            journal.last_hash = entries[-1]["hash"]
            journal.next_seq = entries[-1]["seq"] + 1
            journal.started_monotonic -= float(entries[-1].get("t", 0.0))
        return journal

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one entry and make it durable before returning it (JournalError once closed)."""
        with self._lock:
            if self.closed:
                raise JournalError(f"{self.path}: the journal is closed: nothing may follow")
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

    def close(self, key: SigningKey) -> dict[str, Any]:
        """Append the signed closing entry; nothing may be appended after it."""
        with self._lock:  # re-entrant: what is signed is what the close chains to
            entries, last_hash = self.next_seq, self.last_hash
            closing = self.append(
                CLOSE_EVENT,
                entries=entries,
                last_hash=last_hash,
                key=key.fingerprint,
                signature=key.sign(make_closing_message(entries, last_hash, key.fingerprint)),
            )
            self.closed = True
            return closing


def _cut_torn_line(path: Path) -> str:
    """Cut a last line without its newline (the runner was killed mid-write); return its text.

    The next entry appended would otherwise land on the same line, and the merged line would
    no longer parse. The caller journals what was cut: nothing is dropped unsaid.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return ""  # read_journal reports it
    if not data or data.endswith(b"\n"):
        return ""
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as stream:
        stream.truncate(keep)
    return data[keep:].decode("utf-8", errors="replace")


def read_journal(path: Path, *, torn_tail_ok: bool = False) -> list[dict[str, Any]]:
    """Every entry of the journal at ``path``, after checking the whole chain.

    Raise JournalUnreadable (exit 2) when the file is no drill journal at all, JournalError
    (exit 1) naming the line when a line is not an entry, does not chain, is numbered out of
    turn, or follows the closing entry. A last line without its newline (the runner killed
    mid-write) is refused too, unless ``torn_tail_ok`` (``egov drill recover`` and the lock,
    which read a run that stopped): then it is left out of the entries.
    """
    try:
        text = read_input_bytes(path, JOURNAL_INPUT).decode("utf-8")
    except UnreadableInput as error:  # missing, not a regular file (a FIFO would block), huge
        raise JournalUnreadable(
            f"{path}: cannot read the journal: {error.reason}", "give a drill's journal.jsonl"
        ) from None
    except UnicodeDecodeError:
        raise JournalUnreadable(
            f"{path}: not a drill journal (not UTF-8 text)", "give a drill's journal.jsonl"
        ) from None
    lines = text.splitlines()
    torn = bool(text) and not text.endswith("\n")
    entries: list[dict[str, Any]] = []
    previous = GENESIS
    for number, line in enumerate(lines, start=1):
        if torn and number == len(lines):
            if torn_tail_ok:
                break
            raise JournalError(
                f"{path}:{number}: the last line was cut short mid-write (the runner was "
                "killed, or the file was cut)",
                "if the run was killed, `egov drill recover` finishes and closes it",
            )
        try:
            entry = json.loads(line)
            problem = "not a drill journal entry"
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            entry, problem = None, "not a JSON journal entry (garbled)"
        if not isinstance(entry, dict) or "hash" not in entry or "prev" not in entry:
            if number == 1:  # nothing in it is a journal: the wrong file was given
                raise JournalUnreadable(f"{path}:1: {problem}", "give a drill's journal.jsonl")
            raise JournalError(f"{path}:{number}: {problem}")
        if entries and entries[-1].get("event") == CLOSE_EVENT:
            raise JournalError(f"{path}:{number}: an entry after the closing entry (appended)")
        if entry["prev"] != previous:
            raise JournalError(
                f"{path}:{number}: the chain is broken here (an entry before it was changed, "
                "removed or reordered)"
            )
        if hash_entry(entry) != entry["hash"]:
            raise JournalError(f"{path}:{number}: this entry was changed after it was written")
        if entry.get("seq") != number - 1:
            raise JournalError(
                f"{path}:{number}: entry number {entry.get('seq')} where {number - 1} was due "
                "(an entry was removed or added, and the chain hashed again)"
            )
        previous = entry["hash"]
        entries.append(entry)
    return entries
