"""`egov deploy` (and the canary the app hosts run): configure the hosts with pyinfra."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from egov.cli.app import (
    ExcludeOption,
    InventoryOption,
    LimitOption,
    OutputFormat,
    OutputOption,
    agent_app,
    app,
    load_inventory,
    print_json,
    stderr,
    stdout,
)
from egov.deploys.recap import DeployResult, HostStatus
from egov.errors import InputError
from egov.hostlayout import CANARY_CONFIG_FILE


class _RichDeployProgress:
    """Deploy progress on stderr: one line per phase, a live bar on a terminal."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> _RichDeployProgress:
        self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()

    def phase(self, name: str, hosts: int) -> None:
        stderr.print(f"→ {name}: {hosts} hosts", markup=False)
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(name, total=hosts if name != "execute" else None)

    def host_done(self, host: str, ok: bool) -> None:
        if self.task is not None:
            self.progress.advance(self.task)
        if not ok:
            stderr.print(f"  ✗ {host} unreachable", markup=False)

    def operation(self, name: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=f"execute: {name}")


def _render_recap(result: DeployResult) -> None:
    if result.dry_run:
        for host in result.hosts:
            if host.diff:
                stdout.print(f"[bold]{host.name}[/bold]: files that would change")
                for line in host.diff:
                    style = (
                        "green" if line.startswith("+") else "red" if line.startswith("-") else ""
                    )
                    stdout.print(f"  {line}", style=style or None, markup=False, highlight=False)
    table = Table(title="Deploy recap" + (" (dry run: nothing changed)" if result.dry_run else ""))
    for column in (
        "host",
        "status",
        "ok",
        "changed" if not result.dry_run else "to change",
        "failed",
        "time",
        "detail",
    ):
        table.add_column(column)
    colours = {
        HostStatus.OK: "green",
        HostStatus.CHANGED: "yellow",
        HostStatus.FAILED: "red",
        HostStatus.UNREACHABLE: "red",
    }
    for host in result.hosts:
        detail = host.error[:200]
        table.add_row(
            host.name,
            f"[{colours[host.status]}]{host.status.value}[/]",
            str(host.ok),
            str(len(host.changed)),
            str(host.failed),
            f"{host.seconds:.1f}s",
            detail,
        )
    stdout.print(table)
    pending = "pending " if result.dry_run else ""
    summary = (
        f"{len(result.hosts)} hosts, {result.changes} {pending}changes, "
        f"{len(result.failed_hosts)} failed, {result.seconds:.1f}s"
    )
    stdout.print(summary, soft_wrap=True)
    if result.aborted:
        stderr.print(f"egov: deploy stopped: {result.aborted}", markup=False)


@app.command("deploy")
def deploy_command(
    inventory: InventoryOption = None,
    site: Annotated[
        list[str] | None, typer.Option("--site", help="Only hosts of this site (repeatable).")
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="Only hosts with this role (repeatable).")
    ] = None,
    limit: LimitOption = None,
    exclude: ExcludeOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show the plan and the diffs; change nothing (exit 3 if changes are pending).",
        ),
    ] = False,
    serial: Annotated[bool, typer.Option("--serial", help="One host after another.")] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop everything at the first failed host.")
    ] = False,
    no_agent: Annotated[
        bool, typer.Option("--no-agent", help="Do not build or install the egov agent.")
    ] = False,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Configure the hosts from the inventory (pyinfra over SSH)."""
    from egov.deploys.audit import append_record, make_record
    from egov.deploys.pyinfraapi import run_deploy
    from egov.deploys.wheelhouse import build_wheelhouse
    from egov.inventory.pyinfra_bridge import check_connectable, check_ssh_files
    from egov.inventory.selectors import select_hosts

    loaded = load_inventory(inventory)
    estate = loaded.estate
    hosts = select_hosts(estate, sites=site, roles=role, limits=limit, excludes=exclude)
    check_connectable(hosts)
    check_ssh_files(estate, hosts)
    wheelhouse = None
    extra_data: dict[str, Any] = {}
    if not no_agent:
        stderr.print("→ agent wheelhouse", markup=False)
        wheelhouse = build_wheelhouse()
        if any("objectstore" in ref.host.roles for ref in hosts):
            from egov.deploys import objectstore
            from egov.deploys.wheelhouse import build_requirements_wheelhouse

            stderr.print("→ object store wheelhouse", markup=False)
            path = build_requirements_wheelhouse(
                objectstore.OBJECTSTORE_WHEELHOUSE_NAME, objectstore.OBJECTSTORE_REQUIREMENTS
            )
            extra_data[objectstore.OBJECTSTORE_WHEELHOUSE_KEY] = str(path)
    with _RichDeployProgress() as progress:
        result = run_deploy(
            estate,
            hosts,
            dry_run=dry_run,
            serial=serial,
            fail_fast=fail_fast,
            wheelhouse=wheelhouse,
            progress=progress,
            extra_data=extra_data,
        )
    code = result.exit_code()
    append_record(
        make_record(
            "deploy",
            {
                "inventory": str(loaded.path.resolve()),
                "estate": estate.name,
                "dry_run": dry_run,
                "selection": {"site": site, "role": role, "limit": limit, "exclude": exclude},
                "exit_code": int(code),
                "seconds": round(result.seconds, 1),
                "hosts": {
                    h.name: {"status": h.status.value, "changed": h.changed, "error": h.error}
                    for h in result.hosts
                },
            },
        )
    )
    if output is OutputFormat.JSON:
        print_json(result.to_json())
    else:
        _render_recap(result)
    raise typer.Exit(int(code))


@agent_app.command("canary")
def agent_canary(
    config: Annotated[
        Path, typer.Option("--config", help="The canary's JSON configuration.")
    ] = Path(CANARY_CONFIG_FILE),
) -> None:
    """Serve the canary (the lab's stand-in for the province's applications)."""
    import logging

    from egov.canary.server import CanaryConfig, serve

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        loaded = CanaryConfig.load(config)
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"{config}: cannot read the canary configuration: {error}") from None
    serve(loaded)
