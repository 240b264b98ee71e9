"""The estate's health in one screen, from a Prometheus's HTTP API.

``get_prometheus_urls`` lists every monitoring host's Prometheus, the primary site's first;
``fetch_status`` asks the first that answers, so the status outlives the primary site. The
queries are the dashboards' and the alerts' own metrics; ``make_status`` is pure.

What Prometheus returns is taken as it comes, never as it should be: right after a deploy a
series may lack the labels the relabelling adds (the first scrapes), a series may be missing
(no target has reported yet), a value may be ``NaN`` (a division by a zero count) and the
whole answer may be empty. A missing label is shown as ``UNLABELLED``, a missing or NaN value
as ``None`` (JSON ``null``, never the non-standard ``NaN``), and nothing unknown is called
fresh or up. A Prometheus that is still starting answers 503; ``fetch_status`` waits one
window for it before it gives up.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from egov.deploys import topology
from egov.errors import MonitoringError
from egov.inventory.model import Estate
from egov.monitoring.alerts import WATCHDOG_ALERT
from egov.monitoring.endpoints import check_http_url, get_monitoring_urls

QUERY_TIMEOUT_SECONDS = 5.0
#: How long a Prometheus that answers 503 (still starting, replaying its WAL) is waited for.
STARTING_WAIT_SECONDS = 60.0
STARTING_RETRY_SECONDS = 2.0
#: An age this large means a timestamp of 0: the exporter has never seen a snapshot.
NEVER_SECONDS = 1e9
#: Shown for a label a series does not carry (the first scrapes after a deploy).
UNLABELLED = "(unlabelled)"

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


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and its value (None when NaN or absent)."""

    labels: Mapping[str, str]
    value: float | None

    def label(self, name: str) -> str:
        """The label ``name``, or ``UNLABELLED`` where the series does not carry it."""
        return self.labels.get(name) or UNLABELLED


class PrometheusStarting(MonitoringError):
    """The Prometheus answered 503: it is up but not ready (starting, replaying its WAL)."""


def get_prometheus_urls(estate: Estate) -> list[str]:
    """Every monitoring host's Prometheus URL, the primary site's first."""
    return get_monitoring_urls(estate, topology.PROMETHEUS_PORT)


def check_prometheus_url(url: str) -> str:
    """``url`` without a trailing slash; raise InputError unless it is an http(s) URL."""
    return check_http_url(url, "a Prometheus", "http://10.213.1.40:9090")


