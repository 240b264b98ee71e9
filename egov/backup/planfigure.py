"""One number ``egov backup plan`` predicts with, where it came from, and the plan's clock.

Apart from ``planinputs`` so that the modules building parts of the plan's inputs
(``planarchive``) share them without importing each other.
"""

from __future__ import annotations

from egov.inventory.fields import StrictModel

DECLARED = "declared estimate"
DAY_SECONDS = 86400.0


class Figure(StrictModel):
    """One number the plan uses, and where it came from."""

    value: float
    source: str

    @property
    def measured(self) -> bool:
        """Whether an agent's record gave it."""
        return self.source != DECLARED


def _clock_seconds(text: str) -> float:
    hours, minutes = text.split(":")
    return int(hours) * 3600.0 + int(minutes) * 60.0


def format_clock(window_start: str, offset: float) -> str:
    """The time of day ``offset`` seconds from the window's start (``22:00`` for -3.5 h
    from 01:30): what an operator sets a schedule to."""
    seconds = (_clock_seconds(window_start) + offset) % DAY_SECONDS
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


def make_offset(at: str, window_start: str) -> float:
    """Seconds from the window's start to ``at``: the nearest, so 00:05 is before 01:30."""
    seconds = (_clock_seconds(at) - _clock_seconds(window_start)) % DAY_SECONDS
    return seconds - DAY_SECONDS if seconds > DAY_SECONDS / 2 else seconds
