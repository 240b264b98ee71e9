"""The ``app`` role: the service runtime. In the lab, egov's canary service.

Production runs the province's portal and one-stop-shop software on these hosts; the canary
takes their place in the lab so that drills can measure what a failover loses. Each app host
talks to the database of its own site: the primary's, or after a failover the promoted replica.
"""

from __future__ import annotations

import json

from pyinfra.api import deploy
from pyinfra.api.exceptions import OperationError
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from egov.deploys import topology
from egov.deploys.agent import get_agent_venv, get_wheelhouse_digest
from egov.deploys.context import DeployContext, get_context
from egov.deploys.render import as_file, render
from egov.deploys.secretfile import secret_file
from egov.hostlayout import (
    CANARY_CONFIG_FILE,
    CANARY_UNIT,
    NOLOGIN_SHELL,
    SECRET_DIRECTORY,
    UNIT_DIRECTORY,
)
from egov.inventory import derive
from egov.secrets import read_secret

CANARY_USER = "egov-canary"
CANARY_CONFIG = CANARY_CONFIG_FILE
CANARY_PASSWORD = f"{SECRET_DIRECTORY}/canary-db"


def make_canary_config(context: DeployContext) -> dict[str, object]:
    """The canary's configuration: each service placed here, and its site's database."""
    estate, ref = context.estate, context.ref
    services: dict[str, object] = {}
    for name, service in estate.services.items():
        placement = service.sites.get(ref.site)
        if placement is None or ref.name not in placement.hosts or not service.data.databases:
            continue
        database = service.data.databases[0]
        members = derive.get_site_database_members(estate, database.host, ref.site)
        if not members:
            continue
        services[name] = {
            # every member at the site: after a local promotion the app finds the new primary
            "host": ",".join(str(member.host.address) for member in members),
            "port": topology.POSTGRES_PORT,
            "database": database.name,
            "user": name,
            "password_file": CANARY_PASSWORD,
        }
    return {
        "listen_address": "0.0.0.0",  # noqa: S104 (the firewall admits only the balancers)
        "port": topology.APP_PORT,
        "site": ref.site,
        "services": services,
    }


@deploy("app")
def app() -> None:
    """Run the canary for the services placed on this host."""
    context = get_context()
    estate = context.estate
    if estate.postgres is None:
        raise OperationError("the canary needs the inventory's postgres: section")
    if context.wheelhouse is None:
        raise OperationError("the canary runs from the egov agent: deploy with a wheelhouse")
    config = make_canary_config(context)
    venv = get_agent_venv(get_wheelhouse_digest(context.wheelhouse))
    server.group(name="Canary group", group=CANARY_USER, system=True)
    server.user(
        name="Canary user",
        user=CANARY_USER,
        group=CANARY_USER,
        system=True,
        shell=NOLOGIN_SHELL,
        home="/nonexistent",
        ensure_home=False,
    )
    password = secret_file(
        name="Canary database password",
        dest=CANARY_PASSWORD,
        content=read_secret(estate.postgres.app_password) + "\n",
        group=CANARY_USER,
        mode="640",
    )
    config_file = files.put(
        name="Canary configuration",
        src=as_file(json.dumps(config, indent=2, sort_keys=True) + "\n"),
        dest=CANARY_CONFIG,
        mode="644",
    )
    unit = files.put(
        name="Canary unit",
        src=as_file(
            render(
                "app/egov-canary.service.j2",
                services=", ".join(config["services"]),  # type: ignore[arg-type]
                egov=f"{venv}/bin/egov",
                config=CANARY_CONFIG,
            )
        ),
        dest=f"{UNIT_DIRECTORY}/{CANARY_UNIT}",
        mode="644",
    )
    systemd.service(
        name="Restart the canary",
        service=CANARY_UNIT,
        running=True,
        restarted=True,
        daemon_reload=True,
        _if=any_changed(password, config_file, unit),
    )
    systemd.service(name="Run the canary", service=CANARY_UNIT, running=True, enabled=True)
