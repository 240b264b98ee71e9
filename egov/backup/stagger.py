"""The nights of the jobs run less often than daily, and staggering those that collide. Pure.

Weekly jobs with the same ``first_day`` (``nightdays``) run on the same nights: a weekly dump
and the WAL archive's base backups of the same cluster then read one database host at once,
and a base backup to site 2 shares the link with that night's copy there (``nightshare``).
When such a night does not fit, ``propose_stagger`` moves all but the first schedule on it
(the dumps' before the base backups', datasets in the inventory's order) to the day, of
those its interval allows, that leaves the fewest findings over every night, then the
earliest end: one schedule at a time, so what it proposes is what an operator would try.
"""

from __future__ import annotations

from collections.abc import Mapping

from egov.backup.night import Night, format_seconds, plan_night
from egov.backup.nightdays import MONTH_DAYS, describe_days, get_days, get_longer_nights
from egov.backup.nightjobs import Changes
from egov.backup.planarchive import ArchiveInput, apply_dump_moves
from egov.backup.planfigure import DAY_SECONDS
from egov.backup.planinputs import JobInput, PlanInputs
from egov.backup.proposals import Proposal


def plan_longer_nights(inputs: PlanInputs, changes: Changes) -> list[Night]:
    """One night for each set of jobs run less often than daily that run together."""
    moved = apply_dump_moves(inputs, changes.moved_dumps)
    nights = []
    for days in get_longer_nights(moved, changes.first_days):
        night = plan_night(inputs, changes, day=days[0])
        nights.append(night.model_copy(update={"days": days}))
    return nights


def get_night_seconds(night: Night) -> float:
    """From the night's first start to its last end."""
    start, end = night.span
    return end - start


def _cost(inputs: PlanInputs, changes: Changes) -> tuple[int, float]:
    nights = plan_longer_nights(inputs, changes)
    return (
        sum(len(night.findings) for night in nights),
        max((night.span[1] for night in nights), default=0.0),
    )


def _schedules(inputs: PlanInputs) -> dict[str, int]:
    """Schedule field → its interval in days, for those of N >= 2 days, in inventory order."""
    items: list[JobInput | ArchiveInput] = [*inputs.jobs, *inputs.archives]
    return {
        item.schedule_field: round(item.interval_seconds / DAY_SECONDS)
        for item in items
        if item.interval_seconds > DAY_SECONDS
    }


def _fields_on(inputs: PlanInputs, days: list[int], first_days: Mapping[str, int]) -> list[str]:
    items: list[JobInput | ArchiveInput] = [*inputs.jobs, *inputs.archives]
    on = [
        item.schedule_field
        for item in items
        if item.interval_seconds > DAY_SECONDS and days[0] in get_days(item, first_days)
    ]
    return list(dict.fromkeys(on))


def propose_stagger(inputs: PlanInputs, changes: Changes) -> tuple[Changes, list[Proposal]]:
    """``changes`` with the schedules that share a night that does not fit moved to other
    days (``Changes.first_days``), and the proposals saying so; unchanged when no such
    night exists or no day makes it better."""
    moved = apply_dump_moves(inputs, changes.moved_dumps)
    colliding = [
        night
        for night in plan_longer_nights(inputs, changes)
        if night.findings and len(_fields_on(moved, night.days, changes.first_days)) > 1
    ]
    if not colliding:
        return changes, []
    best, cost = changes, _cost(inputs, changes)
    intervals = _schedules(moved)
    on_night = [_fields_on(moved, night.days, changes.first_days) for night in colliding]
    for field in dict.fromkeys(field for fields in on_night for field in fields[1:]):
        for day in range(1, intervals[field] + 1):
            trial = best.model_copy(update={"first_days": {**best.first_days, field: day}})
            trial_cost = _cost(inputs, trial)
            if trial_cost < cost:
                best, cost = trial, trial_cost
    after = plan_longer_nights(inputs, best)
    longest = format_seconds(max(get_night_seconds(night) for night in after))
    findings = sum(len(night.findings) for night in after)
    proposals = []
    for field, day in best.first_days.items():
        if changes.first_days.get(field) == day:
            continue
        index = next(i for i, fields in enumerate(on_night) if field in fields)
        before = colliding[index]
        runs = describe_days(list(range(day, MONTH_DAYS + 1, intervals[field])))
        proposals.append(
            Proposal(
                kind="stagger",
                text=f"{field}.first_day: {day} (it runs on {runs}): it runs on the same "
                "nights as "
                + ", ".join(other for other in on_night[index] if other != field)
                + ", and that night needs "
                f"{format_seconds(get_night_seconds(before))} with {len(before.findings)} "
                f"finding(s); staggered, the longest night needs {longest}, with {findings} "
                "finding(s) over all nights",
            )
        )
    return best, proposals
