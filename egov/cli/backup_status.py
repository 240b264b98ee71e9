"""``egov backup status``: per dataset and site, how fresh the backups are (from records);
with ``--archives``, the WAL archive's state read from the archive hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    load_inventory,
    print_json,
    stdout,
)
from egov.cli.backup_options import StateDirOption
from egov.inventory.fields import MAX_DURATION, format_duration

if TYPE_CHECKING:
    from egov.backup.archivestatus import ArchiveStatus

ArchivesOption = Annotated[
    bool,
    typer.Option(
        "--archives",
        help="Also read each WAL archive host's metrics (node_exporter, over HTTP): newest WAL "
        "and base backup age, barman check. JSON then has `datasets` and `archives`.",
    ),
]


def backup_status(
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
    state_dir: StateDirOption = None,
    archives: ArchivesOption = False,
) -> None:
    """Per dataset and site: last snapshot, age against the RPO target, verified, size; with
    --archives, per WAL archive host: newest WAL and base backup age, barman check."""
    import time

    from egov.backup.archivestatus import load_archive_status
    from egov.backup.freshness import load_status, make_protection_notes
    from egov.records import get_state_dir

    estate = load_inventory(inventory).estate
    rows = load_status(estate, state_dir or get_state_dir(), time.time())
    archive_rows = load_archive_status(estate, time.time()) if archives else []
    if output is OutputFormat.JSON:
        datasets = [row.model_dump(mode="json") for row in rows]
        if not archives:
            print_json(datasets)
            return
        print_json(
            {
                "datasets": datasets,
                "archives": [row.model_dump(mode="json") for row in archive_rows],
            }
        )
        return
    table = Table(
        "dataset",
        "site",
        "repository",
        "hosts",
        "age",
        "target",
        "fresh",
        "verified",
        "restore test",
        "size",
    )
    now = time.time()
    for row in rows:
        table.add_row(
            row.dataset,
            row.site,
            row.repository,
            f"{row.hosts_present}/{row.hosts_expected}",
            _age(row.age_seconds),
            _age(row.target_seconds),
            "yes" if row.fresh else "[red]NO[/red]",
            _age(now - row.verified_at) + " ago" if row.verified_at else "never",
            row.restore_test_result or "never",
            f"{row.size_bytes / 1e9:.2f} GB" if row.size_bytes else "-",
        )
    stdout.print(table)
    if archives:
        stdout.print(_archive_table(archive_rows, now))
    for note in make_protection_notes(estate):
        stdout.print(note, markup=False, soft_wrap=True)


def _archive_table(rows: list[ArchiveStatus], now: float) -> Table:
    """The WAL archive's rows: one per Barman server and archive host."""
    table = Table(
        "dataset",
        "site",
        "archive host",
        "WAL age",
        "limit",
        "base backup age",
        "limit",
        "checks",
        "read",
        title="WAL archive",
    )
    for row in rows:
        if row.error is not None:
            checks = f"[red]unknown: {row.error}[/red]"
        elif row.checks_ok is None:
            checks = "unknown"
        else:
            checks = "OK" if row.checks_ok else "[red]" + ", ".join(row.failing_checks) + "[/red]"
        table.add_row(
            row.dataset,
            row.site,
            row.host,
            _judged(row.wal_age_seconds, row.wal_fresh),
            _age(row.wal_limit_seconds),
            _judged(row.base_backup_age_seconds, row.base_backup_fresh),
            _age(row.base_backup_limit_seconds),
            checks,
            (_age(now - row.collected_at) + " ago" if row.collected_at else "never")
            + ("" if row.collection_ok is not False else " [red](failed)[/red]"),
        )
    return table


def _judged(seconds: float | None, fresh: bool) -> str:
    """An age, red when it is past its limit (or unknown)."""
    return _age(seconds) if fresh else f"[red]{_age(seconds)}[/red]"


def _age(seconds: float | None) -> str:
    """``3 h 20 min``, ``never`` for no time at all."""
    from datetime import timedelta

    if seconds is None:
        return "never"
    if seconds > MAX_DURATION.total_seconds():  # a plan from extreme assumptions
        return f"more than {format_duration(MAX_DURATION)}"
    return format_duration(timedelta(seconds=int(seconds)))
