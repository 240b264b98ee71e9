"""SIGTERM unwinds egov like Ctrl-C, and egov still dies by it.

systemd stops a unit (``systemctl stop``, a shutdown, a start timeout) with SIGTERM to its main
process. Python's default is to die on the spot: no record of the run, no metrics, and restic
killed later by the service manager with its repository lock in place. Raised as ``Stopped``
(a KeyboardInterrupt, so every ``finally`` and every Ctrl-C path runs: restic is interrupted
and removes its lock, a drill runs its rollbacks) the stop unwinds like an interruption; at
the very end the process kills itself with SIGTERM, so that the service manager sees the stop
it asked for rather than an exit code it would call a failure.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

REASON = "stopped by SIGTERM (systemctl stop, a shutdown or the unit's time limit)"
_state = {"received": False}


class Stopped(KeyboardInterrupt):
    """SIGTERM arrived: the work was stopped before it finished."""


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    if _state["received"]:
        return  # already unwinding: one exception, not one per signal
    _state["received"] = True
    raise Stopped(REASON)


def install() -> None:
    """Make SIGTERM raise ``Stopped`` in the main thread (the console entry point only)."""
    signal.signal(signal.SIGTERM, _raise_stopped)


def was_stopped() -> bool:
    """Whether SIGTERM arrived since ``install``."""
    return _state["received"]


def die_by_sigterm() -> None:
    """End this process by SIGTERM with the default action, as if never caught."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
