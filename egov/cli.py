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

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from egov import __version__
from egov.deploys.recap import DeployResult, HostStatus
from egov.errors import EgovError, ExitCode, InputError, InventoryError
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
    limit: Annotated[
        list[str] | None,
        typer.Option(
            "--limit",
            help="Only these hosts or groups: site/host, a wildcard, a site, role or service name.",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Leave these hosts or groups out.")
    ] = None,
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
    from egov.deploys.runner import run_deploy
    from egov.deploys.selection import select_hosts
    from egov.deploys.wheelhouse import build_wheelhouse
    from egov.inventory.pyinfra_bridge import check_connectable, check_ssh_files

    loaded = _load(inventory)
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
        _print_json(result.to_json())
    else:
        _render_recap(result)
    raise typer.Exit(int(code))


agent_app = typer.Typer(
    help="Commands run on the hosts by systemd units (the egov agent).", no_args_is_help=True
)
app.add_typer(agent_app, name="agent")


@agent_app.command("canary")
def agent_canary(
    config: Annotated[
        Path, typer.Option("--config", help="The canary's JSON configuration.")
    ] = Path("/etc/egov/canary.json"),
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


lab_app = typer.Typer(
    help="The lab: the inventory's sites as systemd-nspawn containers on this machine.",
    no_args_is_help=True,
)
lab_image_app = typer.Typer(
    help="The lab's cached Debian image and apt repository.", no_args_is_help=True
)
lab_fault_app = typer.Typer(
    help="Inject and clear faults: power, links, services, disks.", no_args_is_help=True
)
app.add_typer(lab_app, name="lab")
lab_app.add_typer(lab_image_app, name="image")
lab_app.add_typer(lab_fault_app, name="fault")


class _RichLabProgress:
    """Lab progress on stderr: each step on its own line, counters on a terminal bar."""

    def step(self, what: str) -> None:
        stderr.print(f"→ {what}", markup=False)

    def advance(self, done: int, total: int) -> None:
        if stderr.is_terminal:
            stderr.print(f"  {done}/{total}", markup=False)


def _lab_spec(inventory: Path | None) -> tuple[Any, Any]:
    from egov.lab.estate import make_lab_spec

    estate = _load(inventory).estate
    return estate, make_lab_spec(estate)


def _render_lab_status(status: Any) -> None:
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

    estate, spec = _lab_spec(inventory)
    lab.check_host_prerequisites()
    created = create_lab_secrets(estate)
    if created:
        stderr.print(
            f"→ generated {len(created)} lab secrets under {lab.get_state_dir() / 'secrets'}",
            markup=False,
        )
    status = lab.lab_up(spec, _RichLabProgress())
    if output is OutputFormat.JSON:
        _print_json(status.to_dict())
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

    _, spec = _lab_spec(inventory)
    taken = lab.lab_down(spec, purge=purge, purge_image=purge_image, progress=_RichLabProgress())
    stdout.print(f"lab down: {', '.join(taken) or 'nothing was running'}")


@lab_app.command("status")
def lab_status_command(
    inventory: InventoryOption = None, output: OutputOption = OutputFormat.TEXT
) -> None:
    """Show hosts, links and faults in force."""
    from egov import lab

    _, spec = _lab_spec(inventory)
    status = lab.lab_status(spec)
    if output is OutputFormat.JSON:
        _print_json(status.to_dict())
    else:
        _render_lab_status(status)


@lab_app.command("ssh", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def lab_ssh_command(
    context: typer.Context,
    host: Annotated[str, typer.Argument(help="site/host or site-host.")],
    inventory: InventoryOption = None,
) -> None:
    """Open SSH to a lab host (strict host keys), or run the command given after --."""
    import subprocess

    from egov import lab
    from egov.lab.estate import resolve_machine

    estate, spec = _lab_spec(inventory)
    argv = lab.ssh_argv(spec, resolve_machine(estate, host), list(context.args))
    raise typer.Exit(subprocess.call(argv))


@lab_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def lab_exec_command(
    context: typer.Context,
    host: Annotated[str, typer.Argument(help="site/host or site-host.")],
    inventory: InventoryOption = None,
) -> None:
    """Run a command as root inside a lab host (works even with its link cut): exec HOST -- CMD."""
    from egov import lab
    from egov.lab.estate import resolve_machine

    if not context.args:
        raise InputError("no command given", "egov lab exec primary/db-01 -- systemctl status")
    estate, spec = _lab_spec(inventory)
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
        _print_json(
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


HostArgument = Annotated[str, typer.Argument(help="A lab host: site/host or site-host.")]
SiteArgument = Annotated[str, typer.Argument(help="A site of the inventory.")]
HostOrSiteArgument = Annotated[str, typer.Argument(help="A site, or a host (site/host).")]


def _fault_target(
    inventory: Path | None, target: str, *, sites: bool, hosts: bool
) -> tuple[Any, str | None]:
    """The lab spec and the machine named by ``target`` (None when it names a site)."""
    from egov.lab.estate import resolve_machine

    estate, spec = _lab_spec(inventory)
    if sites and target in estate.sites:
        return spec, None
    if not hosts:
        raise InputError(f"{target!r} is not a site", f"sites: {', '.join(estate.sites)}")
    return spec, resolve_machine(estate, target)


def _fault_done(what: str) -> None:
    stdout.print(f"{what}: done (egov lab status shows the faults in force)")


@lab_fault_app.command("power-off")
def fault_power_off(target: HostOrSiteArgument, inventory: InventoryOption = None) -> None:
    """Power off a host, or every host of a site."""
    from egov import lab

    spec, machine = _fault_target(inventory, target, sites=True, hosts=True)
    lab.power_off_site(spec, target) if machine is None else lab.power_off_host(spec, machine)
    _fault_done(f"power-off {target}")


@lab_fault_app.command("power-on")
def fault_power_on(target: HostOrSiteArgument, inventory: InventoryOption = None) -> None:
    """Power a host, or a site, back on and wait for SSH."""
    from egov import lab

    spec, machine = _fault_target(inventory, target, sites=True, hosts=True)
    lab.power_on_site(spec, target) if machine is None else lab.power_on_host(spec, machine)
    _fault_done(f"power-on {target}")


@lab_fault_app.command("cut")
def fault_cut(site: SiteArgument, inventory: InventoryOption = None) -> None:
    """Cut a site's link to the other sites (and to the control node)."""
    from egov import lab

    spec, _ = _fault_target(inventory, site, sites=True, hosts=False)
    lab.cut_link(spec, site)
    _fault_done(f"cut {site}")


@lab_fault_app.command("restore")
def fault_restore(site: SiteArgument, inventory: InventoryOption = None) -> None:
    """Restore a site's link."""
    from egov import lab

    spec, _ = _fault_target(inventory, site, sites=True, hosts=False)
    lab.restore_link(spec, site)
    _fault_done(f"restore {site}")


@lab_fault_app.command("shape")
def fault_shape(
    site: SiteArgument,
    rate_kbit: Annotated[
        int, typer.Option("--rate-kbit", min=8, help="Bandwidth in kbit/s.")
    ] = 1000,
    inventory: InventoryOption = None,
) -> None:
    """Limit a site link's bandwidth (tbf)."""
    from egov import lab

    spec, _ = _fault_target(inventory, site, sites=True, hosts=False)
    lab.shape_link(spec, site, rate_kbit)
    _fault_done(f"shape {site} to {rate_kbit} kbit/s")


@lab_fault_app.command("unshape")
def fault_unshape(site: SiteArgument, inventory: InventoryOption = None) -> None:
    """Remove a site link's bandwidth limit."""
    from egov import lab

    spec, _ = _fault_target(inventory, site, sites=True, hosts=False)
    lab.unshape_link(spec, site)
    _fault_done(f"unshape {site}")


@lab_fault_app.command("stop-service")
def fault_stop_service(
    host: HostArgument,
    unit: Annotated[str, typer.Argument(help="A systemd unit.")],
    inventory: InventoryOption = None,
) -> None:
    """Stop a systemd unit on a host."""
    from egov import lab

    spec, machine = _fault_target(inventory, host, sites=False, hosts=True)
    assert machine is not None
    lab.stop_service(spec, machine, unit)
    _fault_done(f"stop-service {host} {unit}")


@lab_fault_app.command("start-service")
def fault_start_service(
    host: HostArgument,
    unit: Annotated[str, typer.Argument(help="A systemd unit.")],
    inventory: InventoryOption = None,
) -> None:
    """Start a systemd unit on a host again."""
    from egov import lab

    spec, machine = _fault_target(inventory, host, sites=False, hosts=True)
    assert machine is not None
    lab.start_service(spec, machine, unit)
    _fault_done(f"start-service {host} {unit}")


@lab_fault_app.command("fill")
def fault_fill(
    host: HostArgument,
    path: Annotated[str, typer.Argument(help="A path on the filesystem to fill.")] = "/",
    inventory: InventoryOption = None,
) -> None:
    """Fill the filesystem holding a path on a host."""
    from egov import lab

    spec, machine = _fault_target(inventory, host, sites=False, hosts=True)
    assert machine is not None
    lab.fill_filesystem(spec, machine, path)
    _fault_done(f"fill {host} {path}")


@lab_fault_app.command("unfill")
def fault_unfill(
    host: HostArgument,
    path: Annotated[str, typer.Argument(help="The path given to fill.")] = "/",
    inventory: InventoryOption = None,
) -> None:
    """Free what fill took."""
    from egov import lab

    spec, machine = _fault_target(inventory, host, sites=False, hosts=True)
    assert machine is not None
    lab.unfill_filesystem(spec, machine, path)
    _fault_done(f"unfill {host} {path}")


monitor_app = typer.Typer(
    help="Monitoring: the egov exporter, alert rules, dashboards, the estate's status.",
    no_args_is_help=True,
)
app.add_typer(monitor_app, name="monitor")

OutputDirectoryArgument = Annotated[
    Path, typer.Argument(help="Directory to write into (created if missing).")
]


def _monitoring_targets(inventory: Path | None, targets_file: Path | None) -> Any:
    from egov.monitoring.targets import load_targets, make_targets

    if targets_file is None:
        return make_targets(_load(inventory).estate)
    try:
        return load_targets(targets_file)
    except (OSError, ValueError) as error:
        raise InputError(
            f"{targets_file}: cannot read the monitoring targets: {error}",
            "give the file the monitoring deploy writes, or --inventory instead",
        ) from None


def _output_directory(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"{directory}: cannot use as output directory: {error.strerror or error}",
            "give a writable directory",
        ) from None
    return directory


def _write_outputs(files: dict[Path, str]) -> None:
    for path, text in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise InputError(
                f"{path}: cannot write: {error.strerror or error}", "give a writable directory"
            ) from None
        stdout.print(f"wrote {path}", soft_wrap=True)


@monitor_app.command("exporter")
def monitor_exporter(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = (
        9640
    ),
    address: Annotated[str, typer.Option("--address", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="State directory [default: $EGOV_STATE_DIR, else /var/lib/egov/state].",
            show_default=False,
        ),
    ] = None,
    targets_file: Annotated[
        Path | None,
        typer.Option("--targets", help="Targets JSON written by the deploy (else --inventory)."),
    ] = None,
    inventory: InventoryOption = None,
) -> None:
    """Serve the egov metrics (backups, replication, verification, drills) for Prometheus."""
    from egov.monitoring.exporter import RecordReader, run_exporter
    from egov.records import get_state_dir

    directory = state_dir or get_state_dir()
    try:
        RecordReader(directory).check()
    except OSError as error:
        raise InputError(
            f"{directory}: cannot read the state directory: {error.strerror or error}",
            "give an existing, readable directory with --state-dir",
        ) from None
    targets = _monitoring_targets(inventory, targets_file)
    stdout.print(f"egov exporter: http://{address}:{port}/metrics, state {directory}")
    try:
        run_exporter(targets, directory, address, port)
    except OSError as error:
        raise InputError(
            f"cannot listen on {address}:{port}: {error.strerror or error}",
            "choose another --address or --port",
        ) from None


@monitor_app.command("rules")
def monitor_rules(
    directory: OutputDirectoryArgument = Path(),
    inventory: InventoryOption = None,
) -> None:
    """Write the Prometheus alert rules generated from the inventory (egov.yml)."""
    from egov.monitoring.rules import RULES_FILE_NAME, render_rules
    from egov.monitoring.targets import make_targets

    text = render_rules(make_targets(_load(inventory).estate))
    _write_outputs({_output_directory(directory) / RULES_FILE_NAME: text})


@monitor_app.command("dashboards")
def monitor_dashboards(
    directory: OutputDirectoryArgument = Path(),
    inventory: InventoryOption = None,
) -> None:
    """Write the Grafana dashboards and their provisioning files."""
    import warnings

    import yaml

    with warnings.catch_warnings():  # the SDK flags its v1 dashboard builder as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from egov.monitoring import dashboards
    from egov.monitoring.targets import make_targets

    built = dashboards.build_dashboards(make_targets(_load(inventory).estate))
    root = _output_directory(directory)
    files = {
        root / "dashboards" / f"{uid}.json": dashboards.render_dashboard(dashboard)
        for uid, dashboard in built.items()
    }
    files[root / "provisioning" / "dashboards" / "egov.yaml"] = yaml.safe_dump(
        dashboards.build_dashboard_provisioning(), sort_keys=False
    )
    files[root / "provisioning" / "datasources" / "egov.yaml"] = yaml.safe_dump(
        dashboards.build_datasource_provisioning("http://127.0.0.1:9090"), sort_keys=False
    )
    _write_outputs(files)


def _render_monitor_status(status: dict[str, Any]) -> None:
    stdout.print(f"[bold]Prometheus[/bold] {status['prometheus']}")
    sites = "  ".join(
        f"{site} [{'green' if up else 'red'}]{'up' if up else 'DOWN'}[/]"
        for site, up in sorted(status["sites"].items())
    )
    stdout.print(f"[bold]Sites[/bold] {sites}")
    services = Table("service", "site", "up", title="Services")
    for row in status["services"]:
        services.add_row(row["service"], row["site"], "yes" if row["up"] else "[red]NO[/]")
    stdout.print(services)
    backups = Table(
        "dataset", "site", "repository", "age", "target", "fresh", "lag", title="Backups"
    )
    lags = {
        (r["dataset"], r["site"], r["repository"]): r["lag_seconds"] for r in status["replication"]
    }

    import math
    from datetime import timedelta

    def seconds(value: float | None) -> str:
        if value is None:
            return "never"
        if not math.isfinite(value):
            return "—"
        return format_duration(timedelta(seconds=int(value)))

    for row in status["backups"]:
        lag = lags.get((row["dataset"], row["site"], row["repository"]), float("nan"))
        backups.add_row(
            row["dataset"],
            row["site"],
            row["repository"],
            seconds(row["age_seconds"]),
            seconds(row["target_seconds"]),
            "yes" if row["fresh"] else "[red]NO[/]",
            seconds(lag),
        )
    stdout.print(backups)
    for row in status["postgres"]:
        stdout.print(f"PostgreSQL {row['host']}: heartbeat lag {row['lag_seconds']:.1f}s")
    if status["alerts"]:
        stdout.print(f"[red]{len(status['alerts'])} alerts firing:[/red]")
        for alert in status["alerts"]:
            labels = ", ".join(
                f"{k}={v}"
                for k, v in sorted(alert["labels"].items())
                if k not in {"alertname", "severity"}
            )
            stdout.print(f"  {alert['alertname']} {labels}", markup=False, soft_wrap=True)
    else:
        stdout.print("[green]no alerts firing[/green]")


@monitor_app.command("status")
def monitor_status(
    prometheus: Annotated[
        str | None,
        typer.Option(
            "--prometheus",
            help="Prometheus URL [default: the inventory's monitoring "
            "hosts, the primary site's first].",
            show_default=False,
        ),
    ] = None,
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """The estate's health in one screen: sites, services, backups, lag, alerts firing."""
    from egov.monitoring.status import check_prometheus_url, fetch_status, get_prometheus_urls

    if prometheus is not None:
        urls = [check_prometheus_url(prometheus)]
    else:
        urls = get_prometheus_urls(_load(inventory).estate)
        if not urls:
            raise InputError("the inventory has no monitoring host", "give --prometheus URL")
    status = fetch_status(urls)
    if output is OutputFormat.JSON:
        _print_json(status)
    else:
        _render_monitor_status(status)


@agent_app.command("heartbeat")
def agent_heartbeat(
    conninfo: Annotated[
        str, typer.Option("--conninfo", help="libpq connection string of the local cluster.")
    ] = "host=/run/postgresql dbname=egov",
) -> None:
    """Write the PostgreSQL heartbeat row every second while the cluster is a primary."""
    import logging

    from egov.monitoring.heartbeat import run_heartbeat

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_heartbeat(conninfo)


backup_app = typer.Typer(
    help="Back up, replicate, verify and restore the estate's data (restic).",
    no_args_is_help=True,
)
app.add_typer(backup_app, name="backup")

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir", help="Records directory [default: $EGOV_STATE_DIR or /var/lib/egov/state]."
    ),
]
CacheDirOption = Annotated[Path, typer.Option("--cache-dir", help="restic's cache directory.")]
AgentConfigOption = Annotated[
    Path, typer.Option("--config", help="The agent's configuration, written by egov deploy.")
]


def _backup_settings(state_dir: Path | None, cache_dir: Path, textfiles: Path | None = None) -> Any:
    from egov.backup.agent import AgentSettings
    from egov.records import get_state_dir

    return AgentSettings(
        state_dir=state_dir or get_state_dir(), cache_dir=cache_dir, textfile_directory=textfiles
    )


def _age(seconds: float | None) -> str:
    from datetime import timedelta

    return "never" if seconds is None else format_duration(timedelta(seconds=int(seconds)))


@backup_app.command("run")
def backup_run(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Only this host (site/host).")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only hosts of this site.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run.")] = False,
    inventory: InventoryOption = None,
) -> None:
    """Back up now: start each matching host's backup unit over SSH and wait for it."""
    from egov.backup import control
    from egov.errors import BackupError, CommandFailed
    from egov.execute import run_command

    estate = _load(inventory).estate
    targets = control.make_run_targets(estate, dataset, host, site)
    if dry_run:
        for target in targets:
            stdout.print(f"would start {target.unit} on {target.ref.selector}", soft_wrap=True)
        return
    failures = []
    with Progress(TextColumn("{task.description}"), MofNCompleteColumn(), console=stderr) as bar:
        task = bar.add_task("backing up", total=len(targets))
        for target in targets:
            bar.update(task, description=f"{target.dataset} on {target.ref.selector}")
            argv = control.make_ssh_command(estate, target.ref, control.make_start_command(target))
            try:
                run_command(argv, timeout_seconds=None)
                stdout.print(f"ok      {target.dataset} on {target.ref.selector}")
            except CommandFailed as error:
                failures.append(
                    f"{target.dataset} on {target.ref.selector}: {error.stderr_tail.strip()[-200:]}"
                )
                stdout.print(f"FAILED  {target.dataset} on {target.ref.selector}")
            bar.advance(task)
    if failures:
        raise BackupError(
            f"{len(failures)} of {len(targets)} backups failed:\n" + "\n".join(failures),
            "journalctl -u egov-backup@<dataset> on the host says why",
        )


@backup_app.command("status")
def backup_status(
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
    state_dir: StateDirOption = None,
) -> None:
    """Per dataset and site: last snapshot, age against the RPO target, verified, size."""
    import time

    from egov.backup import control
    from egov.records import get_state_dir

    estate = _load(inventory).estate
    rows = control.load_status(estate, state_dir or get_state_dir(), time.time())
    if output is OutputFormat.JSON:
        _print_json([row.model_dump(mode="json") for row in rows])
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


@backup_app.command("snapshots")
def backup_snapshots(
    repository: Annotated[
        str | None,
        typer.Option("--repository", help="Default: the first of the replication order."),
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset")] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Qualified host name (site-host).")
    ] = None,
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
    cache_dir: CacheDirOption = Path("/var/cache/egov/restic"),
) -> None:
    """List egov's snapshots in a repository (this lists the repository: it is slow)."""
    from egov.backup import control

    estate = _load(inventory).estate
    if dataset is not None and dataset not in estate.backup.datasets:
        raise InputError(
            f"--dataset {dataset}: no such dataset",
            f"datasets: {', '.join(estate.backup.datasets)}",
        )
    config = control.get_repository(estate, repository)
    snapshots = control.list_snapshots(config, _backup_settings(None, cache_dir), dataset, host)
    if output is OutputFormat.JSON:
        _print_json([snapshot.model_dump(mode="json") for snapshot in snapshots])
        return
    table = Table("id", "time", "host", "dataset", "paths")
    for snapshot in snapshots:
        table.add_row(
            snapshot.short_id,
            snapshot.time.isoformat(timespec="seconds"),
            snapshot.hostname,
            snapshot.get_tag_value("dataset") or "",
            " ".join(snapshot.paths),
        )
    stdout.print(table)


