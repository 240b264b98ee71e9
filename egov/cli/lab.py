"""`egov lab …`: the inventory's sites as containers on this machine (faults: ``lab_fault.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    app,
    load_inventory,
    print_json,
    stderr,
    stdout,
)
from egov.errors import InputError

if TYPE_CHECKING:
    from egov.inventory.model import Estate
    from egov.lab.overview import LabStatus
    from egov.lab.spec import LabSpec

lab_app = typer.Typer(
    help="The lab: the inventory's sites as systemd-nspawn containers on this machine.",
    no_args_is_help=True,
)
lab_image_app = typer.Typer(
    help="The lab's cached Debian image and apt repository.", no_args_is_help=True
)
app.add_typer(lab_app, name="lab")
lab_app.add_typer(lab_image_app, name="image")

HostArgument = Annotated[
    str, typer.Argument(help="A lab host: site/host, site-host or another selector naming one.")
]


class _RichLabProgress:
    """Lab progress on stderr: each step on its own line, counters on a terminal bar."""

    def step(self, what: str) -> None:
        stderr.print(f"→ {what}", markup=False)

    def advance(self, done: int, total: int) -> None:
        if stderr.is_terminal:
            stderr.print(f"  {done}/{total}", markup=False)


def load_lab_spec(inventory: Path | None) -> tuple[Estate, LabSpec]:
    """The inventory's estate and the lab made of it."""
    from egov.lab.estate import make_lab_spec

    estate = load_inventory(inventory).estate
    return estate, make_lab_spec(estate)


def _render_lab_status(status: LabStatus) -> None:
    sites = Table(title=f"Lab {status.estate} — image {status.image_key} ({status.image_state})")
    for column in ("site", "network", "bridge", "link", "shaping"):
        sites.add_column(column)
    for site in status.sites:
        shaping = f"{site.shaping_kbit} kbit/s" if site.shaping_kbit else "-"
        sites.add_row(site.name, site.network, site.bridge, site.link, shaping)
    hosts = Table(title="Hosts")
    for column in ("host", "address", "roles", "running", "ssh"):
        hosts.add_column(column)
    for host in status.hosts:
        ssh = "-" if host.ssh_ok is None else ("[green]ok[/]" if host.ssh_ok else "[red]no[/]")
        running = "[green]yes[/]" if host.running else "[red]no[/]"
        hosts.add_row(host.machine, host.address, ", ".join(host.roles), running, ssh)
    stdout.print(sites)
    stdout.print(hosts)
    if status.faults:
        stdout.print(
            "Faults in force: " + "; ".join(f"{f.kind} {f.target}" for f in status.faults),
            soft_wrap=True,
        )
    up = sum(1 for host in status.hosts if host.running)
    stdout.print(f"{up}/{len(status.hosts)} hosts running, {len(status.faults)} faults in force")


@lab_app.command("up")
def lab_up_command(
    inventory: InventoryOption = None, output: OutputOption = OutputFormat.TEXT
) -> None:
    """Build (or repair) the lab and start every host; a running lab is left alone."""
    from egov import lab
    from egov.lab.estate import create_lab_secrets

    estate, spec = load_lab_spec(inventory)
    lab.check_host_prerequisites()
    created = create_lab_secrets(estate)
    if created:
        stderr.print(
            f"→ generated {len(created)} lab secrets under {lab.get_state_dir() / 'secrets'}",
            markup=False,
        )
    status = lab.lab_up(spec, _RichLabProgress())
    if output is OutputFormat.JSON:
        print_json(status.to_dict())
    else:
        _render_lab_status(status)


@lab_app.command("down")
def lab_down_command(
    inventory: InventoryOption = None,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete the hosts' disks and lab state.")
    ] = False,
    purge_image: Annotated[
        bool, typer.Option("--purge-image", help="Also delete the cached image.")
    ] = False,
) -> None:
    """Stop the lab and remove what it created (mounts, bridges, firewall table, processes)."""
    from egov import lab

    _, spec = load_lab_spec(inventory)
    taken = lab.lab_down(spec, purge=purge, purge_image=purge_image, progress=_RichLabProgress())
    stdout.print(f"lab down: {', '.join(taken) or 'nothing was running'}")


@lab_app.command("status")
def lab_status_command(
    inventory: InventoryOption = None, output: OutputOption = OutputFormat.TEXT
) -> None:
    """Show hosts, links and faults in force."""
    from egov import lab

    _, spec = load_lab_spec(inventory)
    status = lab.lab_status(spec)
    if output is OutputFormat.JSON:
        print_json(status.to_dict())
    else:
        _render_lab_status(status)


@lab_app.command("ssh", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def lab_ssh_command(
    context: typer.Context,
    host: HostArgument,
    inventory: InventoryOption = None,
) -> None:
    """Open SSH to a lab host (strict host keys), or run the command given after --."""
    import subprocess

    from egov import lab

    estate, spec = load_lab_spec(inventory)
    argv = lab.ssh_argv(spec, resolve_machine(estate, host), list(context.args))
    raise typer.Exit(subprocess.call(argv))


@lab_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def lab_exec_command(
    context: typer.Context,
    host: HostArgument,
    inventory: InventoryOption = None,
) -> None:
    """Run a command as root inside a lab host (works even with its link cut): exec HOST -- CMD."""
    from egov import lab

    if not context.args:
        raise InputError("no command given", "egov lab exec primary/db-01 -- systemctl status")
    estate, spec = load_lab_spec(inventory)
    result = lab.lab_exec(spec, resolve_machine(estate, host), list(context.args), capture=False)
    raise typer.Exit(result.returncode)


@lab_image_app.command("build")
def lab_image_build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild a cached image.")] = False,
) -> None:
    """Build the Debian image and the local apt repository (cached by recipe)."""
    from egov import lab

    lab.check_host_prerequisites()
    status = lab.image_build(
        progress=_RichLabProgress(), force=force, in_use=lab.get_image_in_use()
    )
    stdout.print(f"image {status.key}: {status.state} at {status.path}")


@lab_image_app.command("status")
def lab_image_status(output: OutputOption = OutputFormat.TEXT) -> None:
    """Show whether the current recipe's image is cached."""
    import dataclasses

    from egov import lab

    status = lab.get_image_status()
    if output is OutputFormat.JSON:
        print_json(
            {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(status).items()}
        )
        return
    stdout.print(f"image {status.key}: {status.state} at {status.path}")
    if status.build_seconds is not None:
        stdout.print(
            f"built {status.built_at} in {status.build_seconds:.0f} s, "
            f"{status.repository_package_count} packages in the apt repository"
        )
    if status.other_keys:
        stdout.print(f"other cached images: {', '.join(status.other_keys)} (egov lab image prune)")


@lab_image_app.command("prune")
def lab_image_prune(
    all_images: Annotated[
        bool, typer.Option("--all", help="Also remove the current recipe's image.")
    ] = False,
) -> None:
    """Remove cached images that no lab uses."""
    from egov import lab

    lab.check_host_prerequisites()
    removed = lab.image_prune(lab.get_image_in_use(), keep_current=not all_images)
    stdout.print(f"removed {len(removed)} images" + (f": {', '.join(removed)}" if removed else ""))


def resolve_machine(estate: Estate, host: str) -> str:
    """The machine name (``site-host``) of the one lab host ``host`` names, with the one
    host-selector parser: InputError when it names none or several."""
    from egov.inventory.selectors import resolve_host

    return resolve_host(estate, host, "lab host").qualified_name
