"""The one way egov writes a file the user named: a clear exit-2 error instead of an OSError.

``inventory schema FILE``, ``backup plan --svg FILE`` and ``drill report --output-file FILE``
all write where they are told. A missing or unwritable directory, or a path that is a
directory, is bad input: it is reported with the path and a fix, and nothing is written.
The open is non-blocking so that a FIFO with no reader fails at once instead of hanging.
"""

from __future__ import annotations

import os
from pathlib import Path

from egov.errors import InputError


def write_output_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, replacing it; raise InputError when it cannot be."""
    parent = path.parent
    if not parent.is_dir():
        what = "does not exist" if not parent.exists() else "is not a directory"
        raise InputError(
            f"{path}: cannot write: the directory {parent} {what}",
            f"create {parent} first, or give a path in an existing directory",
        )
    if path.is_dir():
        raise InputError(f"{path}: cannot write: is a directory", "give a file name")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError as error:
        raise InputError(
            f"{path}: cannot write: {error.strerror}", "give a path in a writable directory"
        ) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise InputError(f"{path}: cannot write: {error.strerror}", "free some space") from None
