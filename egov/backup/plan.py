"""``egov backup plan``: will the night fit, and if not, what would make it fit? Pure.

Given the figures of ``planinputs`` (measured by the agents where they could, declared
otherwise), predict the night from the policy's ``schedule.at`` for ``planning.window``:

- Backups: each dataset on each host starts at its schedule's time (the first run at or
  after the window's start for one run more often than daily); hosts run in parallel, one
  host's datasets in turn. A file dataset costs its metadata walk (files / walk rate) plus
  its changed bytes / throughput, divided among its shards (concurrent restic processes,
  assumed to scale up to the host's cores); a dump costs its size / dump rate.
- Copies: from the first repository to each following one, once the night's backups have
  ended (and not before the nightly replication timer, for a daily replication). They carry
  what the night added (changed bytes × ``added_ratio``), in turn as ``replication.py`` copies
  today, or in parallel when proposed; parallel copies share the source site's bandwidth.
- RPO per dataset and site: the interval plus the time from the run's start until its
  snapshot is there, against ``derive.get_backup_target``.

``make_backup_plan`` predicts the night as configured, proposes changes for what does not
fit (an earlier start, shards, parallel copies, the bandwidth a link would need) and predicts
the night again with them applied.
"""

from __future__ import annotations

import math
from datetime import timedelta

from pydantic import Field

from egov.backup.planinputs import DAY_SECONDS, Figure, JobInput, PlanInputs
from egov.inventory.backup import DatasetKind
from egov.inventory.fields import MAX_DURATION, StrictModel, format_duration, format_rate

#: Schedules move in steps an operator writes: quarter hours.
SCHEDULE_STEP_SECONDS = 900.0


class Changes(StrictModel):
    """What the plan may change: the configuration as it is when empty."""

    shards: dict[str, int] = Field(default_factory=dict, description="dataset → shards.")
    starts: dict[str, float] = Field(
        default_factory=dict, description="dataset → start, seconds from the window's start."
    )
    parallel_copies: bool = False
    link_rates: dict[str, float] = Field(
        default_factory=dict, description="repository → bytes/s its copy would need."
    )
    source_rate: float | None = None


class Job(StrictModel):
    """One bar of the night (seconds from the window's start)."""

    label: str
    kind: str = Field(pattern="^(backup|copy)$")
    repository: str | None = Field(default=None, description="For a copy: its target.")
    dataset: str | None = None
    host: str | None = None
    site: str
    start_seconds: float
    end_seconds: float
    bytes: float
    shards: int = 1


class SiteRpo(StrictModel):
    """A dataset's predicted worst-case RPO at one repository's site."""

    dataset: str
    repository: str
    site: str
    predicted_seconds: float
    target_seconds: float

    @property
    def meets(self) -> bool:
        """Whether the prediction is inside the target."""
        return self.predicted_seconds <= self.target_seconds


class Night(StrictModel):
    """One predicted night, and what does not fit in it."""

    jobs: list[Job]
    window_end_seconds: float
    rpo: list[SiteRpo]
    findings: list[str]

    @property
    def fits(self) -> bool:
        """Every job inside the window (or, run more often than daily, its interval)."""
        return not self.findings

    @property
    def meets_targets(self) -> bool:
        """Every predicted RPO inside its target."""
        return all(item.meets for item in self.rpo)


class Restore(StrictModel):
    """How long restoring one dataset of one host would take."""

    dataset: str
    host: str
    bytes: float
    seconds: float
    rate: Figure


class Proposal(StrictModel):
    """One change to the configuration, in words an operator acts on."""

    kind: str = Field(pattern="^(schedule|shards|parallel-copies|bandwidth)$")
    text: str


class BackupPlan(StrictModel):
    """The night as configured, the changes proposed, and the night with them."""

    inputs: PlanInputs
    night: Night
    proposals: list[Proposal]
    changes: Changes
    proposed: Night
    restores: list[Restore]


def format_seconds(seconds: float) -> str:
    """``1h30m``; past what a timedelta holds (absurd inputs), in words."""
    if seconds > MAX_DURATION.total_seconds():
        return f"more than {format_duration(MAX_DURATION)}"
    return format_duration(timedelta(seconds=max(round(seconds), 0)))


def _backup_seconds(job: JobInput, shards: int) -> float:
    if job.kind is DatasetKind.POSTGRES:
        return job.size_bytes.value / job.throughput.value
    walk = job.files.value / job.files_per_second.value
    return (walk + job.changed_bytes / job.throughput.value) / shards


def _added_per_night(job: JobInput, added_ratio: float) -> float:
    """What the night's copy carries of ``job``: a day's new bytes, or one run's for a
    dataset backed up more often (each replication run copies its runs as they come)."""
    return job.changed_bytes * added_ratio


def _first_start(job: JobInput, changes: Changes) -> float:
    start = changes.starts.get(job.dataset, job.start_seconds)
    if job.interval_seconds < DAY_SECONDS and start < 0:
        start %= job.interval_seconds  # the first run at or after the window's start
    return start


