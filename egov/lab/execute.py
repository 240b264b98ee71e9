"""The one module of the lab that runs processes.

Everything else builds argv tuples (pure, tested without root) and hands them here. Failures
become ``CommandFailed`` with the tail of stderr; nothing is printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from egov.errors import CommandFailed

STDERR_TAIL_CHARS = 2000


def run(
    argv: Sequence[str],
    *,
    input_text: str | None = None,
    check: bool = True,
    timeout_seconds: float | None = None,
    capture: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion and return its result.

    Raise CommandFailed when it exits non-zero and ``check`` is true, or when it cannot be started
    or outlives ``timeout_seconds``. With ``capture`` false, output goes to our own stdout/stderr
    (used by ``lab exec`` so a user sees the command's output as it comes).
    """
    try:
        result = subprocess.run(
            list(argv),
            input=input_text,
            # Captured commands get no terminal input; uncaptured ones (``lab exec``) share ours.
            stdin=None if input_text is not None or not capture else subprocess.DEVNULL,
            capture_output=capture,
            text=True,
            errors="replace",
            timeout=timeout_seconds,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as error:
        raise CommandFailed(argv, 127, str(error)) from error
    except subprocess.TimeoutExpired as error:
        raise CommandFailed(argv, 124, f"timed out after {timeout_seconds} s") from error
    if check and result.returncode != 0:
        raise CommandFailed(argv, result.returncode, (result.stderr or "")[-STDERR_TAIL_CHARS:])
    return result


def spawn_detached(argv: Sequence[str], log_path: Path) -> int:
    """Start ``argv`` in its own session, output appended to ``log_path``; return its PID.

    The process outlives us (a new session, stdin from /dev/null), which is how a container keeps
    running after ``egov lab up`` returns. The child is not waited for here: ``reap_detached``
    collects it if it exits while we are still running.
    """
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _detached[process.pid] = process
    return process.pid


def reap_detached() -> None:
    """Collect the detached children of this process that have exited (no zombies linger).

    Only our own ``spawn_detached`` children are polled: a blanket ``waitpid(-1)`` would steal
    the exit status of commands other threads are running.
    """
    for pid, process in list(_detached.items()):
        if process.poll() is not None:
            del _detached[pid]


_detached: dict[int, subprocess.Popen[bytes]] = {}


def find_program(name: str, path: str | None = None) -> str | None:
    """Return the full path of program ``name`` on ``path`` (default $PATH plus sbin), or None."""
    search = path if path is not None else os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return shutil.which(name, path=search)
