"""A pyinfra inventory file built from the egov inventory, for the plain pyinfra CLI.

    EGOV_INVENTORY=inventory/lab.yaml pyinfra egov/deploys/pyinfra_inventory.py \\
        egov/deploys/site.py

pyinfra reads module-level lists of hosts as groups; the hosts carry the same data as under
``egov deploy`` (set EGOV_WHEELHOUSE to a wheelhouse tar to include the agent).
"""

from __future__ import annotations

import os
from pathlib import Path

from egov.deploys.context import make_global_data
from egov.inventory import load_estate, resolve_inventory_path
from egov.inventory.pyinfra_bridge import check_connectable, make_host_data

_estate = load_estate(resolve_inventory_path(None)).estate
check_connectable(_estate.iter_hosts())
_wheelhouse = os.environ.get("EGOV_WHEELHOUSE")
_global = make_global_data(_estate, Path(_wheelhouse) if _wheelhouse else None)

egov_hosts = [
    (ref.qualified_name, {**_global, **make_host_data(_estate, ref)})
    for ref in _estate.iter_hosts()
]