def _place_backups(inputs: PlanInputs, changes: Changes) -> list[Job]:
    host_free: dict[str, float] = {}
    jobs = []
    ordered = sorted(inputs.jobs, key=lambda job: _first_start(job, changes))
    for job in ordered:
        shards = changes.shards.get(job.dataset, 1) if job.kind is DatasetKind.FILES else 1
        start = max(_first_start(job, changes), host_free.get(job.host, -math.inf))
        end = start + _backup_seconds(job, shards)
        host_free[job.host] = end
        jobs.append(
            Job(
                label=f"backup {job.dataset} ({job.host})",
                kind="backup",
                dataset=job.dataset,
                host=job.host,
                site=job.site,
                start_seconds=start,
                end_seconds=end,
                bytes=job.changed_bytes * inputs.added_ratio,
                shards=shards,
            )
        )
    return jobs


def _link_rate(inputs: PlanInputs, changes: Changes, repository: str, sharing: int) -> float | None:
    link = next(link for link in inputs.links if link.repository == repository)
    rate = changes.link_rates.get(repository, link.rate.value if link.rate else None)
    source = changes.source_rate or (inputs.source_rate.value if inputs.source_rate else None)
    if source is not None:
        rate = min(rate, source / sharing) if rate is not None else source / sharing
    return rate


def _copied_bytes(inputs: PlanInputs, repository: str) -> float:
    return sum(
        _added_per_night(job, inputs.added_ratio)
        for job in inputs.jobs
        if repository in job.repositories[1:]
    )


def _place_copies(
    inputs: PlanInputs, changes: Changes, backups_end: float, findings: list[str]
) -> list[Job]:
    start = backups_end
    if inputs.replication_interval_seconds >= DAY_SECONDS:
        start = max(start, inputs.replication_delay_seconds)
    sharing = len(inputs.links) if changes.parallel_copies else 1
    jobs = []
    cursor = start
    for link in inputs.links:
        rate = _link_rate(inputs, changes, link.repository, sharing)
        if rate is None:
            findings.append(
                f"the copy to {link.repository} cannot be predicted: declare "
                f"sites.{link.site}.wan_bandwidth (or sites.{link.source_site}.wan_bandwidth)"
            )
            continue
        copied = _copied_bytes(inputs, link.repository)
        begin = start if changes.parallel_copies else cursor
        end = begin + copied / rate
        cursor = end
        jobs.append(
            Job(
                label=f"copy to {link.repository}",
                kind="copy",
                repository=link.repository,
                site=link.site,
                start_seconds=begin,
                end_seconds=end,
                bytes=copied,
            )
        )
    return jobs


def _predict_rpo(
    inputs: PlanInputs, changes: Changes, backups: list[Job], copies: list[Job]
) -> list[SiteRpo]:
    """Worst case over a dataset's hosts; a dataset backed up more often than daily is
    copied at each replication run, so its copy carries one interval's change only."""
    copy_end = {job.repository: job for job in copies}
    sharing = len(inputs.links) if changes.parallel_copies else 1
    worst: dict[tuple[str, str], SiteRpo] = {}
    for job in inputs.jobs:
        bar = next(b for b in backups if b.dataset == job.dataset and b.host == job.host)
        for index, repository in enumerate(job.repositories):
            if index == 0:
                arrival = bar.end_seconds
            elif job.interval_seconds < DAY_SECONDS:
                rate = _link_rate(inputs, changes, repository, sharing)
                if rate is None:
                    continue
                arrival = bar.end_seconds + job.changed_bytes * inputs.added_ratio / rate
            elif repository in copy_end:
                arrival = copy_end[repository].end_seconds
            else:
                continue
            site = next(
                (link.site for link in inputs.links if link.repository == repository), job.site
            )
            rpo = SiteRpo(
                dataset=job.dataset,
                repository=repository,
                site=site,
                predicted_seconds=job.interval_seconds + arrival - bar.start_seconds,
                target_seconds=job.target_seconds,
            )
            key = (job.dataset, repository)
            if key not in worst or rpo.predicted_seconds > worst[key].predicted_seconds:
                worst[key] = rpo
    return list(worst.values())


