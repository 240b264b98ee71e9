"""The figures ``egov backup plan`` predicts with: from the agents' records, else declared.

Each figure carries where it came from — "measured on primary-store-01 at 2026-12-05 01:42
UTC (…)" or "declared estimate" — because a plan is only as good as its inputs, and the one
reading it must know which were guessed. The newest successful record of each dataset and
host, and of each copy, wins over the inventory's ``estimate`` and ``backup.planning``.

``load_plan_records`` is the edge (it reads the state directory); ``make_plan_inputs`` is
pure. Measured rates come from one run each:

- A file backup's record holds its files, its bytes added and its duration: one run cannot
  tell the metadata walk from the reading of changed bytes, so both declared rates are scaled
  by the one factor that makes them add up to the measured duration.
- A dump's rate is the bytes dumped over the duration.
- A copy's rate is the target's growth over the copy's duration (``ReplicationRecord``).
- A restore's rate is the size of the dataset its restore test read back over its duration.

Runs too small to time (under ``MIN_TIMED_BYTES``) leave the declared rate in place, and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import Field

from egov.backup.planarchive import ArchiveInput, DumpMove, make_archive_inputs, make_dump_moves
from egov.backup.planfigure import DAY_SECONDS, DECLARED, Figure, make_offset
from egov.inventory.backup import DatasetKind
from egov.inventory.derive import (
    REPLICATION_DELAY,
    get_backup_target,
    get_dataset_hosts,
    get_dataset_repository,
    get_repository_order,
    get_shortest_schedule,
)
from egov.inventory.fields import StrictModel
from egov.inventory.model import Estate
from egov.records import (
    BackupRecord,
    ReplicationRecord,
    RestoreTestRecord,
    Result,
    read_records,
)

#: A run that moved less than this is dominated by restic's start-up (key derivation, index
#: load): its rate says nothing about the disk or the link.
MIN_TIMED_BYTES = 1_000_000
#: A file backup that added this share of what it read is a first (full) one: no daily change.
FULL_BACKUP_SHARE = 0.9


class JobInput(StrictModel):
    """One dataset backed up by one host."""

    dataset: str
    host: str
    site: str
    kind: DatasetKind
    start_seconds: float
    interval_seconds: float
    first_day: int = 1
    size_bytes: Figure
    files: Figure
    daily_change: Figure
    throughput: Figure
    files_per_second: Figure
    restore_throughput: Figure
    repositories: tuple[str, ...]
    target_seconds: float

    @property
    def changed_bytes(self) -> float:
        """Bytes new between two runs: for files, what restic reads again; for a dump (read
        whole every run), the share of it new to the repository."""
        share = min(self.daily_change.value * self.interval_seconds / DAY_SECONDS, 1.0)
        return self.size_bytes.value * share

    @property
    def schedule_field(self) -> str:
        """The inventory field of its schedule (what a stagger proposal changes)."""
        return f"backup.datasets.{self.dataset}.schedule"


class LinkInput(StrictModel):
    """The copy from the first repository to one following: the rate it may go at."""

    repository: str
    site: str
    source_site: str
    rate: Figure | None


class PlanInputs(StrictModel):
    """Everything one night's prediction depends on."""

    window_start: str
    window_seconds: float
    earliest_start_seconds: float
    replication_delay_seconds: float
    replication_interval_seconds: float
    added_ratio: float
    link_efficiency: float
    cores: int
    source_rate: Figure | None
    jobs: list[JobInput]
    links: list[LinkInput]
    #: ``backup.parallel_copies``: the copies already run at once
    parallel_copies: bool = False
    #: ``backup.datasets.X.shards`` above 1: the shards already configured
    shards: dict[str, int] = Field(default_factory=dict)
    #: ``backup.datasets.X.archive``: each (cluster, archive host), see ``planarchive``
    archives: list[ArchiveInput] = Field(default_factory=list)
    #: archived dataset → its dump on the schedule the plan would move it to
    dump_moves: dict[str, DumpMove] = Field(default_factory=dict)


