"""The ``egov`` command line: parse, call the domain, render. Nothing else prints or exits.

Exit codes (documented in the README): 0 ok, 1 failed, 2 bad input or configuration,
3 changes pending (dry runs), 70 internal error.
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table

from egov import __version__
from egov.errors import EgovError, ExitCode, InventoryError
from egov.inventory import LoadedEstate, load_estate, resolve_inventory_path
from egov.inventory.fields import format_duration
from egov.inventory.schema import render_schema

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)


class OutputFormat(StrEnum):
    """How a reporting command renders its result."""

    TEXT = "text"
    JSON = "json"


InventoryOption = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        "-i",
        help="Inventory file [default: $EGOV_INVENTORY, else inventory/lab.yaml].",
        show_default=False,
    ),
]
OutputOption = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="Render as text or JSON.")
]

app = typer.Typer(
    name="egov",
    help="Deploy, back up, monitor and drill a provincial e-government data centre.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
inventory_app = typer.Typer(help="Read, check and describe the inventory.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")


@dataclass
class _Settings:
    """Options of the root command that the error handler needs."""

    debug: bool = False


_settings = _Settings()


def _version_callback(value: bool) -> None:
    if value:
        stdout.print(f"egov {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    _settings.debug = debug


def _load(inventory: Path | None) -> LoadedEstate:
    return load_estate(resolve_inventory_path(inventory))


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _print_warnings(loaded: LoadedEstate) -> None:
    for warning in loaded.warnings:
        stderr.print(f"[yellow]warning:[/yellow] {warning}", markup=True, soft_wrap=True)


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
    loaded = _load(path or inventory)
    if output is OutputFormat.JSON:
        _print_json({"file": str(loaded.path), "valid": True, "warnings": list(loaded.warnings)})
    else:
        _print_warnings(loaded)
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
    loaded = _load(inventory)
    if output is OutputFormat.JSON:
        _print_json(loaded.estate.model_dump(mode="json"))
        return
    _print_warnings(loaded)
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
    path.write_text(text, encoding="utf-8")
    stdout.print(f"wrote {path}")


def _report(error: EgovError) -> int:
    for line in error.message.splitlines() or [""]:
        stderr.print(f"egov: {line}", markup=False, soft_wrap=True)
    if error.hint:
        stderr.print(f"hint: {error.hint}", markup=False, soft_wrap=True)
    return int(error.exit_code)


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv`` and return the exit code; the one place errors become words."""
    try:
        result = app(args=argv, prog_name="egov", standalone_mode=False)
    except EgovError as error:
        return _report(error)
    except click.exceptions.Abort:
        stderr.print("egov: interrupted")
        return 130
    except click.exceptions.ClickException as error:
        error.show(file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    except click.exceptions.Exit as error:
        return int(error.exit_code)
    except KeyboardInterrupt:
        stderr.print("egov: interrupted")
        return 130
    except Exception as error:  # the last line of defence: never a bare traceback
        stderr.print(f"egov: internal error: {type(error).__name__}", markup=False)
        if _settings.debug:
            traceback.print_exc()
        else:
            stderr.print("hint: run again with --debug and report the traceback", markup=False)
        return int(ExitCode.INTERNAL)
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))
