"""``egov drill verify``: does a journal hold as evidence — chain, closure and signature?

``read_journal`` checks the chain line by line; ``check_closure`` is the pure verdict on what
it read: the last entry must be the closing entry, count every entry before it, name the last
one's hash, and carry a signature by the estate's key over both. A journal re-hashed after an
edit, cut short (with or without a forged close), or signed by another key fails here, and
the message names the line at fault as ``file:line``.

Exit codes (errors.py): 1 when the journal fails (JournalError: the evidence does not hold),
2 when the file is no drill journal at all (JournalUnreadable) or no key can be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from egov.drills.journal import (
    GENESIS,
    JournalError,
    is_closed,
    make_closing_message,
    read_journal,
)
from egov.drills.signing import check_signature, make_fingerprint

UNFINISHED_HINT = (
    "a run still going has no closing entry yet; a killed one is finished and closed by "
    "`egov drill recover`; otherwise the journal was cut: compare its closing hash with the "
    "drill record on both monitoring hosts"
)


@dataclass(frozen=True)
class Closure:
    """What a verified journal proves: its entries, closing hash and signing key."""

    entries: int  # lines, the closing entry included
    closing_hash: str  # the hash of the closing entry, as published to the monitoring hosts
    key: str  # the fingerprint of the key that signed it
    status: str  # how the run ended (the end entry's status)


def check_closure(
    entries: list[dict[str, Any]], public_key: Ed25519PublicKey, source: str
) -> Closure:
    """The closure of chain-checked ``entries`` read from ``source``, checked against the
    estate's ``public_key``; JournalError naming ``source:line`` when it does not hold."""
    if not entries:
        raise JournalError(
            f"{source}:1: the journal is empty: no entry, no closing entry", UNFINISHED_HINT
        )
    last_line = len(entries)
    if not is_closed(entries):
        raise JournalError(
            f"{source}:{last_line}: the journal ends here without its closing entry "
            "(an unfinished run, or its tail was cut)",
            UNFINISHED_HINT,
        )
    closing = entries[-1]
    counted = closing.get("entries")
    if counted != last_line - 1:
        raise JournalError(
            f"{source}:{last_line}: the closing entry counts {counted} entries before it, "
            f"the journal has {last_line - 1} (lines were removed or added)"
        )
    if closing.get("last_hash") != (entries[-2]["hash"] if last_line > 1 else GENESIS):
        raise JournalError(
            f"{source}:{last_line}: the closing entry names another last hash than line "
            f"{last_line - 1}'s"
        )
    trusted = make_fingerprint(public_key)
    if closing.get("key") != trusted:
        raise JournalError(
            f"{source}:{last_line}: signed with another key ({closing.get('key')}), not the "
            f"estate's ({trusted})",
            "verify with the estate's public key (--public-key), or the journal is forged",
        )
    message = make_closing_message(last_line - 1, str(closing.get("last_hash")), trusted)
    if not check_signature(public_key, message, str(closing.get("signature", ""))):
        raise JournalError(
            f"{source}:{last_line}: the signature does not match the entries: the journal "
            "was changed and hashed again after it was closed"
        )
    ends = [entry for entry in entries if entry.get("event") == "end"]
    return Closure(
        entries=last_line,
        closing_hash=str(closing["hash"]),
        key=trusted,
        status=str(ends[-1].get("status", "")) if ends else "",
    )


def verify_journal(
    path: Path, public_key: Ed25519PublicKey
) -> tuple[list[dict[str, Any]], Closure]:
    """The entries of the journal at ``path`` and its closure, once chain, closure and
    signature hold; JournalError (exit 1) or JournalUnreadable (exit 2) naming the line."""
    entries = read_journal(path)
    return entries, check_closure(entries, public_key, str(path))