@backup_app.command("restore")
def backup_restore(
    dataset: Annotated[str, typer.Option("--dataset", help="The dataset to restore.")],
    target: Annotated[
        Path | None, typer.Option("--target", help="Restore here (an empty or new directory).")
    ] = None,
    to_host: Annotated[
        str | None,
        typer.Option("--to-host", help="Restore on this host (site/host) under --target."),
    ] = None,
    repository: Annotated[str | None, typer.Option("--repository")] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Only snapshots of this host (site-host).")
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Read back and compare with the backup-time checksums.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run.")] = False,
    inventory: InventoryOption = None,
    cache_dir: CacheDirOption = Path("/var/cache/egov/restic"),
) -> None:
    """Restore a dataset's latest snapshot to a path here, or on a host."""
    from egov.backup import control
    from egov.errors import CommandFailed
    from egov.execute import run_command

    estate = _load(inventory).estate
    if dataset not in estate.backup.datasets:
        raise InputError(
            f"--dataset {dataset}: no such dataset",
            f"datasets: {', '.join(estate.backup.datasets)}",
        )
    if target is None:
        raise InputError("--target is required", "give the directory to restore into")
    config = control.get_repository(estate, repository)
    if to_host is not None:
        site_name, _, name = to_host.partition("/")
        ref = estate.find_host(site_name, name)
        if ref is None:
            raise InputError(f"--to-host {to_host}: no such host", "write it as site/host")
        remote = [
            "egov",
            "agent",
            "restore",
            "--dataset",
            dataset,
            "--repository",
            config.name,
            "--target",
            str(target),
        ]
        remote += ["--verify"] if verify else []
        argv = control.make_ssh_command(estate, ref, remote)
        if dry_run:
            stdout.print(" ".join(argv), soft_wrap=True)
            return
        try:
            run_command(argv)
        except CommandFailed as error:
            from egov.errors import BackupError

            raise BackupError(
                f"restore on {to_host} failed: {error.stderr_tail.strip()[-400:]}"
            ) from None
        stdout.print(f"restored {dataset} from {config.name} on {to_host} into {target}")
        return
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(
            f"--target {target}: exists and is not an empty directory",
            "choose a new or empty directory",
        )
    if dry_run:
        stdout.print(f"would restore the latest {dataset} from {config.name} into {target}")
        return
    snapshot = control.restore_dataset(
        config, dataset, target, _backup_settings(None, cache_dir), host=host, verify=verify
    )
    stdout.print(
        f"restored {dataset} snapshot {snapshot[:8]} from {config.name} "
        f"(site {config.site}) into {target}" + (", verified" if verify else "")
    )


