"""CPU priority of the manifest's hashing thread: what restic leaves idle, then full speed.

The manifest is hashed beside restic, and on a small host restic's backup keeps most cores
busy (1.6 of 2 here). At the same priority the hashing takes CPU from restic, and the backup
ends later by about what the hashing cost. Under ``SCHED_IDLE`` the thread runs only on CPU
that nothing else wants, restic and the host's own services alike. Once restic has finished,
the rest is hashed at normal priority, so a busy host cannot starve the manifest forever.

Linux applies these policies per thread (a thread id is a valid target). Leaving
``SCHED_IDLE`` needs ``CAP_SYS_NICE`` (root, as the agent's unit runs) or an ``RLIMIT_NICE``
that allows the thread's nice value; without either the thread would be stuck idle, so it is
not made idle at all. Priority changes speed, never results.
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

CAP_SYS_NICE = 23


def make_this_thread_idle() -> bool:
    """Run the calling thread only on otherwise idle CPU (``SCHED_IDLE``), when it can be
    put back later; return whether it was."""
    if not can_leave_idle():
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        return False
    return True


def can_leave_idle(status: Path = Path("/proc/self/status")) -> bool:
    """Whether a thread of this process may go back from ``SCHED_IDLE`` to normal: it has
    ``CAP_SYS_NICE``, or ``RLIMIT_NICE`` allows its nice value (Linux's ``can_nice``)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    if soft == resource.RLIM_INFINITY or soft >= 20 - os.getpriority(os.PRIO_PROCESS, 0):
        return True
    try:
        lines = status.read_text(encoding="ascii").splitlines()
    except OSError:
        return False
    effective = next((line.split()[1] for line in lines if line.startswith("CapEff:")), "0")
    return bool(int(effective, 16) >> CAP_SYS_NICE & 1)


def make_thread_normal(thread: threading.Thread) -> None:
    """Put ``thread`` back under the normal policy, if it still runs.

    An unprivileged thread may leave ``SCHED_IDLE`` for ``SCHED_OTHER`` at its own nice
    value (Linux ≥ 2.6.39), so this needs no capability.
    """
    if thread.native_id is None or not thread.is_alive():
        return
    try:
        os.sched_setscheduler(thread.native_id, os.SCHED_OTHER, os.sched_param(0))
    except OSError:  # it ended meanwhile
        return
