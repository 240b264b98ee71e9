"""The lab spec of an inventory: its sites, networks and hosts, nothing else.

Only lab inventories (``environment: lab``) become labs: a production inventory must never be
brought up as containers on someone's machine by mistake.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from egov.errors import LabInputError
from egov.inventory.fields import Size
from egov.inventory.model import Environment, Estate, Host
from egov.lab.paths import get_state_dir
from egov.lab.spec import DEFAULT_DISK_BYTES, LabHost, LabSite, LabSpec
from egov.secrets import create_missing_secrets, list_secret_references

#: The host data key sizing a lab host's own disk (a bench's database host needs more than 4 GiB).
DISK_KEY = "lab_disk"
MIN_DISK_BYTES = 1024**3
MAX_DISK_BYTES = 1024**4


def make_lab_spec(estate: Estate) -> LabSpec:
    """The lab spec of ``estate``; LabInputError when it is not a lab inventory."""
    if estate.environment is not Environment.LAB:
        raise LabInputError(
            f"inventory {estate.name} is a {estate.environment.value} inventory, not a lab",
            "use inventory/lab.yaml (or set `environment: lab` in a copy made for the lab)",
        )
    sites = tuple(
        LabSite(
            name=site_name,
            network=site.network,
            hosts=tuple(
                LabHost(
                    site=site_name,
                    name=host_name,
                    address=host.address,
                    roles=tuple(host.roles),
                    disk_bytes=get_disk_bytes(f"{site_name}/{host_name}", host),
                )
                for host_name, host in site.hosts.items()
            ),
        )
        for site_name, site in estate.sites.items()
        if site.hosts
    )
    return LabSpec(name=estate.name, sites=sites)


def get_disk_bytes(name: str, host: Host) -> int:
    """The size of ``host``'s lab disk: its ``data.lab_disk`` (1 GiB to 1 TiB), else 4 GiB."""
    value = host.data.get(DISK_KEY)
    if value is None:
        return DEFAULT_DISK_BYTES
    try:
        size = int(TypeAdapter(Size).validate_python(value))
    except ValidationError:
        size = -1
    if not MIN_DISK_BYTES <= size <= MAX_DISK_BYTES:
        raise LabInputError(
            f"host {name}: data.{DISK_KEY} {value!r} is not a disk size from 1 GiB to 1 TiB",
            hint=f"write it like `{DISK_KEY}: 40 GiB`, or leave it out for 4 GiB",
        )
    return size


def create_lab_secrets(estate: Estate) -> list[Path]:
    """Generate the secrets a lab inventory references under the lab's state directory.

    The lab is the only place egov invents secrets (production secrets are the province's):
    random values, 0600, never overwritten. Returns the files created.
    """
    references = list_secret_references(estate.model_dump(mode="json"))
    return create_missing_secrets(references, get_state_dir() / "secrets")
