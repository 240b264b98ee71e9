"""Which nights the jobs run less often than daily share. Pure.

A schedule of N whole days runs on the days of the month ``first_day``, ``first_day`` + N, …
(``deploys.backup.make_on_calendar``: ``*-*-4/7``; systemd's step restarts each month, and
schedules have no weekday). A night is named by the day its window starts: a run at 22:00,
before a 01:30 window, belongs to the next day's night. Days are those of a 31-day month.

Every night holds the jobs run daily or more often; the others' days decide which of them
run together. The plan predicts one night for each different set of them, leaving out a set
another night holds more than (fewer jobs on the same resources end no later).
"""

from __future__ import annotations

from collections.abc import Mapping

from egov.backup.planarchive import ArchiveInput
from egov.backup.planfigure import DAY_SECONDS
from egov.backup.planinputs import JobInput, PlanInputs

MONTH_DAYS = 31


def get_night_days(interval_seconds: float, first_day: int, start_seconds: float) -> set[int]:
    """The days of the month whose night a schedule runs on: every day for one run daily
    or more often."""
    if interval_seconds <= DAY_SECONDS:
        return set(range(1, MONTH_DAYS + 1))
    step = round(interval_seconds / DAY_SECONDS)
    shift = 1 if start_seconds < 0 else 0
    return {day + shift for day in range(first_day, MONTH_DAYS + 1, step)} & set(
        range(1, MONTH_DAYS + 1)
    )


def get_days(item: JobInput | ArchiveInput, first_days: Mapping[str, int]) -> set[int]:
    """The nights ``item`` runs on, with ``first_days`` (schedule field → first day) applied."""
    first = first_days.get(item.schedule_field, item.first_day)
    return get_night_days(item.interval_seconds, first, item.start_seconds)


def runs_on(item: JobInput | ArchiveInput, day: int | None, first_days: Mapping[str, int]) -> bool:
    """Whether ``item`` runs on the night of ``day`` (None: every night, the daily jobs)."""
    if item.interval_seconds <= DAY_SECONDS:
        return True
    return day is not None and day in get_days(item, first_days)


def get_next_night(inputs: PlanInputs, day: int, first_days: Mapping[str, int]) -> float:
    """When the night after ``day``'s begins, in seconds from ``day``'s window: at the next
    window's start, or the first job of that night (run daily or on that day) before it."""
    following = day % MONTH_DAYS + 1
    items: list[JobInput | ArchiveInput] = [*inputs.jobs, *inputs.archives]
    starts = [
        item.start_seconds
        for item in items
        if item.interval_seconds >= DAY_SECONDS and runs_on(item, following, first_days)
    ]
    return DAY_SECONDS + min([0.0, *starts])


def _longer_items(inputs: PlanInputs) -> list[JobInput | ArchiveInput]:
    items: list[JobInput | ArchiveInput] = [*inputs.jobs, *inputs.archives]
    return [item for item in items if item.interval_seconds > DAY_SECONDS]


def get_longer_nights(inputs: PlanInputs, first_days: Mapping[str, int]) -> list[list[int]]:
    """The nights to predict besides the daily one: each a list of the days (of the month)
    on which the same jobs run less often than daily, fewest first days first."""
    items = _longer_items(inputs)
    by_day: dict[int, frozenset[int]] = {}
    for day in range(1, MONTH_DAYS + 1):
        on = frozenset(index for index, item in enumerate(items) if runs_on(item, day, first_days))
        if on:
            by_day[day] = on
    sets = set(by_day.values())
    kept = [s for s in sets if not any(s < other for other in sets)]
    nights = [sorted(day for day, on in by_day.items() if on == s) for s in kept]
    return sorted(nights)


def describe_days(days: list[int]) -> str:
    """``days 4, 11, 18 and 25``."""
    if len(days) == 1:
        return f"day {days[0]}"
    return "days " + ", ".join(str(day) for day in days[:-1]) + f" and {days[-1]}"
