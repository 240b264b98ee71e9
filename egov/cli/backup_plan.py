"""``egov backup plan``: the night predicted from the inventory and the records, and what
would make it fit, as text, JSON or an SVG chart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    load_inventory,
    print_json,
    stderr,
    stdout,
)
from egov.cli.backup_options import StateDirOption
from egov.outputfile import write_output_text

if TYPE_CHECKING:
    from egov.backup.night import Night
    from egov.backup.plan import BackupPlan
    from egov.backup.planarchive import ArchiveInput


def backup_plan(
    inventory: InventoryOption = None,
    state_dir: StateDirOption = None,
    from_hosts: Annotated[
        bool,
        typer.Option(
            "--from-hosts", help="Also read each backup host's records over SSH (read-only)."
        ),
    ] = False,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Draw the night into this SVG file.")
    ] = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Predict the night from the inventory and the agents' records; propose what makes it fit.

    Sizes, files, change and rates come from the newest records in the state directory
    (and, with --from-hosts, on each backup host): measured; else from the inventory's
    estimates: declared. Each figure says which.
    """
    from egov.backup.chart import render_svg
    from egov.backup.plan import make_backup_plan
    from egov.backup.planinputs import load_plan_records, make_plan_inputs
    from egov.records import get_state_dir

    estate = load_inventory(inventory).estate
    records = load_plan_records(state_dir or get_state_dir())
    if from_hosts:
        import dataclasses

        from egov.backup.hostrecords import fetch_backup_records

        fetched = fetch_backup_records(estate)
        for host in fetched.unreachable:
            stderr.print(f"warning: records not read from {host}", markup=False, soft_wrap=True)
        records = dataclasses.replace(records, backups=[*records.backups, *fetched.records])
    plan = make_backup_plan(make_plan_inputs(estate, records))
    if svg is not None:
        night = plan.proposed if plan.proposals else plan.night
        write_output_text(svg, render_svg(night, plan.inputs.window_start, longer=plan.longer))
    if output is OutputFormat.JSON:
        print_json(plan.model_dump(mode="json"))
        return
    _print_plan(plan)


def _print_plan(plan: BackupPlan) -> None:
    from egov.backup.chart import get_night_title
    from egov.backup.night import format_seconds
    from egov.backup.planfigure import format_clock
    from egov.inventory.fields import format_rate

    inputs = plan.inputs
    stdout.print(
        f"window: {inputs.window_start} for {format_seconds(inputs.window_seconds)}",
        soft_wrap=True,
    )
    for job in inputs.jobs:
        stdout.print(
            f"{job.dataset} on {job.host}: {job.size_bytes.value / 1e9:,.1f} GB "
            f"({job.size_bytes.source}), {job.files.value:,.0f} files ({job.files.source}), "
            f"{job.daily_change.value:.2%} a day ({job.daily_change.source}), "
            f"{job.throughput.value / 1e6:,.0f} MB/s and "
            f"{job.files_per_second.value:,.0f} files/s ({job.throughput.source})",
            soft_wrap=True,
            markup=False,
        )
    for link in inputs.links:
        rate = f"{format_rate(link.rate.value)} ({link.rate.source})" if link.rate else "unknown"
        stdout.print(f"copy {link.source_site} → {link.site}: {rate}", soft_wrap=True)
    if inputs.source_rate is not None:
        stdout.print(
            f"copies share {format_rate(inputs.source_rate.value)} out of "
            f"{inputs.links[0].source_site} ({inputs.source_rate.source})",
            soft_wrap=True,
        )
    for archive in inputs.archives:
        stdout.print(
            f"base backup of {archive.dataset} ({archive.host} → {archive.archive_host}): "
            f"{archive.size_bytes.value / 1e9:,.1f} GB ({archive.size_bytes.source}) at "
            f"{archive.rate.value / 1e6:,.0f} MB/s ({archive.rate.source}): "
            f"{format_seconds(archive.base_backup_seconds)} every "
            f"{format_seconds(archive.interval_seconds)} from "
            f"{format_clock(inputs.window_start, archive.start_seconds)}"
            + _on_nights(archive)
            + ", "
            + ("ends before the next is due" if archive.fits else "NOT done before the next"),
            soft_wrap=True,
            markup=False,
        )
    _print_night("the night as configured", plan.night, inputs.window_start)
    if plan.proposals:
        stdout.print("proposed:", soft_wrap=True)
        for proposal in plan.proposals:
            stdout.print(f"  {proposal.kind}: {proposal.text}", soft_wrap=True, markup=False)
        if plan.proposed != plan.night:
            _print_night("the night with the proposals", plan.proposed, inputs.window_start)
    for longer in plan.longer:
        title = get_night_title(longer) + (" (with the proposals)" if plan.proposals else "")
        _print_night(title, longer, inputs.window_start, own_night=True)
    for restore in plan.restores:
        stdout.print(
            f"restore {restore.dataset} ({restore.host}): {format_seconds(restore.seconds)} at "
            f"{restore.rate.value / 1e6:,.0f} MB/s ({restore.rate.source})",
            soft_wrap=True,
            markup=False,
        )


def _on_nights(archive: ArchiveInput) -> str:
    """`` on the night of days 3, 10, 17, 24 and 31`` for base backups taken less often than
    daily (which nights they share with the dump is the plan's business), else nothing."""
    from egov.backup.nightdays import describe_days, get_days
    from egov.backup.planfigure import DAY_SECONDS

    if archive.interval_seconds <= DAY_SECONDS:
        return ""
    return f" on the night of {describe_days(sorted(get_days(archive, {})))}"


def _print_night(title: str, night: Night, window_start: str, *, own_night: bool = False) -> None:
    """One night's table, RPO and findings; ``own_night``: a night of weekly jobs, which may
    take more hours than the window, so it says how many, then what runs past the window or
    into the next night."""
    from egov.backup.night import format_seconds
    from egov.backup.planfigure import format_clock

    def at(seconds: float) -> str:
        return f"{format_clock(window_start, seconds)} ({seconds / 3600:+.2f} h)"

    table = Table("job", "site", "start", "end", "GB", title=title)
    for job in night.jobs:
        table.add_row(
            job.label + (f" ×{job.shards}" if job.shards > 1 else ""),
            job.site,
            at(job.start_seconds),
            at(job.end_seconds),
            f"{job.bytes / 1e9:,.1f}",
        )
    stdout.print(table)
    for item in night.rpo:
        verdict = "ok" if item.meets else "[red]MISSES[/red]"
        via = f" ({item.via})" if item.via != "snapshots" else ""
        stdout.print(
            f"RPO of {item.dataset} at {item.site}{via}: "
            f"{format_seconds(item.predicted_seconds)} "
            f"(target {format_seconds(item.target_seconds)}) {verdict}",
            soft_wrap=True,
        )
    if own_night and night.jobs:
        start, end = night.span
        stdout.print(
            f"{title}: needs {format_seconds(end - start)}, from "
            f"{format_clock(window_start, start)} to {format_clock(window_start, end)}",
            soft_wrap=True,
        )
    for finding in night.findings:
        prefix = "on that night" if own_night else "does not fit"
        stdout.print(f"{prefix}: {finding}", soft_wrap=True, markup=False)
    if night.fits and not own_night:
        stdout.print(f"{title}: everything fits in the window", soft_wrap=True)
