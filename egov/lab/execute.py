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

from egov.execute import run_command


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
    """Run ``argv`` to completion through :func:`egov.execute.run_command`.

    Raise CommandFailed when it exits non-zero and ``check`` is true, or when it cannot be started
    or outlives ``timeout_seconds``. With ``capture`` false, output goes to our own stdout/stderr
    (used by ``lab exec`` so a user sees the command's output as it comes).
    """
    return run_command(
        argv,
        input_text=input_text,
        check=check,
        timeout_seconds=timeout_seconds,
        environment=env,
        cwd=cwd,
        capture=capture,
    )


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
