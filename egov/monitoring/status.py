"""The estate's health in one screen, from a Prometheus's HTTP API.

``get_prometheus_urls`` lists every monitoring host's Prometheus, the primary site's first;
``fetch_status`` asks the first that answers, so the status outlives the primary site. The
queries are the dashboards' and the alerts' own metrics; ``make_status`` is pure.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from egov.deploys import topology
from egov.errors import InputError, MonitoringError
from egov.inventory.model import Estate
from egov.monitoring import prometheus_config

QUERY_TIMEOUT_SECONDS = 5.0
#: An age this large means a timestamp of 0: the exporter has never seen a snapshot.
NEVER_SECONDS = 1e9

QUERIES = {
    "sites": 'max by (site) (up{job="node"})',
    "services": "max by (service, site) (probe_success)",
    # the newest any exporter knows: a monitoring host without the catalog exports 0
    "backup_age": (
        "time() - max by (dataset, site, repository) (dr_backup_last_snapshot_timestamp_seconds)"
    ),
    "backup_target": "max by (dataset, site) (dr_backup_rpo_target_seconds)",
    "replication_lag": "max by (dataset, site, repository) (dr_replication_lag_seconds)",
    "postgres_lag": "max by (host) (dr_postgres_replication_lag_seconds)",
}


def get_prometheus_urls(estate: Estate) -> list[str]:
    """Every monitoring host's Prometheus URL, the primary site's first."""
    hosts = sorted(
        prometheus_config.get_monitoring_hosts(estate),
        key=lambda ref: ref.site != estate.primary_site,
    )
    return [f"http://{ref.host.address}:{topology.PROMETHEUS_PORT}" for ref in hosts]


def check_prometheus_url(url: str) -> str:
    """``url`` without a trailing slash; raise InputError unless it is an http(s) URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InputError(
            f"{url!r} is not a Prometheus URL",
            "give one like http://10.213.1.40:9090",
        )
    return url.rstrip("/")


def _get(url: str, path: str, params: dict[str, str] | None = None) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    # check_prometheus_url admits http(s) only
    request = urllib.request.Request(  # noqa: S310
        f"{url}{path}{query}", headers={"Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=QUERY_TIMEOUT_SECONDS) as response:  # noqa: S310
        body = json.load(response)
    if body.get("status") != "success":
        raise MonitoringError(f"{url}{path}: {body.get('error', 'no success status')}")
    return body["data"]


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The instant vector ``expr`` evaluates to at ``url``, as Prometheus's JSON samples."""
    data = _get(url, "/api/v1/query", {"query": expr})
    result: list[dict[str, Any]] = data["result"]
    return result


def _value(sample: dict[str, Any]) -> float:
    return float(sample["value"][1])


def make_status(
    url: str, results: dict[str, list[dict[str, Any]]], alerts: list[Any]
) -> dict[str, Any]:
    """The status document from the query results and ``/api/v1/alerts``'s alerts."""
    targets = {
        (sample["metric"].get("dataset"), sample["metric"].get("site")): _value(sample)
        for sample in results["backup_target"]
    }
    backups = []
    for sample in results["backup_age"]:
        labels = sample["metric"]
        age = _value(sample)
        target = targets.get((labels.get("dataset"), labels.get("site")), math.nan)
        backups.append(
            {
                "dataset": labels.get("dataset"),
                "site": labels.get("site"),
                "repository": labels.get("repository"),
                "age_seconds": None if age >= NEVER_SECONDS else age,
                "target_seconds": target,
                "fresh": age <= target,
            }
        )
    firing = [
        {"alertname": alert["labels"].get("alertname"), "labels": alert["labels"]}
        for alert in alerts
        if alert.get("state") == "firing" and alert["labels"].get("alertname") != "Watchdog"
    ]
    return {
        "prometheus": url,
        "sites": {s["metric"].get("site"): _value(s) == 1 for s in results["sites"]},
        "services": [
            {
                "service": s["metric"].get("service"),
                "site": s["metric"].get("site"),
                "up": _value(s) == 1,
            }
            for s in results["services"]
        ],
        "backups": backups,
        "replication": [
            {
                **{k: s["metric"].get(k) for k in ("dataset", "site", "repository")},
                "lag_seconds": _value(s),
            }
            for s in results["replication_lag"]
        ],
        "postgres": [
            {"host": s["metric"].get("host"), "lag_seconds": _value(s)}
            for s in results["postgres_lag"]
        ],
        "alerts": firing,
        "healthy": not firing,
    }


def fetch_status(urls: list[str]) -> dict[str, Any]:
    """The status from the first Prometheus of ``urls`` that answers.

    Raise MonitoringError naming every URL tried when none does.
    """
    failures = []
    for url in urls:
        try:
            results = {name: query(url, expr) for name, expr in QUERIES.items()}
            alerts = _get(url, "/api/v1/alerts")["alerts"]
        except (OSError, ValueError, KeyError) as error:
            reason = getattr(error, "reason", error)
            failures.append(f"{url} ({reason})")
            continue
        return make_status(url, results, alerts)
    raise MonitoringError(
        "no Prometheus answered: " + ", ".join(failures),
        "check that the monitoring hosts are up, or give --prometheus URL",
    )