@backup_app.command("verify")
def backup_verify(
    repository: Annotated[
        str | None, typer.Option("--repository", help="Default: every repository.")
    ] = None,
    restore_test: Annotated[
        bool, typer.Option("--restore-test", help="Also restore and prove every dataset.")
    ] = False,
    inventory: InventoryOption = None,
    state_dir: StateDirOption = None,
    cache_dir: CacheDirOption = Path("/var/cache/egov/restic"),
) -> None:
    """Read the next 1/t of each repository (rolling check); optionally run restore tests."""
    from egov.backup.repositories import make_repository_config
    from egov.backup.restoretest import RestoreTarget, run_restore_test
    from egov.backup.verification import run_verification
    from egov.errors import BackupError

    estate = _load(inventory).estate
    names = (
        [repository]
        if repository
        else list(estate.backup.replication or estate.backup.repositories)
    )
    configs = [make_repository_config(estate, name) for name in names]
    settings = _backup_settings(state_dir, cache_dir)
    failures = []
    for config in configs:
        record = run_verification(config, estate.backup.verify_days, settings)
        stdout.print(
            f"check {record.subset}/{record.subsets} of {config.name}: {record.result.value}"
        )
        if record.error:
            failures.append(record.error)
        if not restore_test:
            continue
        for name, dataset in estate.backup.datasets.items():
            test = RestoreTarget(
                name, dataset.kind, tuple(dataset.databases), tuple(dataset.sanity_queries)
            )
            result = run_restore_test(config, test, settings)
            stdout.print(
                f"restore test of {name} from {config.name}: {result.result.value} "
                f"in {result.duration_seconds:.1f} s"
            )
            if result.error:
                failures.append(result.error)
    if failures:
        raise BackupError("\n".join(failures), "the records under the state directory say the same")


