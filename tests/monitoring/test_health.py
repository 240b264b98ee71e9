"""``egov monitor status``'s core: every shape a Prometheus may answer with.

A real Prometheus is used where one can be (the conftest starts Debian's); the partial
shapes a real one returns only at awkward moments (the first scrapes after a deploy, a
series with NaN, a Prometheus still replaying its WAL) are served by a tiny HTTP server on
loopback that answers with the JSON Prometheus's API would give.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from egov.cli import run
from egov.errors import InputError, MonitoringError
from egov.inventory.model import Estate
from egov.monitoring.health import (
    QUERIES,
    UNLABELLED,
    check_prometheus_url,
    fetch_status,
    get_prometheus_urls,
    make_status,
    parse_vector,
)
from tests.loopback import serving


def vector(value: float | str, **labels: str) -> dict[str, object]:
    return {"metric": labels, "value": [1_750_000_000, str(value)]}


def answer(*samples: dict[str, object]) -> dict[str, object]:
    return {"resultType": "vector", "result": list(samples)}


def results(**answers: list[dict[str, object]]) -> dict[str, Any]:
    """Every query's parsed samples; the queries not named answer with an empty vector."""
    return {name: parse_vector(answer(*answers.get(name, []))) for name in QUERIES}


def test_the_primary_sites_prometheus_is_asked_first(lab: Estate) -> None:
    assert get_prometheus_urls(lab) == ["http://10.213.1.40:9090", "http://10.213.3.40:9090"]


@pytest.mark.parametrize("url", ["ftp://host", "10.213.1.40:9090", "http://", ""])
def test_a_bad_url_is_bad_input(url: str) -> None:
    with pytest.raises(InputError):
        check_prometheus_url(url)


def test_status_compares_backup_age_with_the_target_and_lists_firing_alerts() -> None:
    shapes = results(
        sites=[vector(1, site="primary"), vector(0, site="site2")],
        services=[vector(1, service="portal", site="primary")],
        backup_age=[
            vector(100, dataset="files", site="primary", repository="primary"),
            vector(900, dataset="files", site="primary", repository="vnpt"),
            vector(1.75e9, dataset="files", site="primary", repository="site2"),
        ],
        backup_target=[vector(300, dataset="files", site="primary")],
        replication_lag=[vector(800, dataset="files", site="primary", repository="vnpt")],
        postgres_lag=[vector(0.4, host="site2-db-01")],
    )
    alerts = [
        {"state": "firing", "labels": {"alertname": "Watchdog"}},
        {"state": "pending", "labels": {"alertname": "BackupStale"}},
        {"state": "firing", "labels": {"alertname": "ReplicationLagging", "dataset": "files"}},
    ]
    status = make_status("http://x", shapes, alerts)
    assert status["sites"] == {"primary": True, "site2": False}
    fresh = {b["repository"]: b["fresh"] for b in status["backups"]}
    assert fresh == {"primary": True, "vnpt": False, "site2": False}
    never = next(b for b in status["backups"] if b["repository"] == "site2")
    assert never["age_seconds"] is None and never["never"] is True
    assert [a["alertname"] for a in status["alerts"]] == ["ReplicationLagging"]
    assert status["healthy"] is False


def test_series_without_their_labels_are_shown_unlabelled_not_a_crash() -> None:
    """The first scrapes after a deploy: `up` without the `site` label the relabelling adds."""
    shapes = results(
        sites=[vector(1, site="primary"), vector(1), vector(0)],
        services=[vector(1, service="portal"), vector(1, site="site2")],
        backup_age=[vector(100, dataset="files")],
        postgres_lag=[vector(0.2)],
    )
    status = make_status("http://x", shapes, [{"state": "firing", "labels": {}}])
    assert status["sites"] == {UNLABELLED: True, "primary": True}
    assert {(s["service"], s["site"]) for s in status["services"]} == {
        ("portal", UNLABELLED),
        (UNLABELLED, "site2"),
    }
    (row,) = status["backups"]
    assert (row["site"], row["repository"], row["target_seconds"]) == (UNLABELLED, UNLABELLED, None)
    assert row["fresh"] is False  # no target known: never called fresh
    assert status["postgres"] == [{"host": UNLABELLED, "lag_seconds": 0.2}]
    assert status["alerts"] == [{"alertname": UNLABELLED, "labels": {}}]
    json.dumps(status, allow_nan=False)


def test_nan_and_garbage_values_are_unknown_never_fresh_or_up() -> None:
    shapes = results(
        sites=[vector("NaN", site="primary")],
        services=[vector("NaN", service="portal", site="primary")],
        backup_age=[vector("NaN", dataset="db", site="primary", repository="primary")],
        backup_target=[vector("NaN", dataset="db", site="primary")],
        replication_lag=[vector("+Inf", dataset="db", site="primary", repository="vnpt")],
        postgres_lag=[vector("not a number", host="site2-db-01")],
    )
    status = make_status("http://x", shapes, None)
    assert status["sites"] == {"primary": None}
    assert status["services"][0]["up"] is None
    (row,) = status["backups"]
    assert row["age_seconds"] is None and row["fresh"] is False and row["never"] is False
    assert status["replication"][0]["lag_seconds"] is None
    assert status["postgres"][0]["lag_seconds"] is None
    assert status["healthy"] is False
    json.dumps(status, allow_nan=False)  # the JSON output is standard JSON