@dataclass(frozen=True)
class PlanRecords:
    """What the agents wrote that the plan measures with."""

    backups: Sequence[BackupRecord] = ()
    replications: Sequence[ReplicationRecord] = ()
    restores: Sequence[RestoreTestRecord] = ()


def load_plan_records(state_dir: Path) -> PlanRecords:
    """Every backup, replication and restore-test record in ``state_dir`` (none is an error)."""
    return PlanRecords(
        read_records(BackupRecord, state_dir),
        read_records(ReplicationRecord, state_dir),
        read_records(RestoreTestRecord, state_dir),
    )


def _moment(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _newest_success(
    records: Sequence[BackupRecord], dataset: str, host: str
) -> BackupRecord | None:
    found = [
        r
        for r in records
        if r.dataset == dataset
        and r.host == host
        and r.result is Result.SUCCESS
        and r.finished_at > r.started_at
        and r.bytes_processed > 0
    ]
    return max(found, key=lambda r: r.finished_at, default=None)


def _make_job(estate: Estate, name: str, site: str, host: str, records: PlanRecords) -> JobInput:
    dataset = estate.backup.datasets[name]
    planning = estate.backup.planning
    schedule = dataset.schedule or estate.backup.schedule
    interval = schedule.interval.total_seconds()
    estimate = dataset.estimate
    postgres = dataset.kind is DatasetKind.POSTGRES
    declared_rate = planning.dump_throughput if postgres else planning.backup_throughput
    size = Figure(value=float(estimate.size or 0), source=DECLARED)
    files = Figure(
        value=float(estimate.files if estimate.files is not None else len(dataset.databases)),
        source=DECLARED,
    )
    change = Figure(value=estimate.daily_change or 0.0, source=DECLARED)
    rate = Figure(value=declared_rate, source=DECLARED)
    walk = Figure(value=planning.files_per_second, source=DECLARED)
    record = _newest_success(records.backups, name, host)
    if record is not None:
        duration = record.finished_at - record.started_at
        where = f"measured on {host} at {_moment(record.finished_at)}"
        size = Figure(value=float(record.bytes_processed), source=where)
        files = Figure(value=float(record.files_processed), source=where)
        changed = record.bytes_added / planning.added_ratio
        per_run = min(changed / record.bytes_processed, 1.0)
        if postgres or record.bytes_added < FULL_BACKUP_SHARE * record.bytes_processed:
            runs_per_day = DAY_SECONDS / interval
            change = Figure(value=min(per_run * max(runs_per_day, 1.0), 1.0), source=where)
        if postgres:
            if record.bytes_processed >= MIN_TIMED_BYTES:
                rate = Figure(
                    value=record.bytes_processed / duration,
                    source=f"{where} ({record.bytes_processed} bytes dumped in {duration:.0f} s)",
                )
        elif changed >= MIN_TIMED_BYTES or record.files_processed >= 1000:
            # one run, two unknowns: scale both declared rates by what the run took
            predicted = record.files_processed / walk.value + changed / rate.value
            factor = predicted / duration
            detail = (
                f"{where} ({record.files_processed} files, {changed:.0f} changed bytes "
                f"in {duration:.0f} s: {factor:.2f}× the declared rates)"
            )
            rate = Figure(value=rate.value * factor, source=detail)
            walk = Figure(value=walk.value * factor, source=detail)
    restore = Figure(value=planning.restore_throughput, source=DECLARED)
    timed = [
        r
        for r in records.restores
        if r.dataset == name and r.result is Result.SUCCESS and r.duration_seconds > 0
    ]
    newest = max(timed, key=lambda r: r.tested_at, default=None)
    if newest is not None and record is not None and record.bytes_processed >= MIN_TIMED_BYTES:
        restore = Figure(
            value=record.bytes_processed / newest.duration_seconds,
            source=(
                f"measured by the restore test from {newest.repository} at "
                f"{_moment(newest.tested_at)} ({record.bytes_processed} bytes in "
                f"{newest.duration_seconds:.0f} s)"
            ),
        )
    return JobInput(
        dataset=name,
        host=host,
        site=site,
        kind=dataset.kind,
        start_seconds=make_offset(schedule.at, estate.backup.schedule.at),
        interval_seconds=interval,
        first_day=schedule.first_day or 1,
        size_bytes=size,
        files=files,
        daily_change=change,
        throughput=rate,
        files_per_second=walk,
        restore_throughput=restore,
        repositories=get_repository_order(estate, dataset),
        target_seconds=get_backup_target(estate, name).target.total_seconds(),
    )


def _make_links(estate: Estate, records: PlanRecords) -> list[LinkInput]:
    order = estate.backup.replication
    if not order:
        return []
    repositories = estate.backup.repositories
    source_site = repositories[order[0]].site
    efficiency = estate.backup.planning.link_efficiency
    links = []
    for name in order[1:]:
        site = repositories[name].site
        declared = [
            bandwidth
            for bandwidth in (
                estate.sites[source_site].wan_bandwidth,
                estate.sites[site].wan_bandwidth,
            )
            if bandwidth is not None
        ]
        rate = Figure(value=min(declared) * efficiency, source=DECLARED) if declared else None
        copies = [
            r
            for r in records.replications
            if r.repository == name
            and r.result is Result.SUCCESS
            and r.bytes_copied is not None
            and r.bytes_copied >= MIN_TIMED_BYTES
            and r.finished_at > r.started_at
        ]
        newest = max(copies, key=lambda r: r.finished_at, default=None)
        if newest is not None and newest.bytes_copied is not None:
            duration = newest.finished_at - newest.started_at
            rate = Figure(
                value=newest.bytes_copied / duration,
                source=(
                    f"measured copying {newest.source} → {name} at "
                    f"{_moment(newest.finished_at)} ({newest.bytes_copied} bytes in "
                    f"{duration:.0f} s)"
                ),
            )
        links.append(LinkInput(repository=name, site=site, source_site=source_site, rate=rate))
    return links


def make_plan_inputs(estate: Estate, records: PlanRecords) -> PlanInputs:
    """The night's figures: every dataset on every active host that backs it up, and every
    copy of the replication order, each figure measured where a record allows."""
    policy = estate.backup
    planning = policy.planning
    jobs = [
        _make_job(estate, name, ref.site, ref.qualified_name, records)
        for name in policy.datasets
        for ref in get_dataset_hosts(estate, name)
        if get_dataset_repository(estate, policy.datasets[name]) is not None
    ]
    links = _make_links(estate, records)
    source_site = links[0].source_site if links else None
    wan = estate.sites[source_site].wan_bandwidth if source_site else None
    shortest = get_shortest_schedule(estate).interval
    return PlanInputs(
        window_start=policy.schedule.at,
        window_seconds=planning.window.total_seconds(),
        earliest_start_seconds=make_offset(planning.earliest_start, policy.schedule.at),
        replication_delay_seconds=REPLICATION_DELAY.total_seconds(),
        replication_interval_seconds=min(shortest, timedelta(days=1)).total_seconds(),
        added_ratio=planning.added_ratio,
        link_efficiency=planning.link_efficiency,
        cores=planning.cores,
        parallel_copies=policy.parallel_copies,
        shards={
            name: dataset.shards for name, dataset in policy.datasets.items() if dataset.shards > 1
        },
        source_rate=(
            Figure(value=wan * planning.link_efficiency, source=DECLARED) if wan else None
        ),
        jobs=jobs,
        links=links,
        archives=make_archive_inputs(estate, jobs, links),
        dump_moves=make_dump_moves(estate),
    )