@backup_app.command("plan")
def backup_plan(
    assumptions: Annotated[
        Path | None,
        typer.Option("--assumptions", help="YAML/JSON overriding the model's assumptions."),
    ] = None,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Draw the night into this SVG file.")
    ] = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Predict the nightly window and the RPO per site; say what does not fit."""
    from egov.backup.chart import render_svg
    from egov.backup.plan import Assumptions, load_assumptions, plan_nightly_window

    model = load_assumptions(assumptions) if assumptions else Assumptions()
    plan = plan_nightly_window(model)
    if svg is not None:
        svg.write_text(render_svg(plan), encoding="utf-8")
    if output is OutputFormat.JSON:
        _print_json(plan.model_dump(mode="json"))
        return
    stdout.print("assumptions:", soft_wrap=True)
    for key, value in model.model_dump(exclude={"datasets", "links"}).items():
        stdout.print(f"  {key}: {value}", soft_wrap=True)
    for item in model.datasets:
        stdout.print(
            f"  dataset {item.name} on {item.host}: {item.size_bytes / 1e12:.2f} TB, "
            f"{item.daily_change_ratio:.2%}/day, {item.file_count} files",
            soft_wrap=True,
        )
    for link in model.links:
        stdout.print(
            f"  link to {link.repository}: {link.bandwidth_bits_per_second / 1e6:.0f} Mbit/s",
            soft_wrap=True,
        )
    table = Table("job", "site", "start", "end", "GB")
    for bar in plan.bars:
        table.add_row(
            bar.label,
            bar.site,
            _age(bar.start_seconds),
            _age(bar.end_seconds),
            f"{bar.bytes / 1e9:.1f}",
        )
    stdout.print(table)
    for site_name, seconds in plan.rpo_seconds.items():
        stdout.print(f"predicted RPO at {site_name}: {_age(seconds)}")
    for overrun in plan.overruns:
        stdout.print(f"[red]does not fit:[/red] {overrun}", soft_wrap=True)
    if plan.fits:
        stdout.print(f"everything ends inside the {model.window_hours:g} h window")


def _agent_config(config: Path) -> Any:
    from egov.backup.agentconfig import AgentConfig

    return AgentConfig.load(config)


@agent_app.command("backup")
def agent_backup(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    config: AgentConfigOption = Path("/etc/egov/agent.json"),
    cache_dir: CacheDirOption = Path("/var/cache/egov/restic"),
) -> None:
    """Back up this host's datasets (run by egov-backup@<dataset>.service)."""
    from egov.backup.agent import run_agent_backup

    loaded = _agent_config(config)
    settings = _backup_settings(None, cache_dir, Path(loaded.textfile_directory))
    for record in run_agent_backup(
        loaded, settings, dataset, lambda line: stderr.print(line, markup=False)
    ):
        stdout.print(
            f"{record.dataset}: snapshot {record.snapshot_id}, {record.bytes_added} bytes added"
        )


