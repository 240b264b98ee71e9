"""What a deploy running on one host knows: the estate, the host, the control node's files.

``pyinfraapi.py`` (or ``pyinfra_inventory.py`` under the plain pyinfra CLI) puts the Estate and the
control-side settings into pyinfra's global data; deploys read them through ``get_context``
rather than reaching for globals of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egov.inventory.model import Estate, HostRef

ESTATE_KEY = "egov_estate_object"
WHEELHOUSE_KEY = "egov_wheelhouse"


@dataclass(frozen=True)
class DeployContext:
    """The estate, the host being deployed, and where the control node keeps things."""

    estate: Estate
    ref: HostRef
    wheelhouse: Path | None

    @property
    def roles(self) -> frozenset[str]:
        """The host's roles."""
        return frozenset(self.ref.host.roles)


def make_global_data(estate: Estate, wheelhouse: Path | None) -> dict[str, Any]:
    """The pyinfra global data every deploy reads its context from."""
    return {ESTATE_KEY: estate, WHEELHOUSE_KEY: str(wheelhouse) if wheelhouse else None}


def get_context() -> DeployContext:
    """The context of the host pyinfra is preparing now (call inside a deploy)."""
    from pyinfra import host

    estate: Estate = host.data.get(ESTATE_KEY)
    ref = estate.find_host(host.data.get("egov_site"), host.data.get("egov_host"))
    if ref is None:  # the bridge built this host from the estate: it cannot be missing
        raise LookupError(f"host {host.name} is not in estate {estate.name}")
    wheelhouse = host.data.get(WHEELHOUSE_KEY)
    return DeployContext(
        estate=estate, ref=ref, wheelhouse=Path(wheelhouse) if wheelhouse else None
    )
