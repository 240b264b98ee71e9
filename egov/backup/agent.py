"""What every job of the agent shares: where it keeps things, and how restic is retried.

The agent's jobs (``egov agent backup``, ``replicate``, ``verify``, ``retention``; the
restore tests) take an ``AgentSettings``: the state and cache directories, the textfile
metrics, the retry policy (tests shorten the backoff) and a bound on each restic call.
Network failures are retried with exponential backoff (the repository is on another host or
site); a lock failure first runs ``restic unlock``, which removes only stale locks, so a live
run at the other end is never broken. Any other failure is final: retrying a wrong password
or a full disk only delays the alert.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from egov.backup.repositories import DEFAULT_CACHE_DIR
from egov.backup.restic import make_unlock_command
from egov.backup.resticexec import Restic, ResticResult
from egov.backup.resticoutcome import Outcome
from egov.records import get_state_dir

RETRY_OUTCOMES = (Outcome.NETWORK, Outcome.LOCKED)


@dataclass(frozen=True)
class AgentSettings:
    """Where the agent keeps things and how it retries; tests shorten the backoff."""

    state_dir: Path = field(default_factory=get_state_dir)
    cache_dir: Path = DEFAULT_CACHE_DIR
    textfile_directory: Path | None = None
    attempts: int = 4
    backoff_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    dump_user: str = "postgres"
    #: extra environment of pg_dump (PGHOST for a cluster on a non-default socket)
    dump_environment: dict[str, str] = field(default_factory=dict)
    #: a bound on each restic call; None on hosts (a first backup may take a night)
    timeout_seconds: float | None = None


Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """Say nothing of a job's progress (the default)."""
    return


def get_backoff_seconds(attempt: int, base_seconds: float) -> float:
    """Seconds to wait before attempt ``attempt`` (2, 3, …): base, 2×base, 4×base, …"""
    return float(base_seconds * 2.0 ** max(attempt - 2, 0))


def run_with_retries(
    restic: Restic,
    attempt_once: Callable[[], ResticResult],
    settings: AgentSettings,
    progress: Progress = no_progress,
) -> ResticResult:
    """Run ``attempt_once`` until it succeeds, fails for good or the attempts are spent."""
    result = attempt_once()
    for attempt in range(2, settings.attempts + 1):
        if result.outcome not in RETRY_OUTCOMES:
            break
        if result.outcome is Outcome.LOCKED:
            restic.run(make_unlock_command())
        delay = get_backoff_seconds(attempt, settings.backoff_seconds)
        progress(f"{result.outcome.value}: retrying in {delay:.0f} s (attempt {attempt})")
        settings.sleep(delay)
        result = attempt_once()
    return result


class HasLastSuccess(Protocol):
    """A job's record that remembers its last success across failures."""

    @property
    def last_success_at(self) -> float | None:
        """Epoch seconds of the last run that succeeded; None before the first."""
        ...


def get_last_success_at(
    previous: HasLastSuccess | None, succeeded: bool, now: float
) -> float | None:
    """When the job last succeeded: ``now`` if this run did, else what ``previous`` said (a
    failure keeps the last success: status and the metrics count from it)."""
    if succeeded:
        return now
    return previous.last_success_at if previous else None
