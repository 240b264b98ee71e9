"""`egov inventory validate|show|schema`: read, check and describe the inventory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    app,
    load_inventory,
    print_json,
    print_warnings,
    stdout,
)
from egov.errors import InventoryError
from egov.inventory import LoadedEstate
from egov.inventory.fields import format_duration
from egov.inventory.schema import render_schema
from egov.outputfile import write_output_text

inventory_app = typer.Typer(help="Read, check and describe the inventory.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")


@inventory_app.command("validate")
def inventory_validate(
    path: Annotated[
        Path | None, typer.Argument(help="Inventory file (overrides --inventory).")
    ] = None,
    inventory: InventoryOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Check the inventory: YAML, types, references, targets, secrets, placeholders."""
    loaded = load_inventory(path or inventory)
    if output is OutputFormat.JSON:
        print_json({"file": str(loaded.path), "valid": True, "warnings": list(loaded.warnings)})
    else:
        print_warnings(loaded)
        estate = loaded.estate
        hosts = sum(1 for _ in estate.iter_hosts())
        stdout.print(
            f"{loaded.path}: valid — estate {estate.name} ({estate.environment.value}), "
            f"{len(estate.sites)} sites, {hosts} hosts, {len(estate.services)} services, "
            f"{len(estate.backup.datasets)} datasets, {len(loaded.warnings)} warnings",
            soft_wrap=True,
        )
    if strict and loaded.warnings:
        raise InventoryError(
            [f"{len(loaded.warnings)} warnings and --strict"], "fix the warnings listed above"
        )


@inventory_app.command("show")
def inventory_show(
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Show the sites, hosts, roles, services and backups (as JSON: the resolved model)."""
    loaded = load_inventory(inventory)
    if output is OutputFormat.JSON:
        print_json(loaded.estate.model_dump(mode="json"))
        return
    print_warnings(loaded)
    for table in _estate_tables(loaded):
        stdout.print(table)


def _estate_tables(loaded: LoadedEstate) -> list[Table]:
    estate = loaded.estate
    sites = Table(title=f"{estate.title} — {estate.name} ({estate.environment.value})")
    for column in ("site", "role", "status", "title", "network", "capacity", "hosts"):
        sites.add_column(column)
    for name, site in estate.sites.items():
        capacity = (
            site.storage_capacity.human_readable(decimal=True) if site.storage_capacity else "-"
        )
        sites.add_row(
            name,
            site.role.value,
            site.status.value,
            site.title,
            str(site.network),
            capacity,
            str(len(site.hosts)),
        )
    hosts = Table(title="Hosts")
    for column in ("host", "address", "roles", "upstream"):
        hosts.add_column(column)
    for ref in estate.iter_hosts():
        hosts.add_row(
            ref.selector,
            str(ref.host.address),
            ", ".join(ref.host.roles) or "-",
            ref.host.upstream or "-",
        )
    services = Table(title="Services")
    for column in ("service", "title", "placement", "RTO", "RPO", "SLO"):
        services.add_column(column)
    for name, service in estate.services.items():
        placement = "; ".join(f"{site}: {', '.join(p.hosts)}" for site, p in service.sites.items())
        services.add_row(
            name,
            service.title,
            placement,
            format_duration(service.rto),
            format_duration(service.rpo),
            f"{service.availability_slo:.2%}",
        )
    backups = Table(title=f"Backups — replication {' → '.join(estate.backup.replication) or '-'}")
    for column in ("dataset", "kind", "hosts", "what", "every"):
        backups.add_column(column)
    for name, dataset in estate.backup.datasets.items():
        schedule = dataset.schedule or estate.backup.schedule
        backups.add_row(
            name,
            dataset.kind.value,
            ", ".join(dataset.hosts),
            ", ".join(dataset.paths or dataset.databases),
            format_duration(schedule.interval),
        )
    return [sites, hosts, services, backups]


@inventory_app.command("schema")
def inventory_schema(
    path: Annotated[
        Path | None, typer.Argument(help="Write the schema here instead of stdout.")
    ] = None,
) -> None:
    """Print (or write) the inventory's JSON Schema, for editors and CI."""
    text = render_schema()
    if path is None:
        sys.stdout.write(text)
        return
    write_output_text(path, text)
    stdout.print(f"wrote {path}", markup=False)
