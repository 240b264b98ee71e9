"""What the agent's jobs share: the backoff between restic's retries."""

from __future__ import annotations

from egov.backup.agent import get_backoff_seconds


def test_backoff_doubles() -> None:
    assert [get_backoff_seconds(attempt, 30) for attempt in (2, 3, 4)] == [30, 60, 120]
