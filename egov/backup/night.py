"""One night of backups and copies predicted from the plan's figures, and its RPO. Pure.

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
  snapshot is there, against ``derive.get_backup_target``; at a site holding a WAL archive
  of the dataset, the archive's (``planarchive``).
- Base backups of the WAL archives: from their schedule's time, each as long as
  ``planarchive`` predicts; one that does not end before the next is due does not fit.
- Jobs that share a database host's reads or a link that night (a dump and base backups of
  the same cluster, a base backup to a site and the copy there) share it (``nightshare``).

``plan_night`` predicts a night on which the jobs run daily or more often run; with ``day``,
the night of that day of the month, with the jobs run less often than daily that fall on it
(``nightdays``: a weekly dump, weekly base backups). Such a night may take more hours than
the window, and says how many; it must end before the next night starts, or the two nights'
jobs would share the disks and links again, which no prediction here accounts for.

``Changes`` are what ``proposals`` may apply to the configuration before predicting again.
"""

from __future__ import annotations

import math
from datetime import timedelta

from pydantic import Field

from egov.backup.nightdays import get_next_night, runs_on
from egov.backup.nightjobs import Changes, Job
from egov.backup.nightshare import get_copy_rate, share_night
from egov.backup.planarchive import ArchiveInput, apply_dump_moves
from egov.backup.planfigure import DAY_SECONDS
from egov.backup.planinputs import JobInput, PlanInputs
from egov.inventory.backup import DatasetKind
from egov.inventory.fields import MAX_DURATION, StrictModel, format_duration


def configured(inputs: PlanInputs) -> Changes:
    """No change: the night as the inventory configures it."""
    return Changes(parallel_copies=inputs.parallel_copies, shards=dict(inputs.shards))


class SiteRpo(StrictModel):
    """A dataset's predicted worst-case RPO at one repository's site."""

    dataset: str
    repository: str
    site: str
    predicted_seconds: float
    target_seconds: float
    via: str = Field(
        default="snapshots",
        description="What holds the RPO: the snapshots, or `WAL archive on <host>`.",
    )

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
    days: list[int] = Field(
        default_factory=list,
        description="For a night of jobs run less often than daily: the days of the month "
        "it stands for (empty: every night).",
    )

    @property
    def fits(self) -> bool:
        """Every job inside the window (or, run more often than daily, its interval)."""
        return not self.findings

    @property
    def meets_targets(self) -> bool:
        """Every predicted RPO inside its target."""
        return all(item.meets for item in self.rpo)

    @property
    def span(self) -> tuple[float, float]:
        """From the night's first start to its last end (0, 0 for a night of no job)."""
        if not self.jobs:
            return 0.0, 0.0
        return (
            min(job.start_seconds for job in self.jobs),
            max(job.end_seconds for job in self.jobs),
        )


def format_seconds(seconds: float) -> str:
    """``1h30m``; past what a timedelta holds (absurd inputs), in words."""
    if seconds > MAX_DURATION.total_seconds():
        return f"more than {format_duration(MAX_DURATION)}"
    return format_duration(timedelta(seconds=max(round(seconds), 0)))


def get_backup_seconds(job: JobInput, shards: int) -> float:
    """How long one run of ``job`` takes in ``shards`` (a dump is one stream: its size / rate)."""
    if job.kind is DatasetKind.POSTGRES:
        return job.size_bytes.value / job.throughput.value
    walk = job.files.value / job.files_per_second.value
    return (walk + job.changed_bytes / job.throughput.value) / shards


def _added_per_night(job: JobInput, added_ratio: float) -> float:
    """What the night's copy carries of ``job``: a day's new bytes, or one run's for a
    dataset backed up more often (each replication run copies its runs as they come)."""
    return job.changed_bytes * added_ratio


def _first_run(start: float, interval: float) -> float:
    """A schedule's first run in the night: at ``start``, or for one run more often than
    daily, the first at or after the window's start."""
    return start % interval if interval < DAY_SECONDS and start < 0 else start


def _first_start(job: JobInput, changes: Changes) -> float:
    return _first_run(changes.starts.get(job.dataset, job.start_seconds), job.interval_seconds)


def _place_backups(inputs: PlanInputs, changes: Changes) -> list[Job]:
    host_free: dict[str, float] = {}
    jobs = []
    ordered = sorted(inputs.jobs, key=lambda job: _first_start(job, changes))
    for job in ordered:
        shards = changes.shards.get(job.dataset, 1) if job.kind is DatasetKind.FILES else 1
        start = max(_first_start(job, changes), host_free.get(job.host, -math.inf))
        end = start + get_backup_seconds(job, shards)
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
    inputs: PlanInputs,
    changes: Changes,
    backups: list[Job],
    copies: list[Job],
    pulls: list[tuple[ArchiveInput, Job]],
) -> list[SiteRpo]:
    """Worst case over a dataset's hosts; a dataset backed up more often than daily is
    copied at each replication run, so its copy carries one interval's change only, and
    shares the link with the base backups pulled across it then."""
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
                rate = get_copy_rate(inputs, changes, rate, repository, bar.end_seconds, pulls)
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


