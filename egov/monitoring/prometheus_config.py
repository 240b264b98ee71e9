"""Prometheus and blackbox exporter configurations, derived from the estate.

Alertmanager's is built in ``alertmanager_config.py``.

Every site's monitoring host runs its own Prometheus that scrapes and probes the *whole*
estate, so monitoring outlives the primary site: the configurations differ between monitoring
hosts only in ``external_labels.prometheus_site``.

Labels on every target:

- ``site``: the site the target lives at (for probes: the site whose entrypoint is probed);
- ``host``: the host's qualified name (``primary-db-01``), which is also the machine's
  hostname (so it matches ``node_uname_info{nodename}``, journald and the shell prompt) and is
  unique across the estate;
- ``roles``: the host's inventory roles joined by commas (``lb,app``), when it has any;
- probes add ``service``.

Sites whose status is ``planned`` are not scraped: their hosts do not exist yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from egov.deploys import topology
from egov.inventory.fields import format_duration
from egov.inventory.model import Environment, Estate, HealthProtocol, HostRef, SiteStatus

SCRAPE_INTERVAL = timedelta(seconds=15)
RULES_DIRECTORY = "/etc/prometheus/rules"
RULE_FILES_GLOB = f"{RULES_DIRECTORY}/*.yml"
#: The blackbox exporter listens on loopback only: its Prometheus is its one client.
BLACKBOX_ADDRESS = f"127.0.0.1:{topology.BLACKBOX_PORT}"
HTTP_MODULE = "http_2xx"
TCP_MODULE = "tcp_connect"
PROBE_JOB_PREFIX = "probe-"
EGOV_JOB = "egov"


@dataclass(frozen=True)
class Probe:
    """One blackbox probe: ``service``'s health check at ``entrypoint``, with ``module``."""

    service: str
    entrypoint: HostRef
    target: str
    module: str
    timeout: timedelta


def make_host_labels(ref: HostRef) -> dict[str, str]:
    """The labels identifying a host: ``{"site": "primary", "host": "primary-db-01", ...}``."""
    labels = {"site": ref.site, "host": ref.qualified_name}
    if ref.host.roles:
        labels["roles"] = ",".join(ref.host.roles)
    return labels


def make_http_module_name(expect_status: int) -> str:
    """``http_2xx`` for a 2xx expectation, else ``http_<status>`` (a module of its own)."""
    return HTTP_MODULE if 200 <= expect_status < 300 else f"http_{expect_status}"


def get_monitored_hosts(estate: Estate) -> list[HostRef]:
    """Every host of every site that exists (status not ``planned``), in inventory order."""
    return [
        ref
        for ref in estate.iter_hosts()
        if estate.sites[ref.site].status is not SiteStatus.PLANNED
    ]


def _monitored_with_role(estate: Estate, *roles: str) -> list[HostRef]:
    return [ref for ref in get_monitored_hosts(estate) if set(roles) & set(ref.host.roles)]


def get_monitoring_hosts(estate: Estate) -> list[HostRef]:
    """The existing hosts with the ``monitoring`` role: each runs Prometheus and Alertmanager."""
    return _monitored_with_role(estate, "monitoring")


def make_probes(estate: Estate) -> list[Probe]:
    """Each service's health check at each (existing) site's entrypoint, in inventory order.

    HTTP(S) targets are URLs ``{protocol}://{address}:{port}{path}``; TCP targets are
    ``address:port``.
    """
    probes = []
    for name, service in estate.services.items():
        check = service.health_check
        for site in service.sites:
            entrypoint = topology.get_service_entrypoint(estate, name, site)
            if entrypoint is None or estate.sites[site].status is SiteStatus.PLANNED:
                continue
            address = f"{entrypoint.host.address}:{check.port}"
            if check.protocol is HealthProtocol.TCP:
                target, module = address, TCP_MODULE
            else:
                target = f"{check.protocol.value}://{address}{check.path}"
                module = make_http_module_name(check.expect_status)
            probes.append(Probe(name, entrypoint, target, module, check.timeout))
    return probes


def _static(refs: list[HostRef], port: int) -> list[dict[str, Any]]:
    return [
        {"targets": [f"{ref.host.address}:{port}"], "labels": make_host_labels(ref)} for ref in refs
    ]


def _job(name: str, refs: list[HostRef], port: int) -> dict[str, Any]:
    return {"job_name": name, "static_configs": _static(refs, port)}


