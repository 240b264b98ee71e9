from __future__ import annotations

import pytest

from egov.errors import InputError, MonitoringError
from egov.inventory.model import Estate
from egov.monitoring.status import (
    check_prometheus_url,
    fetch_status,
    get_prometheus_urls,
    make_status,
)


def vector(value: float, **labels: str) -> dict[str, object]:
    return {"metric": labels, "value": [1_750_000_000, str(value)]}


def test_the_primary_sites_prometheus_is_asked_first(lab: Estate) -> None:
    assert get_prometheus_urls(lab) == ["http://10.213.1.40:9090", "http://10.213.3.40:9090"]


@pytest.mark.parametrize("url", ["ftp://host", "10.213.1.40:9090", "http://", ""])
def test_a_bad_url_is_bad_input(url: str) -> None:
    with pytest.raises(InputError):
        check_prometheus_url(url)


def test_status_compares_backup_age_with_the_target_and_lists_firing_alerts() -> None:
    results = {
        "sites": [vector(1, site="primary"), vector(0, site="site2")],
        "services": [vector(1, service="portal", site="primary")],
        "backup_age": [
            vector(100, dataset="files", site="primary", repository="primary"),
            vector(900, dataset="files", site="primary", repository="vnpt"),
            vector(1.75e9, dataset="files", site="primary", repository="site2"),
        ],
        "backup_target": [vector(300, dataset="files", site="primary")],
        "replication_lag": [vector(800, dataset="files", site="primary", repository="vnpt")],
        "postgres_lag": [vector(0.4, host="site2-db-01")],
    }
    alerts = [
        {"state": "firing", "labels": {"alertname": "Watchdog"}},
        {"state": "pending", "labels": {"alertname": "BackupStale"}},
        {"state": "firing", "labels": {"alertname": "ReplicationLagging", "dataset": "files"}},
    ]
    status = make_status("http://x", results, alerts)
    assert status["sites"] == {"primary": True, "site2": False}
    assert [b["fresh"] for b in status["backups"]] == [True, False, False]
    assert status["backups"][2]["age_seconds"] is None  # never backed up there
    assert [a["alertname"] for a in status["alerts"]] == ["ReplicationLagging"]
    assert status["healthy"] is False


def test_status_from_a_real_prometheus(prometheus_url: str) -> None:
    status = fetch_status(["http://127.0.0.1:1", prometheus_url])
    assert status["prometheus"] == prometheus_url  # the unreachable one was skipped
    assert status["alerts"] == [] or all(a["alertname"] != "Watchdog" for a in status["alerts"])


def test_no_prometheus_answering_names_every_one_tried() -> None:
    with pytest.raises(MonitoringError) as raised:
        fetch_status(["http://127.0.0.1:1", "http://127.0.0.1:2"])
    assert "127.0.0.1:1" in str(raised.value) and "127.0.0.1:2" in str(raised.value)