def plan_night(inputs: PlanInputs, changes: Changes | None = None) -> Night:
    """Predict one night with ``changes`` applied (none: the configuration as it is)."""
    changes = changes or Changes()
    window_end = inputs.window_seconds
    findings: list[str] = []
    backups = _place_backups(inputs, changes)
    daily = [job for job in backups if _interval(inputs, job) >= DAY_SECONDS]
    backups_end = max((job.end_seconds for job in daily), default=0.0)
    copies = _place_copies(inputs, changes, backups_end, findings)
    for job in backups:
        interval = _interval(inputs, job)
        took = job.end_seconds - job.start_seconds
        if interval < DAY_SECONDS and took > interval:
            findings.append(
                f"{job.label} takes {format_seconds(took)} but runs every "
                f"{format_seconds(interval)}: the runs queue back to back"
            )
        elif interval >= DAY_SECONDS and job.end_seconds > window_end:
            findings.append(
                f"{job.label} ends {format_seconds(job.end_seconds - window_end)} after the "
                f"window ({format_seconds(took)} from its start)"
            )
    for job in copies:
        if job.end_seconds > window_end:
            findings.append(
                f"{job.label} ends {format_seconds(job.end_seconds - window_end)} after the "
                f"window ({job.bytes / 1e9:.0f} GB in "
                f"{format_seconds(job.end_seconds - job.start_seconds)})"
            )
    rpo = _predict_rpo(inputs, changes, backups, copies)
    return Night(jobs=backups + copies, window_end_seconds=window_end, rpo=rpo, findings=findings)


def _interval(inputs: PlanInputs, job: Job) -> float:
    return next(
        item.interval_seconds
        for item in inputs.jobs
        if item.dataset == job.dataset and item.host == job.host
    )


def _late_datasets(inputs: PlanInputs, night: Night) -> dict[str, float]:
    """dataset → by how much its worst host misses its bound (window end or interval)."""
    late: dict[str, float] = {}
    for job in night.jobs:
        if job.kind != "backup" or job.dataset is None:
            continue
        interval = _interval(inputs, job)
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
        one = _backup_seconds(job, 1)
        allowed = budget.get(job.host, 0.0)
        shards = math.ceil(one / allowed) if allowed > 0 else inputs.cores
        needed = max(needed, min(max(shards, 1), inputs.cores))
    return needed


def propose_changes(inputs: PlanInputs, night: Night) -> tuple[Changes, list[Proposal]]:
    """The changes that bring ``night`` inside its window, in the order they cost least:
    parallel copies, an earlier start (down to ``planning.earliest_start``), shards, and
    last the bandwidth a link would need."""
    proposals: list[Proposal] = []
    changes = Changes()
    copies = [job for job in night.jobs if job.kind == "copy"]
    late_copies = [job for job in copies if job.end_seconds > night.window_end_seconds]
    if len(inputs.links) > 1 and (late_copies or not night.meets_targets):
        changes = changes.model_copy(update={"parallel_copies": True})
        proposals.append(
            Proposal(
                kind="parallel-copies",
                text="copy to "
                + " and ".join(link.repository for link in inputs.links)
                + " at once: the targets are independent",
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
                    text=f"start {dataset} at {_clock(inputs, start)} "
                    f"(backup.datasets.{dataset}.schedule.at)",
                )
            )
    changes = changes.model_copy(update={"starts": starts})
    shards: dict[str, int] = {}
    for dataset in _late_datasets(inputs, plan_night(inputs, changes)):
        budget = _shard_budgets(inputs, dataset, changes)
        count = _need_shards(inputs, dataset, budget)
        if count > 1:
            shards[dataset] = count
            proposals.append(
                Proposal(
                    kind="shards",
                    text=f"back {dataset} up in {count} shards (concurrent restic processes, "
                    f"by top-level directory; the host has {inputs.cores} cores)",
                )
            )
    changes = changes.model_copy(update={"shards": shards})
    return _propose_bandwidth(inputs, changes, proposals)


def _shard_budgets(inputs: PlanInputs, dataset: str, changes: Changes) -> dict[str, float]:
    """host → seconds a run of ``dataset`` may take there: its interval, or until the
    window's end after what the host runs before it."""
    night = plan_night(inputs, changes)
    budgets = {}
    for job in night.jobs:
        if job.dataset != dataset or job.host is None:
            continue
        interval = _interval(inputs, job)
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
            took = _backup_seconds(source, changes.shards.get(source.dataset, 1))
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


def _clock(inputs: PlanInputs, offset: float) -> str:
    hours, minutes = inputs.window_start.split(":")
    seconds = (int(hours) * 3600 + int(minutes) * 60 + offset) % DAY_SECONDS
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


def make_restores(inputs: PlanInputs) -> list[Restore]:
    """How long each dataset of each host would take to restore, at the restore rate."""
    return [
        Restore(
            dataset=job.dataset,
            host=job.host,
            bytes=job.size_bytes.value,
            seconds=job.size_bytes.value / job.restore_throughput.value,
            rate=job.restore_throughput,
        )
        for job in inputs.jobs
    ]


def make_backup_plan(inputs: PlanInputs) -> BackupPlan:
    """The night as configured, what would make it fit, and the night with that applied."""
    night = plan_night(inputs)
    done = night.fits and night.meets_targets
    changes, proposals = (Changes(), []) if done else propose_changes(inputs, night)
    return BackupPlan(
        inputs=inputs,
        night=night,
        proposals=proposals,
        changes=changes,
        proposed=plan_night(inputs, changes) if proposals else night,
        restores=make_restores(inputs),
    )
