"""The ``lb`` role: nginx in front of the services, TLS, passive health checks of backends.

nginx (open source) has no active health checks: a backend that errors is taken out for
``fail_timeout`` and the request retried on the next one, which is what users notice. The
certificate comes from the inventory's files in production; in the lab a self-signed one is
made on the host once.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import File
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from egov.deploys import topology
from egov.deploys.context import DeployContext, get_context
from egov.deploys.packages import PACKAGES_BY_ROLE
from egov.deploys.render import as_file, render
from egov.hostlayout import (
    NGINX_DEFAULT_SITE_LINK,
    NGINX_SITE,
    NGINX_SITE_LINK,
    NGINX_UNIT,
    TLS_CERTIFICATE_FILE,
    TLS_KEY_FILE,
)

CERTIFICATE = TLS_CERTIFICATE_FILE
CERTIFICATE_KEY = TLS_KEY_FILE
SITE_FILE = NGINX_SITE
CERTIFICATE_DAYS = 825


def make_nginx_site(context: DeployContext) -> str:
    """The nginx site: one upstream per service placed at this host's site."""
    backends = topology.get_service_backends(context.estate, context.ref.site)
    upstreams = {
        name: [str(ref.host.address) for ref in refs] for name, refs in backends.items() if refs
    }
    return render(
        "loadbalancer/egov.conf.j2",
        upstreams=upstreams,
        app_port=topology.APP_PORT,
        http_port=topology.HTTP_PORT,
        https_port=topology.HTTPS_PORT,
        server_name=context.ref.qualified_name,
        certificate=CERTIFICATE,
        certificate_key=CERTIFICATE_KEY,
    )


def make_certificate_command(context: DeployContext) -> str:
    """openssl: a self-signed certificate for the host's names and address (lab use)."""
    ref = context.ref
    names = f"DNS:{ref.qualified_name},DNS:{ref.name},IP:{ref.host.address}"
    return (
        "umask 077 && mkdir -p /etc/egov/tls && openssl req -x509 -newkey rsa:2048 -nodes"
        f" -days {CERTIFICATE_DAYS} -subj /CN={ref.qualified_name} -addext subjectAltName={names}"
        f" -keyout {CERTIFICATE_KEY} -out {CERTIFICATE} 2>/dev/null && chmod 644 {CERTIFICATE}"
    )


@deploy("lb")
def loadbalancer() -> None:
    """nginx with the estate's services behind it."""
    context = get_context()
    apt.packages(name="Install nginx", packages=list(PACKAGES_BY_ROLE["lb"]), no_recommends=True)
    if not host.get_fact(File, path=CERTIFICATE):
        server.shell(
            name="Make a self-signed certificate", commands=[make_certificate_command(context)]
        )
    site = files.put(
        name="nginx site for the services",
        src=as_file(make_nginx_site(context)),
        dest=SITE_FILE,
        mode="644",
    )
    enabled = files.link(name="Enable the site", path=NGINX_SITE_LINK, target=SITE_FILE)
    default = files.link(
        name="Disable Debian's default site",
        path=NGINX_DEFAULT_SITE_LINK,
        present=False,
    )
    server.shell(
        name="Check the nginx configuration",
        commands=["nginx -t -q"],
        _if=any_changed(site, enabled, default),
    )
    systemd.service(
        name="Reload nginx",
        service=NGINX_UNIT,
        running=True,
        reloaded=True,
        _if=any_changed(site, enabled, default),
    )
    systemd.service(name="Run nginx", service=NGINX_UNIT, running=True, enabled=True)
