"""`egov lab fault …`: inject and clear faults on the lab (power, links, services, disks, files).

Each command names a site or a host of the inventory, asks ``egov.lab`` for the fault and
says it is done; ``egov lab status`` shows the faults in force.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from egov.cli.app import InventoryOption, stdout
from egov.cli.lab import HostArgument, lab_app, load_lab_spec, resolve_machine
from egov.errors import InputError

if TYPE_CHECKING:
    from egov.lab.spec import LabSpec

lab_fault_app = typer.Typer(
    help="Inject and clear faults: power, links, services, disks, files.", no_args_is_help=True
)
lab_app.add_typer(lab_fault_app, name="fault")

SiteArgument = Annotated[str, typer.Argument(help="A site of the inventory.")]
HostOrSiteArgument = Annotated[
    str, typer.Argument(help="A site, or a host (site/host, site-host).")
]


def _fault_target(
    inventory: Path | None, target: str, *, sites: bool, hosts: bool
) -> tuple[LabSpec, str | None]:
    """The lab spec and the machine named by ``target`` (None when it names a site)."""
    estate, spec = load_lab_spec(inventory)
    if sites and target in estate.sites:
        return spec, None
    if not hosts:
        raise InputError(f"{target!r} is not a site", f"sites: {', '.join(estate.sites)}")
    return spec, resolve_machine(estate, target)


def _fault_host(inventory: Path | None, host: str) -> tuple[LabSpec, str]:
    """The lab spec and the machine of ``host``, which must name a host (not a site)."""
    spec, machine = _fault_target(inventory, host, sites=False, hosts=True)
    if machine is None:  # _fault_target returns a site only when asked to accept sites
        raise InputError(f"{host!r} is not a host", "write it as site/host")
    return spec, machine


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

    spec, machine = _fault_host(inventory, host)
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

    spec, machine = _fault_host(inventory, host)
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

    spec, machine = _fault_host(inventory, host)
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

    spec, machine = _fault_host(inventory, host)
    lab.unfill_filesystem(spec, machine, path)
    _fault_done(f"unfill {host} {path}")


@lab_fault_app.command("corrupt")
def fault_corrupt(
    host: HostArgument,
    path: Annotated[str, typer.Argument(help="A regular file on the host.")],
    offset: Annotated[
        int | None, typer.Option("--offset", help="First byte flipped [default: the middle].")
    ] = None,
    length: Annotated[int, typer.Option("--length", min=1, help="Bytes flipped.")] = 32,
    inventory: InventoryOption = None,
) -> None:
    """Flip bytes in a file on a host (a repository's pack file); repair puts them back."""
    from egov import lab

    spec, machine = _fault_host(inventory, host)
    chosen = lab.corrupt_file(spec, machine, path, offset, length)
    _fault_done(f"corrupt {host} {path} ({length} bytes at offset {chosen})")


@lab_fault_app.command("repair")
def fault_repair(
    host: HostArgument,
    path: Annotated[str, typer.Argument(help="The path given to corrupt.")],
    inventory: InventoryOption = None,
) -> None:
    """Write back the bytes corrupt flipped."""
    from egov import lab

    spec, machine = _fault_host(inventory, host)
    lab.repair_file(spec, machine, path)
    _fault_done(f"repair {host} {path}")