def test_an_empty_answer_is_no_data_not_healthy() -> None:
    status = make_status("http://x", results(), [])
    assert status["no_data"] is True and status["healthy"] is False
    assert status["sites"] == {} and status["backups"] == []


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"result": None},
        {"result": "x"},
        {"result": [None, 3, {"metric": None, "value": None}, {"value": [1]}]},
    ],
)
def test_malformed_answers_are_left_out_not_fatal(data: object) -> None:
    samples = parse_vector(data)
    assert all(sample.value is None for sample in samples)
    assert all(sample.label("site") == UNLABELLED for sample in samples)


# A fake Prometheus on loopback: the HTTP shapes a real one gives at awkward moments.


@pytest.fixture
def fake_prometheus() -> Iterator[tuple[str, dict[str, Any]]]:
    """A server whose answers the test sets: ``state["starting"]`` 503s before it is ready."""
    state: dict[str, Any] = {"starting": 0, "answers": {}, "alerts": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if state["starting"] > 0:
                state["starting"] -= 1
                self.send_response(503)
                self.end_headers()
                self.wfile.write(b"Service Unavailable")
                return
            parts = urlsplit(self.path)
            if parts.path == "/api/v1/alerts":
                data: object = {"alerts": state["alerts"]}
            else:
                expr = parse_qs(parts.query)["query"][0]
                name = next(name for name, query in QUERIES.items() if query == expr)
                data = answer(*state["answers"].get(name, []))
            body = json.dumps({"status": "success", "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url, state


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_prometheus_still_starting_is_waited_for(
    fake_prometheus: tuple[str, dict[str, Any]],
) -> None:
    url, state = fake_prometheus
    state["starting"] = 3
    state["answers"] = {"sites": [vector(1, site="primary")]}
    clock = FakeClock()
    status = fetch_status([url], wait_seconds=60, clock=clock, sleep=clock.sleep)
    assert status["sites"] == {"primary": True}
    assert 0 < clock.now < 60


def test_a_prometheus_that_never_gets_ready_fails_after_one_window(
    fake_prometheus: tuple[str, dict[str, Any]],
) -> None:
    url, state = fake_prometheus
    state["starting"] = 10**6
    clock = FakeClock()
    with pytest.raises(MonitoringError) as raised:
        fetch_status([url], wait_seconds=10, clock=clock, sleep=clock.sleep)
    assert "after waiting 10 s" in str(raised.value) and "still starting" in str(raised.value)
    assert 10 <= clock.now < 13


def test_an_unreachable_prometheus_is_not_waited_for() -> None:
    clock = FakeClock()
    with pytest.raises(MonitoringError):
        fetch_status(["http://127.0.0.1:1"], wait_seconds=60, clock=clock, sleep=clock.sleep)
    assert clock.now == 0


@pytest.mark.parametrize("output", [[], ["-o", "json"]])
def test_the_command_renders_partial_data(
    fake_prometheus: tuple[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    output: list[str],
) -> None:
    """What stopped `make demo`: a site named null could not be sorted with the others."""
    url, state = fake_prometheus
    state["answers"] = {
        "sites": [vector(1, site="primary"), vector(1)],
        "services": [vector("NaN", service="portal", site="primary")],
        "backup_age": [vector(5, dataset="files", site="primary")],
        "postgres_lag": [vector("NaN", host="site2-db-01")],
    }
    state["alerts"] = [{"state": "firing", "labels": {"alertname": "HostDown"}}, "junk"]
    assert run(["monitor", "status", "--prometheus", url, *output]) == 0
    captured = capsys.readouterr()
    assert "internal error" not in captured.err and "Traceback" not in captured.err
    if output:
        assert json.loads(captured.out)["sites"] == {UNLABELLED: True, "primary": True}
    else:
        assert UNLABELLED in captured.out and "HostDown" in captured.out


def test_the_command_says_when_there_is_no_data_yet(
    fake_prometheus: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = fake_prometheus
    assert run(["monitor", "status", "--prometheus", url]) == 0
    assert "no data yet" in capsys.readouterr().out


def test_status_from_a_real_prometheus(prometheus_url: str) -> None:
    status = fetch_status(["http://127.0.0.1:1", prometheus_url])
    assert status["prometheus"] == prometheus_url  # the unreachable one was skipped
    assert status["alerts"] == [] or all(a["alertname"] != "Watchdog" for a in status["alerts"])


def test_no_prometheus_answering_names_every_one_tried() -> None:
    with pytest.raises(MonitoringError) as raised:
        fetch_status(["http://127.0.0.1:1", "http://127.0.0.1:2"])
    assert "127.0.0.1:1" in str(raised.value) and "127.0.0.1:2" in str(raised.value)
