"""What a restic exit means: its code first, restic 0.14's stderr phrases for code 1.

restic 0.14 (Debian 12) says nearly everything with exit code 1, and the codes 10/11/12
arrive only with 0.17, so the stderr text is classified as a fallback. The caller decides
from the outcome whether to retry (network, lock), stop (password, credentials, damage) or
report (anything else).
"""

from __future__ import annotations

import re
from enum import StrEnum


class Outcome(StrEnum):
    """What a restic exit means for the caller."""

    OK = "ok"
    PARTIAL = "partial"  # 3: snapshot created but some source files unreadable
    MISSING = "missing"  # no repository at that location
    LOCKED = "locked"  # another process holds a lock
    WRONG_PASSWORD = "wrong-password"  # noqa: S105 (a state, not a password)
    UNAUTHORIZED = "unauthorized"  # the server refused the credentials (HTTP 401/403)
    NETWORK = "network"  # unreachable, reset, timed out: worth retrying
    CORRUPTED = "corrupted"  # stored data fails its MAC or hash: a damaged pack
    SERVER_ERROR = "server-error"  # the repository's server could not store (HTTP 5xx, full)
    CANCELLED = "cancelled"
    FAILED = "failed"


_EXIT_CODES = {0: Outcome.OK, 3: Outcome.PARTIAL, 10: Outcome.MISSING, 11: Outcome.LOCKED}
_EXIT_CODES |= {12: Outcome.WRONG_PASSWORD, 130: Outcome.CANCELLED}

# restic 0.14 says everything with exit code 1; these phrases of its stderr tell them apart.
_MISSING = re.compile(
    r"does not exist|no such file or directory|NoSuchBucket|NoSuchKey|specified key does not",
    re.IGNORECASE,
)
_WRONG_PASSWORD = re.compile(r"wrong password or no key found", re.IGNORECASE)
# restic's words for stored data that does not match its MAC or hash (0.14 to 0.19)
_CORRUPTED = re.compile(
    r"ciphertext verification failed|invalid data returned|ID does not match", re.IGNORECASE
)
_UNAUTHORIZED = re.compile(r"\b(401|403)\b|Unauthorized|AccessDenied|Forbidden", re.IGNORECASE)
_LOCKED = re.compile(r"unable to create lock|repository is already locked|lock.*held", re.I)
# restic has retried for about a minute by the time it says this: not worth retrying again
_SERVER_ERROR = re.compile(
    r"server response unexpected: 5\d\d|no space left on device|Insufficient Storage|"
    r"XMinioStorageFull",
    re.IGNORECASE,
)
_NETWORK = re.compile(
    r"connection refused|connection reset|no route to host|network is unreachable|"
    r"i/o timeout|timeout|no such host|broken pipe|EOF|unexpected HTTP response \(5\d\d\)|"
    r"server misbehaving|TLS handshake",
    re.IGNORECASE,
)


def classify_failure(returncode: int, stderr: str) -> Outcome:
    """The outcome of a restic exit: its code first, the 0.14 stderr phrases for code 1.

    Unknown codes are failures (restic's docs: scripts must not guess). Order matters: a
    wrong password says nothing of the network, damaged data is named before anything else
    it drags along (a restore that fails on a bad blob then cannot set the times of the
    file it never wrote: "no such file or directory"), and "does not exist" is checked
    before the generic network phrases because restic appends "Is there a repository…" to
    both.
    """
    known = _EXIT_CODES.get(returncode)
    if known is not None:
        return known
    if returncode != 1:
        return Outcome.FAILED
    for pattern, outcome in (
        (_WRONG_PASSWORD, Outcome.WRONG_PASSWORD),
        (_CORRUPTED, Outcome.CORRUPTED),
        (_UNAUTHORIZED, Outcome.UNAUTHORIZED),
        (_SERVER_ERROR, Outcome.SERVER_ERROR),
        (_LOCKED, Outcome.LOCKED),
        (_NETWORK, Outcome.NETWORK),
        (_MISSING, Outcome.MISSING),
    ):
        if pattern.search(stderr):
            return outcome
    return Outcome.FAILED


_GO_FRAME = re.compile(r"^(\t.*|[\w.*()/-]+\.[\w.*()/-]+)$")


def strip_stack_traces(stderr: str) -> str:
    """``stderr`` without the Go stack frames restic 0.14 prints after a fatal error
    (``github.com/restic/…(*Backend).Save`` and the tab-indented file:line under it): the
    tail shown to an operator should be restic's words, not its call stack."""
    return "\n".join(line for line in stderr.splitlines() if not _GO_FRAME.match(line))


#: a terminal's control sequences (restic clears its status line, ``ESC[2K``, before a
#: message even into a pipe) and carriage returns: journald stores a line holding one as
#: "[48B blob data]", so an operator reading the journal would not see the line
_TERMINAL_CODE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def strip_terminal_codes(stderr: str) -> str:
    """``stderr`` without terminal control sequences, as plain text for a message."""
    return _TERMINAL_CODE.sub("", stderr)
