"""Apply a host's roles in a fixed order: base first, then each role it carries.

Each role is called from its own line on purpose: pyinfra identifies an operation by its call
site, so the calls must not share a line (a loop over roles would merge the first operation of
``db`` with the first of ``lb``). The order is also the execution order across hosts: every
primary database is configured before any replica clones it, every app before the balancers.

This file is also a pyinfra deploy file: ``pyinfra egov/deploys/pyinfra_inventory.py
egov/deploys/site.py`` runs the same code through the plain pyinfra CLI.
"""

from __future__ import annotations

from egov.deploys import (
    app,
    archive,
    backup,
    base,
    database,
    loadbalancer,
    monitoring,
    objectstore,
    storage,
)
from egov.deploys.context import get_context


def apply_roles() -> None:
    """Deploy the current host: base, then its roles in dependency order."""
    roles = get_context().roles
    base.base()
    if "storage" in roles:
        storage.storage()
    if "objectstore" in roles:
        objectstore.objectstore()
    if "db" in roles:
        database.primary()
    if "db-replica" in roles:
        database.replica()
    archive.archive()  # hosts named in an archive: after the primaries made its role
    if "app" in roles:
        app.app()
    if "lb" in roles:
        loadbalancer.loadbalancer()
    if "monitoring" in roles:
        monitoring.monitoring()
    backup.backup()  # every host: its datasets' timers, and the jobs of repository hosts


if __name__ in {"builtins", "__main__"}:
    # Executed as a deploy file by the pyinfra CLI (exec'd with __name__ unset).
    apply_roles()
