"""``egov backup status``: per dataset and site, how fresh the backups are (from records)."""

from __future__ import annotations

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


def backup_status(
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
    state_dir: StateDirOption = None,
) -> None:
    """Per dataset and site: last snapshot, age against the RPO target, verified, size."""
    import time

    from egov.backup.freshness import load_status, make_protection_notes
    from egov.records import get_state_dir

    estate = load_inventory(inventory).estate
    rows = load_status(estate, state_dir or get_state_dir(), time.time())
    if output is OutputFormat.JSON:
        print_json([row.model_dump(mode="json") for row in rows])
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
    for note in make_protection_notes(estate):
        stdout.print(note, markup=False, soft_wrap=True)


def _age(seconds: float | None) -> str:
    """``3 h 20 min``, ``never`` for no time at all."""
    from datetime import timedelta

    if seconds is None:
        return "never"
    if seconds > MAX_DURATION.total_seconds():  # a plan from extreme assumptions
        return f"more than {format_duration(MAX_DURATION)}"
    return format_duration(timedelta(seconds=int(seconds)))