def _place_base_backups(
    inputs: PlanInputs, changes: Changes, day: int | None
) -> list[tuple[ArchiveInput, Job]]:
    placed = []
    for archive in inputs.archives:
        if not runs_on(archive, day, changes.first_days):
            continue
        start = _first_run(archive.start_seconds, archive.interval_seconds)
        bar = Job(
            label=f"base backup {archive.dataset} ({archive.host} → {archive.archive_host})",
            kind="base-backup",
            dataset=archive.dataset,
            host=archive.archive_host,
            site=archive.site,
            start_seconds=start,
            end_seconds=start + archive.base_backup_seconds,
            bytes=archive.size_bytes.value,
        )
        placed.append((archive, bar))
    return placed


def _archive_rpo(inputs: PlanInputs, rpo: list[SiteRpo]) -> list[SiteRpo]:
    """``rpo`` with the archive's at each site holding an archive host of the dataset."""
    held = {(archive.dataset, archive.site) for archive in inputs.archives}
    kept = [item for item in rpo if (item.dataset, item.site) not in held]
    seen: set[tuple[str, str]] = set()
    for archive in inputs.archives:
        if (archive.dataset, archive.site) in seen:
            continue
        seen.add((archive.dataset, archive.site))
        kept.append(
            SiteRpo(
                dataset=archive.dataset,
                repository=archive.archive_host,
                site=archive.site,
                predicted_seconds=archive.rpo_seconds,
                target_seconds=archive.target_seconds,
                via=f"WAL archive on {archive.archive_host}",
            )
        )
    return kept


def plan_night(
    inputs: PlanInputs, changes: Changes | None = None, *, day: int | None = None
) -> Night:
    """Predict one night with ``changes`` applied (none: the configuration as it is): the
    jobs run daily or more often, and with ``day`` those run less often that fall on it."""
    changes = changes or configured(inputs)
    inputs = apply_dump_moves(inputs, changes.moved_dumps)
    next_night = None if day is None else get_next_night(inputs, day, changes.first_days)
    tonight = [job for job in inputs.jobs if runs_on(job, day, changes.first_days)]
    inputs = inputs.model_copy(update={"jobs": tonight})
    window_end = inputs.window_seconds
    findings: list[str] = []
    backups = _place_backups(inputs, changes)
    daily = [job for job in backups if get_interval(inputs, job) >= DAY_SECONDS]
    backups_end = max((job.end_seconds for job in daily), default=0.0)
    copies = _place_copies(inputs, changes, backups_end, findings)
    placed = _place_base_backups(inputs, changes, day)
    backups, copies, bases = share_night(inputs, backups, copies, placed, changes)
    pulls = [(archive, bar) for (archive, _), bar in zip(placed, bases, strict=True)]
    for job in backups:
        interval = get_interval(inputs, job)
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
    # an archive is one (dataset, cluster, archive host): what names its bar, if it ran tonight
    timed = {(a.dataset, a.host, a.archive_host): bar for a, bar in pulls}
    for archive in inputs.archives:
        bar = timed.get((archive.dataset, archive.host, archive.archive_host))
        took = bar.end_seconds - bar.start_seconds if bar else archive.base_backup_seconds
        if took > archive.interval_seconds:
            findings.append(
                f"the base backup of {archive.dataset} ({archive.host} → "
                f"{archive.archive_host}) takes {format_seconds(took)} "
                f"but runs every {format_seconds(archive.interval_seconds)}: the next is due "
                "before it ends"
            )
    jobs = backups + copies + bases
    if next_night is not None:
        findings.extend(
            f"{job.label} ends {format_seconds(job.end_seconds - next_night)} after the next "
            "night starts: the two nights' jobs would share the disks and links"
            for job in jobs
            if job.end_seconds > next_night
        )
    rpo = _archive_rpo(inputs, _predict_rpo(inputs, changes, backups, copies, pulls))
    days = [] if day is None else [day]
    return Night(jobs=jobs, window_end_seconds=window_end, rpo=rpo, findings=findings, days=days)


def get_interval(inputs: PlanInputs, job: Job) -> float:
    """How often the backup of ``job`` (a bar of the night) runs, in seconds."""
    return next(
        item.interval_seconds
        for item in inputs.jobs
        if item.dataset == job.dataset and item.host == job.host
    )
