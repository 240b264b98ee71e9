"""What would make a night that does not fit fit: the plan's proposals. Pure.

For what does not fit, in the order they cost least: a dump the WAL archive has made no
longer nightly moved to a weekly night of its own, parallel copies, an earlier start (down
to ``planning.earliest_start``), shards, and last the bandwidth a link would need. Jobs
run less often than daily that collide on a night are staggered by ``stagger``.
Each is tried on the night predicted with the ones before it applied (``night.plan_night``),
and said in words an operator acts on, naming the inventory field to change.
"""

from __future__ import annotations

import math

from pydantic import Field

from egov.backup.night import (
    Night,
    configured,
    format_seconds,
    get_backup_seconds,
    get_interval,
    plan_night,
)
from egov.backup.nightdays import describe_days, get_days
from egov.backup.nightjobs import Changes
from egov.backup.planarchive import apply_dump_moves
from egov.backup.planfigure import DAY_SECONDS, format_clock
from egov.backup.planinputs import PlanInputs
from egov.inventory.backup import DatasetKind
from egov.inventory.fields import StrictModel, format_rate

#: Schedules move in steps an operator writes: quarter hours.
SCHEDULE_STEP_SECONDS = 900.0


class Proposal(StrictModel):
    """One change to the configuration, in words an operator acts on."""

    kind: str = Field(pattern="^(dump-schedule|schedule|shards|parallel-copies|bandwidth|stagger)$")
    text: str


def _late_datasets(inputs: PlanInputs, night: Night) -> dict[str, float]:
    """dataset → by how much its worst host misses its bound (window end or interval)."""
    late: dict[str, float] = {}
    for job in night.jobs:
        if job.kind != "backup" or job.dataset is None:
            continue
        interval = get_interval(inputs, job)
        over = (
            job.end_seconds - job.start_seconds - interval
            if interval < DAY_SECONDS
            else job.end_seconds - night.window_end_seconds
        )
        if over > 0:
            late[job.dataset] = max(late.get(job.dataset, 0.0), over)
    return late


def _need_shards(inputs: PlanInputs, dataset: str, budget: dict[str, float]) -> int:
    """The fewest shards (up to the cores) that bring each host's run inside its budget."""
    needed = 1
    for job in inputs.jobs:
        if job.dataset != dataset or job.kind is not DatasetKind.FILES:
            continue
        one = get_backup_seconds(job, 1)
        allowed = budget.get(job.host, 0.0)
        shards = math.ceil(one / allowed) if allowed > 0 else inputs.cores
        needed = max(needed, min(max(shards, 1), inputs.cores))
    return needed


def propose_changes(inputs: PlanInputs, night: Night) -> tuple[Changes, list[Proposal]]:
    """The changes that bring ``night`` inside its window, in the order they cost least:
    an archived dataset's dump moved to a weekly night, parallel copies, an earlier start
    (down to ``planning.earliest_start``), shards, and last the bandwidth a link would need."""
    changes, proposals = _propose_dump_moves(inputs, night)
    if proposals:  # a dump moved off the nightly night: predict it again without it
        night = plan_night(inputs, changes)
    copies = [job for job in night.jobs if job.kind == "copy"]
    late_copies = [job for job in copies if job.end_seconds > night.window_end_seconds]
    needed = late_copies or not night.meets_targets
    if len(inputs.links) > 1 and not changes.parallel_copies and needed:
        changes = changes.model_copy(update={"parallel_copies": True})
        proposals.append(
            Proposal(
                kind="parallel-copies",
                text="copy to "
                + " and ".join(link.repository for link in inputs.links)
                + " at once (`backup.parallel_copies: true`): the targets are independent",
            )
        )
    late = _late_datasets(inputs, plan_night(inputs, changes))
    starts: dict[str, float] = {}
    for dataset, over in late.items():
        job = next(item for item in inputs.jobs if item.dataset == dataset)
        if job.interval_seconds < DAY_SECONDS:
            continue
        earlier = math.ceil(over / SCHEDULE_STEP_SECONDS) * SCHEDULE_STEP_SECONDS
        start = max(job.start_seconds - earlier, inputs.earliest_start_seconds)
        if start < job.start_seconds:
            starts[dataset] = start
            proposals.append(
                Proposal(
                    kind="schedule",
                    text=f"start {dataset} at {format_clock(inputs.window_start, start)} "
                    f"(backup.datasets.{dataset}.schedule.at)",
                )
            )
    changes = changes.model_copy(update={"starts": starts})
    shards = dict(changes.shards)  # the configured ones (``backup.datasets.X.shards``)
    for dataset in _late_datasets(inputs, plan_night(inputs, changes)):
        budget = _shard_budgets(inputs, dataset, changes)
        count = _need_shards(inputs, dataset, budget)
        if count > shards.get(dataset, 1):
            shards[dataset] = count
            proposals.append(
                Proposal(
                    kind="shards",
                    text=f"back {dataset} up in {count} shards (concurrent restic processes, "
                    f"by top-level directory; the host has {inputs.cores} cores): "
                    f"backup.datasets.{dataset}.shards: {count}",
                )
            )
    changes = changes.model_copy(update={"shards": shards})
    return _propose_bandwidth(inputs, changes, proposals)


