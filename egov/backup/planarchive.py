"""The WAL archive in ``egov backup plan``: its RPO where it is held, its base backups, and
what its dump may become. Pure.

A ``postgres`` dataset archived by Barman (``backup.datasets.X.archive``; who archives what
is ``walarchive.get_dataset_archives``) has, at each site holding one of its archive hosts,
the archive's RPO: the WAL is streamed as it is written and a segment is closed at least
every ``archive.rpo``, so the dump's copies no longer set the RPO there. It is judged
against the RPO of the data the dataset holds (``BackupTarget.rpo``), not against the floor
of the dump's schedule, which binds a scheduled snapshot and not a continuous stream.
Sites without an archive host keep the RPO of the dump's copies.

Each base backup (``pg_basebackup``, pulled by the archive host) reads the whole cluster:
the dataset's size on the database host at that host's rate, both taken from the dump's own
figures (measured by the agent's records first, else declared), and, when the archive host
is at another site, no faster than the plan's copy link to that site. It must end before the
next one is due. ``base_backup_seconds`` is the pull alone; on a night where it shares the
database host's reads or the link with other jobs, ``nightshare`` says how much longer.

With the archive holding the RPO, the dump is the logical, portable copy only and need not
be nightly: ``DumpMove`` is its dump on the schedule the plan proposes when it does not fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field, computed_field

from egov.backup.planfigure import Figure, make_offset
from egov.backup.walarchive import get_dataset_archives
from egov.inventory.backup import DatasetKind, Schedule
from egov.inventory.derive import get_backup_target
from egov.inventory.fields import StrictModel
from egov.inventory.model import Estate

if TYPE_CHECKING:
    from egov.backup.planinputs import JobInput, LinkInput, PlanInputs

#: A dump the archive has made no longer nightly runs weekly: a logical copy a week old is
#: what a restore to another PostgreSQL version or of a single table needs.
MOVED_DUMP_INTERVAL = timedelta(days=7)


class ArchiveInput(StrictModel):
    """One cluster archived on one archive host: its RPO there and its base backups (their
    duration and verdict are in the plan's JSON too)."""

    dataset: str
    host: str
    host_site: str
    archive_host: str
    site: str
    rpo_seconds: float
    target_seconds: float
    start_seconds: float
    interval_seconds: float
    first_day: int = 1
    size_bytes: Figure
    rate: Figure
    read_rate: Figure = Field(description="The database host's reads (the dump's rate).")

    @property
    def schedule_field(self) -> str:
        """The inventory field of its schedule (what a stagger proposal changes)."""
        return f"backup.datasets.{self.dataset}.archive.schedule"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def base_backup_seconds(self) -> float:
        """How long one base backup takes: the cluster's size at the pull's rate."""
        return self.size_bytes.value / self.rate.value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fits(self) -> bool:
        """Whether a base backup ends before the next one is due."""
        return self.base_backup_seconds <= self.interval_seconds


class DumpMove(StrictModel):
    """An archived dataset's dump on the schedule the plan proposes: ``MOVED_DUMP_INTERVAL``
    from ``planning.earliest_start``, and the target that schedule gives it."""

    interval_seconds: float
    start_seconds: float
    at: str
    target_seconds: float


def _pull_rate(job: JobInput, site: str, links: Sequence[LinkInput]) -> Figure:
    """The dump's rate on the database host, capped by the copy link when the archive host
    is at another site."""
    link = next(
        (link for link in links if link.site == site and link.source_site == job.site), None
    )
    if site == job.site or link is None or link.rate is None:
        return job.throughput
    if link.rate.value >= job.throughput.value:
        return job.throughput
    return Figure(
        value=link.rate.value,
        source=f"the link {job.site} → {site} ({link.rate.source})",
    )


def make_archive_inputs(
    estate: Estate, jobs: Sequence[JobInput], links: Sequence[LinkInput]
) -> list[ArchiveInput]:
    """Every (cluster, archive host) of the estate, with the dump's figures of the cluster's
    host (a cluster no dump job covers has nothing to size it by and is left out)."""
    archives = []
    window_start = estate.backup.schedule.at
    for pair in (
        pair for name in estate.backup.datasets for pair in get_dataset_archives(estate, name)
    ):
        job = next(
            (
                j
                for j in jobs
                if j.dataset == pair.dataset and j.host == pair.cluster.qualified_name
            ),
            None,
        )
        if job is None:
            continue
        target = get_backup_target(estate, pair.dataset)
        archives.append(
            ArchiveInput(
                dataset=pair.dataset,
                host=job.host,
                host_site=job.site,
                archive_host=pair.archive_host.qualified_name,
                site=pair.archive_host.site,
                rpo_seconds=pair.rpo.total_seconds(),
                target_seconds=(target.rpo or target.target).total_seconds(),
                start_seconds=make_offset(pair.schedule.at, window_start),
                interval_seconds=pair.schedule.interval.total_seconds(),
                first_day=pair.schedule.first_day or 1,
                size_bytes=job.size_bytes,
                rate=_pull_rate(job, pair.archive_host.site, links),
                read_rate=job.throughput,
            )
        )
    return archives


def make_dump_moves(estate: Estate) -> dict[str, DumpMove]:
    """dataset → its dump on the proposed schedule, for each archived ``postgres`` dataset;
    the target is ``derive.get_backup_target``'s for that schedule."""
    moves = {}
    policy = estate.backup
    for name, dataset in policy.datasets.items():
        if dataset.kind is not DatasetKind.POSTGRES or dataset.archive is None:
            continue
        schedule = dataset.schedule or policy.schedule
        moved = Schedule(
            interval=MOVED_DUMP_INTERVAL,
            at=policy.planning.earliest_start,
            randomized_delay=schedule.randomized_delay,
        )
        datasets = {**policy.datasets, name: dataset.model_copy(update={"schedule": moved})}
        changed = estate.model_copy(
            update={"backup": policy.model_copy(update={"datasets": datasets})}
        )
        moves[name] = DumpMove(
            interval_seconds=MOVED_DUMP_INTERVAL.total_seconds(),
            start_seconds=make_offset(moved.at, policy.schedule.at),
            at=moved.at,
            target_seconds=get_backup_target(changed, name).target.total_seconds(),
        )
    return moves


def apply_dump_moves(inputs: PlanInputs, moved: Sequence[str]) -> PlanInputs:
    """``inputs`` with each moved dump on its proposed schedule and that schedule's target."""
    if not moved:
        return inputs
    jobs = []
    for job in inputs.jobs:
        move = inputs.dump_moves.get(job.dataset) if job.dataset in moved else None
        if move is None or job.kind is not DatasetKind.POSTGRES:
            jobs.append(job)
            continue
        update = {
            "interval_seconds": move.interval_seconds,
            "start_seconds": move.start_seconds,
            "target_seconds": move.target_seconds,
        }
        jobs.append(job.model_copy(update=update))
    return inputs.model_copy(update={"jobs": jobs})
