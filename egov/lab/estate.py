"""The lab spec of an inventory: its sites, networks and hosts, nothing else.

Only lab inventories (``environment: lab``) become labs: a production inventory must never be
brought up as containers on someone's machine by mistake.
"""

from __future__ import annotations

from pathlib import Path

from egov.errors import LabInputError
from egov.inventory.model import Environment, Estate
from egov.lab.paths import get_state_dir
from egov.lab.spec import LabHost, LabSite, LabSpec
from egov.secrets import create_missing_secrets, list_secret_references


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
                )
                for host_name, host in site.hosts.items()
            ),
        )
        for site_name, site in estate.sites.items()
        if site.hosts
    )
    return LabSpec(name=estate.name, sites=sites)


def create_lab_secrets(estate: Estate) -> list[Path]:
    """Generate the secrets a lab inventory references under the lab's state directory.

    The lab is the only place egov invents secrets (production secrets are the province's):
    random values, 0600, never overwritten. Returns the files created.
    """
    references = list_secret_references(estate.model_dump(mode="json"))
    return create_missing_secrets(references, get_state_dir() / "secrets")