def make_probe_job(service: str, probes: list[Probe]) -> dict[str, Any]:
    """The blackbox job of one service: its timeout is the service's, capped at the interval.

    The module travels per target as ``__param_module``, so HTTP and TCP probes of a service
    share a job. blackbox subtracts half a second from the scrape timeout for its own work.
    """
    timeout = min(max(probe.timeout for probe in probes), SCRAPE_INTERVAL)
    return {
        "job_name": f"{PROBE_JOB_PREFIX}{service}",
        "metrics_path": "/probe",
        "scrape_timeout": format_duration(timeout),
        "static_configs": [
            {
                "targets": [probe.target],
                "labels": {
                    **make_host_labels(probe.entrypoint),
                    "service": probe.service,
                    "__param_module": probe.module,
                },
            }
            for probe in probes
        ],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": BLACKBOX_ADDRESS},
        ],
    }


def build_prometheus_config(estate: Estate, monitoring_host: HostRef) -> dict[str, Any]:
    """prometheus.yml for the Prometheus on ``monitoring_host``.

    Scrapes node_exporter everywhere, postgres_exporter on database hosts, every monitoring
    host's Prometheus, Alertmanager and egov exporter (job ``egov``), its own blackbox
    exporter, and probes every service at every site's entrypoint. Alerts go to every
    Alertmanager; rules load from ``RULE_FILES_GLOB``.
    """
    monitoring = get_monitoring_hosts(estate)
    probes = make_probes(estate)
    probe_jobs = [
        make_probe_job(service, [probe for probe in probes if probe.service == service])
        for service in dict.fromkeys(probe.service for probe in probes)
    ]
    interval = format_duration(SCRAPE_INTERVAL)
    return {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "external_labels": {"estate": estate.name, "prometheus_site": monitoring_host.site},
        },
        "alerting": {
            # The Prometheus of every site sends the same alerts; without the label that tells
            # them apart, the Alertmanager cluster deduplicates them.
            "alert_relabel_configs": [{"action": "labeldrop", "regex": "prometheus_site"}],
            "alertmanagers": [
                {
                    "static_configs": [
                        {
                            "targets": [
                                f"{ref.host.address}:{topology.ALERTMANAGER_PORT}"
                                for ref in monitoring
                            ]
                        }
                    ]
                }
            ],
        },
        "rule_files": [RULE_FILES_GLOB],
        "scrape_configs": [
            _job("node", get_monitored_hosts(estate), topology.NODE_EXPORTER_PORT),
            _job(
                "postgres",
                _monitored_with_role(estate, "db", "db-replica"),
                topology.POSTGRES_EXPORTER_PORT,
            ),
            _job("prometheus", monitoring, topology.PROMETHEUS_PORT),
            _job("alertmanager", monitoring, topology.ALERTMANAGER_PORT),
            # The egov exporters' own labels (``site`` of the data, ``repository``) must win
            # over the target's ``site`` (the monitoring host's); ``host`` stays the target's.
            {**_job(EGOV_JOB, monitoring, topology.EGOV_EXPORTER_PORT), "honor_labels": True},
            {
                "job_name": "blackbox",
                "static_configs": [
                    {"targets": [BLACKBOX_ADDRESS], "labels": make_host_labels(monitoring_host)}
                ],
            },
            *probe_jobs,
        ],
    }


def build_blackbox_config(estate: Estate) -> dict[str, Any]:
    """blackbox.yml: ``http_2xx``, ``tcp_connect`` and one module per other expected status.

    Probes prefer IPv4 (the estate is IPv4). In the lab, TLS certificates are self-signed, so
    HTTP modules skip verification there; in production they verify against the system's CA
    store (install a province CA in /usr/local/share/ca-certificates).
    """
    http = {
        "preferred_ip_protocol": "ip4",
        "tls_config": {"insecure_skip_verify": estate.environment is Environment.LAB},
    }
    modules: dict[str, Any] = {
        HTTP_MODULE: {"prober": "http", "http": http},
        TCP_MODULE: {"prober": "tcp", "tcp": {"preferred_ip_protocol": "ip4"}},
    }
    for service in estate.services.values():
        status = service.health_check.expect_status
        name = make_http_module_name(status)
        if name not in modules:
            modules[name] = {
                "prober": "http",
                "http": {**http, "valid_status_codes": [status], "no_follow_redirects": True},
            }
    return {"modules": modules}


def to_yaml(config: dict[str, Any], title: str) -> str:
    """``config`` as a YAML file headed by a comment saying who writes it."""
    header = f"# {title}: written by egov deploy from the inventory; local edits are overwritten.\n"
    return header + yaml.safe_dump(
        config, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
