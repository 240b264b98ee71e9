"""A good signed journal, and the ways a sceptic would rewrite it: each case with the line the
check must name and the words it must say. Shared by the verification and the CLI tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from egov.drills.journal import GENESIS, Journal, hash_entry, make_closing_message
from egov.drills.signing import SigningKey

Entries = list[dict[str, Any]]
STEPS = ("copy-the-database", "restore-the-files", "services-answer-at-recovery-site")


def write_signed_journal(path: Path, key: SigningKey) -> Entries:
    """A short, closed drill journal (start, three steps, end, close): 6 lines."""
    journal = Journal.create(path)
    written = [
        journal.append(
            "start",
            estate="camau-lab",
            scenario="t-drill",
            scenario_title="A test drill",
            mode="test",
            operator="tester",
            reason="audit",
            measured=False,
            targets={},
        )
    ]
    written += [
        journal.append("step", group="g", name=name, kind="action", description="")
        for name in STEPS
    ]
    written.append(journal.append("end", status="succeeded"))
    written.append(journal.close(key))
    return written


def read_entries(path: Path) -> Entries:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_entries(path: Path, entries: Entries) -> None:
    path.write_text(
        "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries), encoding="utf-8"
    )


def rehash(entries: Entries, *, renumber: bool = False) -> Entries:
    """What a forger does after an edit: number, chain and hash every entry again, and point
    the closing entry at the new last hash (its signature cannot be made again)."""
    previous = GENESIS
    for index, entry in enumerate(entries):
        if renumber:
            entry["seq"] = index
        if entry["event"] == "close":
            entry["entries"] = index
            entry["last_hash"] = previous
        entry["prev"] = previous
        entry["hash"] = hash_entry(entry)
        previous = entry["hash"]
    return entries


def sign_with(entries: Entries, private_key: Ed25519PrivateKey, claimed: str | None) -> Entries:
    """Sign the closing entry again with ``private_key``, claiming ``claimed`` as its key
    (None: its own, honest fingerprint)."""
    other = SigningKey(private_key=private_key, path=Path("/nowhere"))
    closing = entries[-1]
    closing["key"] = claimed or other.fingerprint
    message = make_closing_message(closing["entries"], closing["last_hash"], closing["key"])
    closing["signature"] = other.sign(message)
    closing["hash"] = hash_entry(closing)
    return entries


def _edit_and_rehash(entries: Entries) -> Entries:
    entries[2]["name"] = "a-step-that-never-ran"
    return rehash(entries)


def _remove_and_rehash(entries: Entries) -> Entries:
    del entries[2]
    return rehash(entries, renumber=True)


def _cut_the_tail(entries: Entries) -> Entries:
    return entries[:3]


def _remove_a_line(entries: Entries) -> Entries:
    del entries[2]
    return entries


def _remove_the_close(entries: Entries) -> Entries:
    return entries[:-1]


def _cut_and_close_again(entries: Entries) -> Entries:
    return rehash(entries[:3] + entries[-1:], renumber=True)


def _sign_with_another_key(entries: Entries) -> Entries:
    return sign_with(entries, Ed25519PrivateKey.generate(), None)


def _sign_with_another_key_claiming_ours(entries: Entries) -> Entries:
    return sign_with(entries, Ed25519PrivateKey.generate(), entries[-1]["key"])


def _append_after_the_close(entries: Entries) -> Entries:
    extra = {**entries[-1], "seq": len(entries), "event": "note", "text": "added later"}
    return rehash([*entries, extra])


@dataclass(frozen=True)
class Tampering:
    """One way to rewrite the journal, and what the check must say about it."""

    name: str
    change: Callable[[Entries], Entries] | None  # on the parsed entries
    raw: Callable[[str], str] | None  # on the text, for what no JSON can say
    line: int
    words: str


CASES = (
    Tampering("rehashed-after-an-edit", _edit_and_rehash, None, 6, "signature does not match"),
    Tampering("line-removed-and-rehashed", _remove_and_rehash, None, 5, "signature does not"),
    Tampering("tail-cut", _cut_the_tail, None, 3, "without its closing entry"),
    Tampering("tail-cut-and-closed-again", _cut_and_close_again, None, 4, "signature does not"),
    Tampering("line-removed", _remove_a_line, None, 3, "chain is broken"),
    Tampering("closing-entry-removed", _remove_the_close, None, 5, "without its closing entry"),
    Tampering("signed-with-another-key", _sign_with_another_key, None, 6, "another key"),
    Tampering(
        "another-key-claiming-ours", _sign_with_another_key_claiming_ours, None, 6, "signature"
    ),
    Tampering("appended-after-the-close", _append_after_the_close, None, 7, "after the closing"),
    Tampering(
        "garbled-middle-line",
        None,
        lambda text: text.replace('"name": "restore-the-files"', '"name": "restore-the-f'),
        3,
        "not a JSON journal entry",
    ),
    Tampering(
        "garbled-last-line",
        None,
        lambda text: text[: text.rindex('"signature"')] + "\n",
        6,
        "not a JSON journal entry",
    ),
    Tampering(
        "torn-last-line",
        None,
        lambda text: text[: text.rindex('"signature"')],
        6,
        "cut short mid-write",
    ),
)


def apply(case: Tampering, path: Path) -> None:
    """Rewrite the journal at ``path`` as ``case`` says."""
    if case.change is not None:
        write_entries(path, case.change(read_entries(path)))
    if case.raw is not None:
        path.write_text(case.raw(path.read_text(encoding="utf-8")), encoding="utf-8")