@agent_app.command("replicate")
def agent_replicate(
    config: AgentConfigOption = Path("/etc/egov/agent.json"),
    cache_dir: CacheDirOption = Path("/var/cache/egov/restic"),
) -> None:
    """Copy new snapshots along the replication order, then refresh every catalog."""
    from egov.backup.replication import run_replication

    loaded = _agent_config(config)
    if not loaded.replication:
        raise InputError(
            f"{config}: this host does not replicate",
            "run it on the primary site's monitoring host",
        )
    for catalog in run_replication(
        loaded.repositories,
        loaded.replication,
        _backup_settings(None, cache_dir),
        lambda line: stderr.print(line, markup=False),
    ):
        stdout.print(f"{catalog.repository}: {catalog.snapshot_count} snapshots")


@agent_app.command("retention")
def agent_retention(
    repository: Annotated[str, typer.Option("--repository", help="A repository kept here.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what forget would remove.")
    ] = False,
    config: AgentConfigOption = Path("/etc/egov/agent.json"),
    cache_dir: CacheDirOption = Path("/var/cache/egov/restic"),
) -> None:
    """Forget and prune a repository kept on this host (run as the repository's user)."""
    from egov.backup.retention import make_retention_plan, run_retention

    loaded = _agent_config(config)
    if repository not in loaded.retention:
        raise InputError(
            f"--repository {repository}: not kept on this host",
            f"kept here: {', '.join(loaded.retention) or 'none'}",
        )
    local = loaded.repositories[f"{repository}@local"]
    plan = make_retention_plan(local, loaded.retention_policy, dry_run=dry_run)
    stdout.print(run_retention(plan, local, _backup_settings(None, cache_dir)), soft_wrap=True)