def _get(url: str, path: str, params: dict[str, str] | None = None) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    # check_prometheus_url admits http(s) only
    request = urllib.request.Request(  # noqa: S310
        f"{url}{path}{query}", headers={"Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=QUERY_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 503:
            raise PrometheusStarting(f"{url}: still starting (HTTP 503)") from None
        raise
    if not isinstance(body, dict) or body.get("status") != "success":
        error_text = body.get("error") if isinstance(body, dict) else None
        raise MonitoringError(f"{url}{path}: {error_text or 'no success status'}")
    return body.get("data")


def parse_value(raw: Any) -> float | None:
    """A sample's value string as a float; None for NaN, infinities' absence or garbage."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def parse_vector(data: Any) -> list[Sample]:
    """The samples of an instant-vector answer; malformed entries are left out, not fatal."""
    result = data.get("result") if isinstance(data, dict) else None
    samples = []
    for entry in result if isinstance(result, list) else []:
        if not isinstance(entry, dict):
            continue
        metric = entry.get("metric")
        labels = (
            {str(k): str(v) for k, v in metric.items() if v is not None}
            if isinstance(metric, dict)
            else {}
        )
        value = entry.get("value")
        raw = value[1] if isinstance(value, list) and len(value) == 2 else None
        samples.append(Sample(labels, parse_value(raw)))
    return samples


def query(url: str, expr: str) -> list[Sample]:
    """The instant vector ``expr`` evaluates to at ``url``."""
    return parse_vector(_get(url, "/api/v1/query", {"query": expr}))


def _is_one(value: float | None) -> bool | None:
    return None if value is None else value == 1


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _backups(results: Mapping[str, list[Sample]]) -> list[dict[str, Any]]:
    targets = {
        (s.label("dataset"), s.label("site")): _finite(s.value) for s in results["backup_target"]
    }
    rows = []
    for sample in results["backup_age"]:
        age = _finite(sample.value)
        never = age is not None and age >= NEVER_SECONDS
        target = targets.get((sample.label("dataset"), sample.label("site")))
        rows.append(
            {
                "dataset": sample.label("dataset"),
                "site": sample.label("site"),
                "repository": sample.label("repository"),
                "age_seconds": None if never else age,
                "never": never,
                "target_seconds": target,
                # unknown is not fresh: no age, no target, or a backup never taken
                "fresh": age is not None and target is not None and not never and age <= target,
            }
        )
    return sorted(rows, key=lambda r: (r["dataset"], r["site"], r["repository"]))


def _firing(alerts: Any) -> list[dict[str, Any]]:
    firing = []
    for alert in alerts if isinstance(alerts, list) else []:
        if not isinstance(alert, dict) or alert.get("state") != "firing":
            continue
        raw = alert.get("labels")
        labels = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        name = labels.get("alertname") or UNLABELLED
        if name != WATCHDOG_ALERT:
            firing.append({"alertname": name, "labels": labels})
    return firing


def make_status(url: str, results: Mapping[str, list[Sample]], alerts: Any) -> dict[str, Any]:
    """The status document (JSON-ready: no NaN) from the query results and the alerts.

    ``alerts`` is ``/api/v1/alerts``'s ``alerts`` list as it came. ``healthy`` is true only
    when no alert fires, every site and service is known up and Prometheus had data at all.
    """
    sites: dict[str, bool | None] = {}
    for sample in results["sites"]:
        up = _is_one(sample.value)
        site = sample.label("site")
        sites[site] = up if sites.get(site) is None else bool(sites[site] or up)
    services = sorted(
        (
            {"service": s.label("service"), "site": s.label("site"), "up": _is_one(s.value)}
            for s in results["services"]
        ),
        key=lambda r: (r["service"], r["site"]),
    )
    firing = _firing(alerts)
    empty = not results["sites"]
    return {
        "prometheus": url,
        "sites": dict(sorted(sites.items())),
        "services": services,
        "backups": _backups(results),
        "replication": [
            {
                **{k: s.label(k) for k in ("dataset", "site", "repository")},
                "lag_seconds": _finite(s.value),
            }
            for s in results["replication_lag"]
        ],
        "postgres": [
            {"host": s.label("host"), "lag_seconds": _finite(s.value)}
            for s in results["postgres_lag"]
        ],
        "alerts": firing,
        "no_data": empty,
        "healthy": not firing
        and not empty
        and all(sites.values())
        and all(s["up"] for s in services),
    }


def _fetch_one(url: str) -> dict[str, Any]:
    results = {name: query(url, expr) for name, expr in QUERIES.items()}
    data = _get(url, "/api/v1/alerts")
    return make_status(url, results, data.get("alerts") if isinstance(data, dict) else None)


def fetch_status(
    urls: list[str],
    *,
    wait_seconds: float = STARTING_WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The status from the first Prometheus of ``urls`` that answers.

    While none answers but one is still starting (HTTP 503), ask again for up to
    ``wait_seconds``; one that refuses the connection is not waited for. Raise
    MonitoringError naming every URL tried when none answers.
    """
    deadline = clock() + wait_seconds
    while True:
        failures = []
        starting = False
        for url in urls:
            try:
                return _fetch_one(url)
            except PrometheusStarting:
                starting = True
                failures.append(f"{url} (still starting)")
            except (OSError, ValueError, MonitoringError) as error:
                reason = getattr(error, "reason", error)
                failures.append(f"{url} ({reason})")
        if not starting or clock() >= deadline:
            break
        sleep(STARTING_RETRY_SECONDS)
    waited = f" after waiting {wait_seconds:.0f} s" if starting else ""
    raise MonitoringError(
        f"no Prometheus answered{waited}: " + ", ".join(failures),
        "check that the monitoring hosts are up (a Prometheus just deployed may take a "
        "minute to replay its data), or give --prometheus URL",
    )
