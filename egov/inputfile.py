"""The one way egov reads a file it was given: a regular file, under a size cap, never blocking.

Every input named on the command line or in the environment (inventory, scenario, journal,
targets, assumptions, agent and canary configuration) comes through here. A FIFO would block
``open()`` forever, ``/dev/zero`` would be read until memory runs out, a directory or a socket
gives an ``OSError`` deep inside a parser: so the type is checked with ``stat`` before opening,
the open itself is non-blocking (the path could be swapped between the two), the type is
checked again on the open descriptor, and no more than the cap is ever read.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from egov.errors import InputError

MEBIBYTE = 1024 * 1024
YAML_MAX_BYTES = 2 * MEBIBYTE
JSON_MAX_BYTES = 4 * MEBIBYTE
JOURNAL_MAX_BYTES = 64 * MEBIBYTE

_READ_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class InputLimit:
    """What a kind of input is called in messages, and the most bytes it may have."""

    kind: str
    max_bytes: int


YAML_INPUT = InputLimit("YAML file", YAML_MAX_BYTES)
JSON_INPUT = InputLimit("JSON file", JSON_MAX_BYTES)
JOURNAL_INPUT = InputLimit("drill journal", JOURNAL_MAX_BYTES)


class UnreadableInput(InputError):
    """An input file cannot be read: missing, not a regular file, too large or unreadable.

    ``reason`` and ``fix`` are the bare words, so that a caller that positions its messages
    (``file:1:1: …``) can place them; the message itself is ``path: reason``.
    """

    def __init__(self, path: Path, reason: str, fix: str) -> None:
        super().__init__(f"{path}: {reason}", fix)
        self.path = path
        self.reason = reason
        self.fix = fix


class MissingInput(UnreadableInput):
    """The input file does not exist (some callers take that as "none yet")."""


def read_input_bytes(path: Path, limit: InputLimit) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit.max_bytes`` of them.

    Raise UnreadableInput (exit 2) for a missing file, a directory, a FIFO, a device, a
    socket, a file over the cap, or any OSError; never block and never read past the cap.
    """
    try:
        found = path.stat()
    except FileNotFoundError:
        raise MissingInput(path, "no such file", "check the path") from None
    except OSError as error:
        raise UnreadableInput(path, f"cannot read: {error.strerror}", "check the path") from None
    _check_kind(path, found, limit)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise UnreadableInput(
            path, f"cannot read: {error.strerror}", _permission_fix(error)
        ) from None
    try:
        _check_kind(path, os.fstat(descriptor), limit)  # swapped since the stat: check again
        return _read_capped(path, descriptor, limit)
    finally:
        os.close(descriptor)


def read_input_text(path: Path, limit: InputLimit) -> str:
    """``read_input_bytes`` decoded as UTF-8; refuses other encodings with the line."""
    raw = read_input_bytes(path, limit)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise UnreadableInput(
            path,
            f"line {line}: not valid UTF-8 (byte 0x{raw[error.start]:02x})",
            f"is this the right file? a {limit.kind} is UTF-8 text",
        ) from None


def _check_kind(path: Path, found: os.stat_result, limit: InputLimit) -> None:
    if not stat.S_ISREG(found.st_mode):
        kind = _describe_kind(found.st_mode)
        fix = "name the file itself" if kind == "a directory" else f"give a {limit.kind}"
        raise UnreadableInput(path, f"is {kind}, not a regular file", fix)
    if found.st_size > limit.max_bytes:
        raise UnreadableInput(path, _too_large(found.st_size, limit), "is this the right file?")


def _read_capped(path: Path, descriptor: int, limit: InputLimit) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        try:
            chunk = os.read(descriptor, _READ_CHUNK_BYTES)
        except OSError as error:
            raise UnreadableInput(path, f"cannot read: {error.strerror}", "") from None
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit.max_bytes:  # grew since the stat (a log being written?)
            raise UnreadableInput(path, _too_large(total, limit), "is this the right file?")
        chunks.append(chunk)


def _too_large(size: int, limit: InputLimit) -> str:
    return (
        f"is larger than {limit.max_bytes // MEBIBYTE} MiB ({size / MEBIBYTE:.1f} MiB or more), "
        f"the most a {limit.kind} may be"
    )


def _describe_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _permission_fix(error: OSError) -> str:
    if error.errno in (errno.EACCES, errno.EPERM):
        return "make the file readable by this user"
    return "check the path"
