"""The typer application, its shared options, and the consoles: what every command module uses.

Only egov/cli/ imports typer and rich; library code never prints or exits."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from egov import __version__
from egov.inventory import LoadedEstate, load_estate, resolve_inventory_path
from egov.inventory.loader import DEFAULT_INVENTORY, INVENTORY_ENVIRONMENT_VARIABLE

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
        envvar=INVENTORY_ENVIRONMENT_VARIABLE,
        help=f"Inventory file (default: {DEFAULT_INVENTORY}).",
        show_default=False,
    ),
]
"""Every command that reads the inventory takes it through this one option."""
LimitOption = Annotated[
    list[str] | None,
    typer.Option(
        "--limit",
        help="Only these hosts (repeatable): site/host, site-host, a wildcard, "
        "site:NAME, role:NAME, service:NAME, host:NAME, or a site, role, service name.",
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Leave these hosts out (repeatable; the forms of --limit)."),
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


@dataclass
class Settings:
    """Options of the root command that the error handler needs."""

    debug: bool = False


settings = Settings()


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
    settings.debug = debug


def load_inventory(inventory: Path | None) -> LoadedEstate:
    return load_estate(resolve_inventory_path(inventory))


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def print_warnings(loaded: LoadedEstate) -> None:
    for warning in loaded.warnings:
        stderr.print(f"[yellow]warning:[/yellow] {warning}", markup=True, soft_wrap=True)


agent_app = typer.Typer(
    help="Commands run on the hosts by systemd units (the egov agent).", no_args_is_help=True
)
app.add_typer(agent_app, name="agent")
