"""``egov backup run`` and ``replicate``: start the hosts' own units now, over SSH, and wait.

The run is the nightly one (same lock, record, metrics and journal), started early: see
``egov.backup.ondemand``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import MofNCompleteColumn, Progress, TextColumn

from egov.cli.app import ExcludeOption, InventoryOption, LimitOption, load_inventory, stderr, stdout
from egov.errors import InputError
from egov.hostlayout import REPLICATION_UNIT


def backup_run(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="Only these hosts (repeatable; the forms of --limit)."),
    ] = None,
    site: Annotated[
        list[str] | None, typer.Option("--site", help="Only hosts of this site (repeatable).")
    ] = None,
    limit: LimitOption = None,
    exclude: ExcludeOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run.")] = False,
    inventory: InventoryOption = None,
) -> None:
    """Back up now: start each matching host's backup unit over SSH and wait for it."""
    from egov.backup.ondemand import make_run_targets, make_start_command
    from egov.errors import BackupError, CommandFailed
    from egov.execute import run_command
    from egov.inventory.selectors import match_selector, select_hosts
    from egov.ssh import make_ssh_command

    estate = load_inventory(inventory).estate
    for text in host or []:  # named as --host in the error, not as the --limit it joins
        match_selector(estate, text, "--host")
    hosts = select_hosts(
        estate, sites=site, limits=[*(host or []), *(limit or [])], excludes=exclude
    )
    targets = make_run_targets(estate, dataset, hosts)
    if dry_run:
        for target in targets:
            stdout.print(f"would start {target.unit} on {target.ref.selector}", soft_wrap=True)
        return
    failures = []
    with Progress(TextColumn("{task.description}"), MofNCompleteColumn(), console=stderr) as bar:
        task = bar.add_task("backing up", total=len(targets))
        for target in targets:
            bar.update(task, description=f"{target.dataset} on {target.ref.selector}")
            argv = make_ssh_command(estate, target.ref, make_start_command(target))
            try:
                run_command(argv, timeout_seconds=None)
                stdout.print(f"ok      {target.dataset} on {target.ref.selector}")
            except CommandFailed as error:
                failures.append(
                    f"{target.dataset} on {target.ref.selector}: {error.stderr_tail.strip()[-800:]}"
                )
                stdout.print(f"FAILED  {target.dataset} on {target.ref.selector}")
            bar.advance(task)
    if failures:
        raise BackupError(
            f"{len(failures)} of {len(targets)} backups failed:\n" + "\n".join(failures),
            "journalctl -u egov-backup@<dataset> on the host says why",
        )


def backup_replicate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run.")] = False,
    inventory: InventoryOption = None,
) -> None:
    """Replicate now (restic copy to every other repository, then the catalog refresh): a
    run of the replication host's unit that starts after any run in flight, waited for."""
    from egov.backup.agentconfig import get_replication_host
    from egov.backup.ondemand import make_run_now_command
    from egov.errors import BackupError, CommandFailed
    from egov.execute import run_command
    from egov.ssh import make_ssh_command

    estate = load_inventory(inventory).estate
    ref = get_replication_host(estate)
    if ref is None or not estate.backup.replication:
        raise InputError("the inventory replicates nothing", "list backup.replication")
    unit = REPLICATION_UNIT
    if dry_run:
        stdout.print(f"would start {unit} on {ref.selector}", soft_wrap=True)
        return
    argv = make_ssh_command(estate, ref, make_run_now_command(unit))
    stderr.print(f"→ replicating on {ref.selector}: {' → '.join(estate.backup.replication)}")
    try:
        run_command(argv, timeout_seconds=None)
    except CommandFailed as error:
        raise BackupError(
            f"replication on {ref.selector} failed: {error.stderr_tail.strip()[-800:]}",
            f"see `journalctl -u {unit}` on {ref.selector}, and `egov backup status`",
        ) from None
    stdout.print(f"replicated on {ref.selector}")
