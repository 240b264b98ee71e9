"""The one place egov runs local processes (restic, pip, nft, systemd-nspawn, …).

Callers build argv tuples (pure, tested without binaries) and hand them here. A failure becomes
``CommandFailed`` with the tail of stderr; secrets travel in the environment or on stdin, never
in argv, so the argv in the error is safe to show.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from egov.errors import CommandFailed

STDERR_TAIL_CHARS = 2000


def run_command(
    argv: Sequence[str],
    *,
    input_text: str | None = None,
    check: bool = True,
    timeout_seconds: float | None = None,
    environment: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    capture: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion, capturing its output (unless ``capture`` is false: then
    it goes to our own stdout and stderr as it comes).

    Raise CommandFailed when it exits non-zero (and ``check``), cannot start, or outlives
    ``timeout_seconds``.
    """
    try:
        result = subprocess.run(
            list(argv),
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            capture_output=capture,
            text=True,
            errors="replace",
            timeout=timeout_seconds,
            env=dict(environment) if environment is not None else None,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as error:
        raise CommandFailed(argv, 127, str(error)) from None
    except subprocess.TimeoutExpired:
        raise CommandFailed(argv, 124, f"timed out after {timeout_seconds} s") from None
    if check and result.returncode != 0:
        raise CommandFailed(argv, result.returncode, (result.stderr or "")[-STDERR_TAIL_CHARS:])
    return result