def _propose_dump_moves(inputs: PlanInputs, night: Night) -> tuple[Changes, list[Proposal]]:
    """Move the nightly dump of an archived dataset to a weekly night of its own when it does
    not fit the window (the night has fewer findings without it): the archive holds its RPO
    where it is, so the dump is the logical copy only. Say the hours its own night needs
    (the dump, then its copies)."""
    changes = configured(inputs)
    proposals = []
    for dataset, move in inputs.dump_moves.items():
        dumps = [j for j in inputs.jobs if j.dataset == dataset and j.kind is DatasetKind.POSTGRES]
        if not dumps or any(job.interval_seconds > DAY_SECONDS for job in dumps):
            continue
        moved = changes.model_copy(update={"moved_dumps": [*changes.moved_dumps, dataset]})
        if len(plan_night(inputs, moved).findings) >= len(night.findings):
            continue
        changes = moved
        job = next(j for j in apply_dump_moves(inputs, [dataset]).jobs if j.dataset == dataset)
        days = sorted(get_days(job, moved.first_days))
        own = plan_night(inputs, moved, day=days[0])
        bars = [job for job in own.jobs if job.dataset == dataset and job.kind == "backup"]
        start = min(job.start_seconds for job in bars)
        end = max(job.end_seconds for job in own.jobs if job.kind != "base-backup")
        sites = sorted({a.site for a in inputs.archives if a.dataset == dataset})
        proposals.append(
            Proposal(
                kind="dump-schedule",
                text=f"dump {dataset} every {format_seconds(move.interval_seconds)} instead "
                f"(backup.datasets.{dataset}.schedule: {{interval: "
                f'{format_seconds(move.interval_seconds)}, at: "{move.at}"}}): its WAL '
                f"archive holds the RPO at {', '.join(sites)}; the dump needs "
                f"{format_seconds(max(j.end_seconds - j.start_seconds for j in bars))} and "
                f"its night, with the copies after it, {format_seconds(end - start)} from "
                f"{move.at} to {format_clock(inputs.window_start, end)}, on the nights of "
                f"{describe_days(days)}",
            )
        )
    return changes, proposals


def _shard_budgets(inputs: PlanInputs, dataset: str, changes: Changes) -> dict[str, float]:
    """host → seconds a run of ``dataset`` may take there: its interval, or until the
    window's end after what the host runs before it."""
    night = plan_night(inputs, changes)
    budgets = {}
    for job in night.jobs:
        if job.kind != "backup" or job.dataset != dataset or job.host is None:
            continue
        interval = get_interval(inputs, job)
        budgets[job.host] = (
            interval if interval < DAY_SECONDS else night.window_end_seconds - job.start_seconds
        )
    return budgets


def _propose_bandwidth(
    inputs: PlanInputs, changes: Changes, proposals: list[Proposal]
) -> tuple[Changes, list[Proposal]]:
    night = plan_night(inputs, changes)
    rates: dict[str, float] = {}
    copies = [job for job in night.jobs if job.kind == "copy"]
    for job in copies:
        available = night.window_end_seconds - job.start_seconds
        if job.end_seconds <= night.window_end_seconds or available <= 0:
            continue
        if job.repository is not None:
            rates[job.repository] = job.bytes / available
    for item in night.rpo:
        # a dataset copied at every replication run: the copy of one run's change must
        # arrive within what its target leaves after the interval and the run
        link = next((link for link in inputs.links if link.repository == item.repository), None)
        if item.meets or link is None:
            continue
        for source in inputs.jobs:
            if source.dataset != item.dataset or source.interval_seconds >= DAY_SECONDS:
                continue
            took = get_backup_seconds(source, changes.shards.get(source.dataset, 1))
            spare = source.target_seconds - source.interval_seconds - took
            if spare > 0:
                needed = source.changed_bytes * inputs.added_ratio / spare
                rates[link.repository] = max(rates.get(link.repository, 0.0), needed)
    if not rates:
        return changes, proposals
    for repository, rate in rates.items():
        link = next(link for link in inputs.links if link.repository == repository)
        has = link.rate.value if link.rate else None
        proposals.append(
            Proposal(
                kind="bandwidth",
                text=f"the copy to {repository} needs {format_rate(rate)} usable "
                f"({format_rate(rate / inputs.link_efficiency)} of link at "
                f"{inputs.link_efficiency:.0%} efficiency) from {link.source_site} to "
                f"{link.site}" + (f"; it gets {format_rate(has)}" if has else ""),
            )
        )
    source_needed: float | None = None
    if inputs.source_rate is not None:
        total = sum(rates.values()) if changes.parallel_copies else max(rates.values())
        if total > inputs.source_rate.value:
            source_needed = total
            proposals.append(
                Proposal(
                    kind="bandwidth",
                    text=f"sites.{inputs.links[0].source_site}.wan_bandwidth needs "
                    f"{format_rate(total / inputs.link_efficiency)} for the copies "
                    f"(usable now: {format_rate(inputs.source_rate.value)})",
                )
            )
    return changes.model_copy(update={"link_rates": rates, "source_rate": source_needed}), proposals
