"""Monitoring on the lab: the egov exporter on both Prometheus servers, alerts that resolve."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from egov.inventory import load_estate
from tests.lab.conftest import INVENTORY, DeployRun, Lab

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("deployed")]

MONITORING_HOSTS = ("primary-mon-01", "site2-mon-01")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _query(lab: Lab, machine: str, expression: str) -> list[dict[str, Any]]:
    address = lab.address(machine)
    query = urllib.parse.urlencode({"query": expression})
    result: list[dict[str, Any]] = _get(f"http://{address}:9090/api/v1/query?{query}")["data"][
        "result"
    ]
    return result


def _wait(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} not seen within {seconds:.0f} s"
        time.sleep(5)


def test_both_prometheus_servers_see_the_egov_metrics_of_every_dataset(lab: Lab) -> None:
    estate = load_estate(INVENTORY).estate
    datasets = set(estate.backup.datasets)
    for machine in MONITORING_HOSTS:

        def seen(machine: str = machine) -> bool:
            series = _query(lab, machine, "dr_backup_rpo_target_seconds")
            return {s["metric"].get("dataset") for s in series} >= datasets

        _wait(seen, 120, f"egov metrics on {machine}")
        up = _query(lab, machine, 'up{job="egov"}')
        assert len(up) == 2 and all(s["value"][1] == "1" for s in up), up


def test_heartbeat_gives_true_replication_lag_on_every_replica(lab: Lab) -> None:
    def lagging_replicas() -> set[str]:
        series = _query(lab, "primary-mon-01", "dr_postgres_replication_lag_seconds < 30")
        return {s["metric"].get("host", "") for s in series}

    _wait(
        lambda: {"primary-db-02", "site2-db-01"} <= lagging_replicas(),
        120,
        "heartbeat lag below 30 s on both replicas",
    )


def _firing(lab: Lab, machine: str, alert: str, host: str) -> bool:
    alerts = _get(f"http://{lab.address(machine)}:9090/api/v1/alerts")["data"]["alerts"]
    return any(
        a["labels"].get("alertname") == alert
        and a["labels"].get("host") == host
        and a["state"] == "firing"
        for a in alerts
    )


def _in_alertmanager(lab: Lab, machine: str, alert: str, host: str) -> bool:
    alerts = _get(f"http://{lab.address(machine)}:9093/api/v2/alerts?active=true")
    return any(
        a["labels"].get("alertname") == alert and a["labels"].get("host") == host for a in alerts
    )


def test_powering_off_the_store_host_fires_host_down_and_it_resolves(lab: Lab) -> None:
    machine = "primary-store-01"
    lab.api.power_off_host(lab.spec, machine)
    try:
        for monitor in MONITORING_HOSTS:
            _wait(
                lambda m=monitor: _firing(lab, m, "HostDown", machine),
                180,
                f"HostDown on {monitor}",
            )
        _wait(
            lambda: _in_alertmanager(lab, "site2-mon-01", "HostDown", machine),
            120,
            "HostDown in site 2's Alertmanager",
        )
    finally:
        lab.api.power_on_host(lab.spec, machine)
    for monitor in MONITORING_HOSTS:
        _wait(
            lambda m=monitor: not _firing(lab, m, "HostDown", machine),
            180,
            f"HostDown resolved on {monitor}",
        )


def test_every_dashboard_panel_has_data_on_the_lab_prometheus(lab: Lab) -> None:
    """Grafana is not installable here: every panel's query runs on the lab's Prometheus.

    The backup panels need backups: tests/lab/test_backup.py runs them earlier in the session
    (and on a lab left up, the timers have).
    """
    from egov.monitoring.dashboards import build_dashboards
    from egov.monitoring.grafana import list_panel_queries
    from egov.monitoring.targets import make_targets

    queries = list_panel_queries(build_dashboards(make_targets(load_estate(INVENTORY).estate)))
    assert len(queries) >= 20

    def empty() -> list[str]:
        return [query for query in queries if not _query(lab, "primary-mon-01", query)]

    deadline = time.monotonic() + 180
    while (missing := empty()) and time.monotonic() < deadline:
        time.sleep(10)
    assert missing == []


def test_monitor_status_right_after_the_first_deploy_answers(
    deployed: tuple[DeployRun, DeployRun],
) -> None:
    """What stopped a new user's `make demo`: the status asked the moment the deploy ended.

    Prometheus has just been (re)started and has scraped little or nothing: the series may
    lack their labels, the answer may be empty or a 503. The command answers all the same.
    """
    first, _ = deployed
    result = first.monitor_status
    assert result is not None
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr
    status = json.loads(result.stdout)
    assert all(isinstance(site, str) for site in status["sites"])
    json.dumps(status, allow_nan=False)


def test_monitor_status_shows_every_site_up_and_every_backup_with_its_age(lab: Lab) -> None:
    """`egov monitor status` from the lab's Prometheus: sites, services, backups, lag.

    The suite has backed up and replicated every dataset by now (test_backup, test_drill),
    so every row has an age (none is 'never'), and the primary repository's copies are
    fresh; the file store's copies elsewhere may be a cycle behind, their age is shown.
    """
    import subprocess

    from tests.lab.conftest import EGOV

    result = subprocess.run(
        [EGOV, "monitor", "status", "-i", str(INVENTORY), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["sites"] == {"primary": True, "vnpt": True, "site2": True}
    services = {(s["service"], s["site"]): s["up"] for s in status["services"]}
    assert services[("portal", "primary")] and services[("motcua", "primary")]
    rows = status["backups"]
    datasets = set(load_estate(INVENTORY).estate.backup.datasets)
    assert {row["dataset"] for row in rows} == datasets
    assert all(row["age_seconds"] is not None for row in rows), rows
    assert all(row["fresh"] for row in rows if row["repository"] == "primary"), rows
    assert {row["host"] for row in status["postgres"]} >= {"primary-db-02", "site2-db-01"}
    human = subprocess.run(
        [EGOV, "monitor", "status", "-i", str(INVENTORY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert human.returncode == 0 and "Backups" in human.stdout and "never" not in human.stdout
