"""A night's bars re-timed where its jobs share a database host's reads or a link. Pure.

``night`` places each job as if alone on what it uses. Here the ones that read the same
database cluster (its dump and the WAL archive's base backups: the host reads at the dump's
rate, ``planarchive``), cross the same inter-site link (a copy and a base backup pulled to
that site) or leave the source site together (the copies and the remote base backups: its
outbound bandwidth) share it as ``sharing`` models, equally while they overlap; what waits
on them (the next job on the same host, the copies after the night's backups) moves with
them. A night with no such overlap keeps its bars exactly as placed.
"""

from __future__ import annotations

from collections.abc import Sequence

from egov.backup.nightjobs import Changes, Job
from egov.backup.planarchive import ArchiveInput
from egov.backup.planfigure import DAY_SECONDS
from egov.backup.planinputs import PlanInputs
from egov.backup.sharing import Stream, share
from egov.inventory.backup import DatasetKind


def _capacities(inputs: PlanInputs, changes: Changes) -> dict[str, float]:
    capacity: dict[str, float] = {}
    for job in inputs.jobs:
        if job.kind is DatasetKind.POSTGRES:
            capacity[f"read:{job.host}"] = job.throughput.value
    for archive in inputs.archives:
        capacity.setdefault(f"read:{archive.host}", archive.read_rate.value)
    for link in inputs.links:
        rate = changes.link_rates.get(link.repository, link.rate.value if link.rate else None)
        if rate is not None:
            capacity[f"link:{link.site}"] = rate
    source = changes.source_rate or (inputs.source_rate.value if inputs.source_rate else None)
    if source is not None and inputs.links:
        capacity[f"out:{inputs.links[0].source_site}"] = source
    return capacity


def share_night(
    inputs: PlanInputs,
    backups: Sequence[Job],
    copies: Sequence[Job],
    bases: Sequence[tuple[ArchiveInput, Job]],
    changes: Changes,
) -> tuple[list[Job], list[Job], list[Job]]:
    """``backups``, ``copies`` and the base backups' bars, re-timed by what they share."""
    streams: list[Stream] = []
    bars: list[Job] = []
    last_on_host: dict[str, int] = {}
    nightly: list[int] = []
    for bar in backups:
        job = next(j for j in inputs.jobs if j.dataset == bar.dataset and j.host == bar.host)
        key = len(bars)
        previous = last_on_host.get(job.host)
        after: tuple[int, ...] = (previous,) if previous is not None else ()
        if job.kind is DatasetKind.POSTGRES:
            stream = Stream(
                key,
                job.size_bytes.value,
                job.throughput.value,
                bar.start_seconds,
                (f"read:{job.host}",),
                after,
            )
        else:  # a restic run on its own host: its duration, whatever else runs
            duration = bar.end_seconds - bar.start_seconds
            stream = Stream(key, duration, 1.0, bar.start_seconds, (), after)
        streams.append(stream)
        bars.append(bar)
        last_on_host[job.host] = key
        if job.interval_seconds >= DAY_SECONDS:
            nightly.append(key)
    source = inputs.links[0].source_site if inputs.links else ""
    previous_copy: tuple[int, ...] = ()
    for bar in copies:
        key = len(bars)
        took = bar.end_seconds - bar.start_seconds
        uses: tuple[str, ...] = (f"link:{bar.site}", f"out:{source}")
        amount, cap = (bar.bytes, bar.bytes / took) if took > 0 else (0.0, 1.0)
        after = (*nightly, *previous_copy)
        streams.append(Stream(key, amount, cap, bar.start_seconds, uses, after))
        bars.append(bar)
        previous_copy = () if changes.parallel_copies else (key,)
    for archive, bar in bases:
        uses = (f"read:{archive.host}",)
        if archive.site != archive.host_site:
            uses += (f"link:{archive.site}", f"out:{archive.host_site}")
        key = len(bars)
        streams.append(
            Stream(key, archive.size_bytes.value, archive.rate.value, bar.start_seconds, uses)
        )
        bars.append(bar)
    timed = share(streams, _capacities(inputs, changes))
    if not any(item.shared for item in timed.values()):
        return list(backups), list(copies), [bar for _, bar in bases]
    moved = [
        bar.model_copy(update={"start_seconds": timed[k].start, "end_seconds": timed[k].end})
        for k, bar in enumerate(bars)
    ]
    return (
        moved[: len(backups)],
        moved[len(backups) : len(backups) + len(copies)],
        moved[len(backups) + len(copies) :],
    )


def get_copy_rate(
    inputs: PlanInputs,
    changes: Changes,
    rate: float,
    repository: str,
    at: float,
    pulls: Sequence[tuple[ArchiveInput, Job]],
) -> float:
    """The rate of a copy to ``repository`` starting at ``at`` (``rate`` alone) while base
    backups pulled across its link or out of its source site run: an equal share of each.
    For the copies of a dataset backed up more often than daily, not drawn as bars: one
    run's change is short to copy, so its share is taken as at its start."""
    link = next(link for link in inputs.links if link.repository == repository)
    capacity = _capacities(inputs, changes)
    copies_at_once = len(inputs.links) if changes.parallel_copies else 1
    running = [
        archive
        for archive, bar in pulls
        if archive.site != archive.host_site and bar.start_seconds <= at < bar.end_seconds
    ]
    shares = [rate]
    across = sum(1 for archive in running if archive.site == link.site)
    if across and f"link:{link.site}" in capacity:
        shares.append(capacity[f"link:{link.site}"] / (1 + across))
    leaving = sum(1 for archive in running if archive.host_site == link.source_site)
    if leaving and f"out:{link.source_site}" in capacity:
        shares.append(capacity[f"out:{link.source_site}"] / (copies_at_once + leaving))
    return min(shares)
