"""Who talks to whom in the estate, derived from roles and placements.

Pure queries over the Estate that several deploys share: the firewall opens exactly what these
say, nginx proxies to the backends they list, Prometheus scrapes the targets they name.
Replication chains (who streams from whom) are the inventory's derived facts:
``egov.inventory.derive``.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from urllib.parse import urlsplit

from egov.inventory.backup import RepositoryKind
from egov.inventory.model import Estate, HostRef

SSH_PORT = 22
HTTP_PORT = 80
HTTPS_PORT = 443
APP_PORT = 8080
POSTGRES_PORT = 5432
NODE_EXPORTER_PORT = 9100
POSTGRES_EXPORTER_PORT = 9187
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
ALERTMANAGER_CLUSTER_PORT = 9094
BLACKBOX_PORT = 9115
EGOV_EXPORTER_PORT = 9640
S3_PORT = 9000
NTP_PORT = 123


def get_hosts_with_role(estate: Estate, role: str, site: str | None = None) -> list[HostRef]:
    """Hosts carrying ``role``, optionally only at ``site``, in inventory order."""
    return [
        ref
        for ref in estate.iter_hosts()
        if role in ref.host.roles and (site is None or ref.site == site)
    ]


def get_site_time_server(estate: Estate, site: str) -> HostRef | None:
    """The host serving NTP to a site: its monitoring host, else the primary site's."""
    local = get_hosts_with_role(estate, "monitoring", site)
    if local:
        return local[0]
    primary = get_hosts_with_role(estate, "monitoring", estate.primary_site)
    return primary[0] if primary else None


def get_control_networks(estate: Estate) -> list[IPv4Network]:
    """Where egov runs from: the declared control nodes and every monitoring host."""
    networks = list(estate.control_nodes)
    networks += [
        IPv4Network(f"{ref.host.address}/32") for ref in get_hosts_with_role(estate, "monitoring")
    ]
    return _unique(networks)


def get_estate_networks(estate: Estate) -> list[IPv4Network]:
    """Every site's network."""
    return _unique([site.network for site in estate.sites.values()])


def get_service_backends(estate: Estate, site: str) -> dict[str, list[HostRef]]:
    """Service name → the app hosts running it at ``site``."""
    backends: dict[str, list[HostRef]] = {}
    for name, service in estate.services.items():
        placement = service.sites.get(site)
        if placement is None:
            continue
        refs = [estate.find_host(site, host) for host in placement.hosts]
        backends[name] = [ref for ref in refs if ref is not None and "app" in ref.host.roles]
    return backends


def get_service_entrypoint(estate: Estate, service: str, site: str) -> HostRef | None:
    """The host users reach ``service`` through at ``site`` (its entrypoint or first host)."""
    placement = estate.services[service].sites.get(site)
    if placement is None:
        return None
    return estate.find_host(site, placement.entrypoint or placement.hosts[0])


def get_database_clients(estate: Estate, ref: HostRef) -> list[HostRef]:
    """App hosts of every site whose services own a database on ``ref``'s cluster."""
    clients = []
    for service in estate.services.values():
        if not any(database.host == ref.name for database in service.data.databases):
            continue
        for site, placement in service.sites.items():
            for host in placement.hosts:
                client = estate.find_host(site, host)
                if client is not None and client not in clients:
                    clients.append(client)
    return clients


def get_rest_repositories_served_by(estate: Estate, ref: HostRef) -> dict[str, int]:
    """Repository name → port, for the REST repositories ``ref`` serves."""
    return {
        name: repository.port
        for name, repository in estate.backup.repositories.items()
        if repository.kind is RepositoryKind.REST
        and repository.site == ref.site
        and repository.host == ref.name
    }


def get_object_store_port(estate: Estate, site: str) -> int:
    """The port of a site's S3 endpoint (the lab's stand-in listens there)."""
    store = estate.sites[site].object_store
    if store is None:
        return S3_PORT
    parsed = urlsplit(store.endpoint)
    return parsed.port or (443 if parsed.scheme == "https" else 80)


def _unique(networks: list[IPv4Network]) -> list[IPv4Network]:
    return list(dict.fromkeys(networks))
