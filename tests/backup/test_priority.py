"""The hashing thread's CPU priority: idle while restic runs, normal after, never stuck idle."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from egov.backup import priority


def _in_a_thread(body: threading.Event, results: list[object]) -> threading.Thread:
    def run() -> None:
        results.append(priority.make_this_thread_idle())
        results.append(os.sched_getscheduler(0))
        body.wait(10)
        results.append(os.sched_getscheduler(0))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_thread_made_idle_is_put_back_to_normal() -> None:
    done, results = threading.Event(), []
    thread = _in_a_thread(done, results)
    deadline = time.monotonic() + 10
    while len(results) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    priority.make_thread_normal(thread)
    done.set()
    thread.join()
    assert results == [True, os.SCHED_IDLE, os.SCHED_OTHER]
    priority.make_thread_normal(thread)  # ended: a no-op, not an error


def test_a_thread_that_could_not_come_back_is_not_made_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without CAP_SYS_NICE (or an RLIMIT_NICE that allows it) Linux refuses to leave
    SCHED_IDLE: the hashing would crawl on a busy host long after restic ended."""
    monkeypatch.setattr(priority, "can_leave_idle", lambda: False)
    done, results = threading.Event(), []
    done.set()
    _in_a_thread(done, results).join()
    assert results == [False, os.SCHED_OTHER, os.SCHED_OTHER]


@pytest.mark.parametrize(
    ("effective", "expected"), [("0000000000000000", False), ("0000000000800000", True)]
)
def test_leaving_idle_needs_cap_sys_nice_when_the_nice_limit_does_not_allow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, effective: str, expected: bool
) -> None:
    monkeypatch.setattr(priority.resource, "getrlimit", lambda _: (0, 0))
    status = tmp_path / "status"
    status.write_text(f"Name:\tegov\nCapEff:\t{effective}\n")
    assert priority.can_leave_idle(status) is expected
    assert not priority.can_leave_idle(tmp_path / "missing")