@agent_app.command("verify")
def agent_verify(
    config: AgentConfigOption = Path("/etc/egov/agent.json"),
    cache_dir: CacheDirOption = Path("/var/cache/egov/restic"),
) -> None:
    """Read the next 1/t of every repository (run by egov-verify.timer)."""
    from egov.backup.verification import run_verification
    from egov.errors import BackupError

    loaded = _agent_config(config)
    settings = _backup_settings(None, cache_dir)
    failures = []
    for name in loaded.replication:
        record = run_verification(loaded.repositories[name], loaded.verify_days, settings)
        stdout.print(f"check {record.subset}/{record.subsets} of {name}: {record.result.value}")
        if record.error:
            failures.append(record.error)
    if failures:
        raise BackupError("\n".join(failures))


@agent_app.command("restore")
def agent_restore(
    dataset: Annotated[str, typer.Option("--dataset")],
    repository: Annotated[str, typer.Option("--repository")],
    target: Annotated[Path, typer.Option("--target")],
    verify: Annotated[bool, typer.Option("--verify")] = False,
    config: AgentConfigOption = Path("/etc/egov/agent.json"),
    cache_dir: CacheDirOption = Path("/var/cache/egov/restic"),
) -> None:
    """Restore a dataset on this host (what `egov backup restore --to-host` runs)."""
    from egov.backup.control import restore_dataset

    loaded = _agent_config(config)
    chosen = loaded.repositories.get(repository)
    if chosen is None:
        raise InputError(
            f"--repository {repository}: not configured on this host",
            f"configured: {', '.join(loaded.repositories)}",
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"--target {target}: exists and is not an empty directory")
    snapshot = restore_dataset(
        chosen, dataset, target, _backup_settings(None, cache_dir), verify=verify
    )
    stdout.print(f"restored {dataset} snapshot {snapshot[:8]} into {target}")


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
    except typer.Abort:
        stderr.print("egov: interrupted")
        return 130
    except typer.Exit as error:
        return int(error.exit_code)
    except typer.TyperException as error:  # usage errors: unknown option, bad value, …
        show = getattr(error, "show", None)
        if callable(show):
            show(file=sys.stderr)
        else:
            stderr.print(f"egov: {error}", markup=False)
        return int(ExitCode.BAD_INPUT)
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
