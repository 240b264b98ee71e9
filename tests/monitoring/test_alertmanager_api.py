"""The Alertmanager API v2 client: parsing Alertmanager 0.25's JSON, and talking to a fake
Alertmanager on loopback (``tests/fake_alertmanager.py``), which stands in for the real one
the lab suite exercises on the monitoring hosts."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from egov.errors import MonitoringError
from egov.inventory.model import Estate
from egov.monitoring.alertmanager_api import (
    AlertmanagerClient,
    AlertmanagerRefused,
    Matcher,
    SilenceRequest,
    format_timestamp,
    parse_alerts,
    parse_silences,
    parse_timestamp,
)
from egov.monitoring.endpoints import get_monitoring_urls
from tests.fake_alertmanager import FakeAlertmanager, serving_alertmanager

#: What Alertmanager 0.25 answers to GET /api/v2/alerts (trimmed, nanosecond timestamps).
ALERT_JSON = {
    "annotations": {
        "summary": "Host primary-app-01 is down",
        "runbook": "docs/runbooks.md#hostdown",
    },
    "endsAt": "2026-12-05T08:20:00.000Z",
    "fingerprint": "4b3a1c2d9e8f7a6b",
    "receivers": [{"name": "null"}],
    "startsAt": "2026-12-05T07:58:12.123456789Z",
    "status": {"inhibitedBy": ["0f0f0f0f0f0f0f0f"], "silencedBy": [], "state": "suppressed"},
    "updatedAt": "2026-12-05T08:00:00.000+07:00",
    "generatorURL": "http://10.213.1.40:9090/graph",
    "labels": {
        "alertname": "HostDown",
        "site": "primary",
        "host": "primary-app-01",
        "severity": "critical",
    },
}
SILENCE_JSON = {
    "id": "1d8d1e7f-1a0b-4b7e-9b7e-2f7c7a2c0e11",
    "status": {"state": "active"},
    "updatedAt": "2026-12-05T08:00:00.000Z",
    "comment": "drill x (test), journal j: why",
    "createdBy": "egov drill x",
    "endsAt": "2026-12-05T09:00:00.000Z",
    "matchers": [
        {"name": "site", "value": "site2", "isRegex": False, "isEqual": True},
        {"name": "severity", "value": "warning|critical", "isRegex": True},
    ],
    "startsAt": "2026-12-05T08:00:00.000Z",
}
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def make_request(site: str = "site2") -> SilenceRequest:
    """A silence live for the next hour (the fake Alertmanager judges states by the clock)."""
    now = datetime.now(UTC)
    return SilenceRequest(
        (Matcher("site", site), Matcher("severity", "warning|critical", is_regex=True)),
        now,
        now + timedelta(hours=1),
        "egov drill t",
        "drill t (test), journal j: tests",
    )


@pytest.fixture
def alertmanager() -> Iterator[FakeAlertmanager]:
    with serving_alertmanager() as fake:
        yield fake


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on loopback that takes connections and never answers (a hung host)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


# parsing


def test_an_alert_is_typed_with_its_state_silences_inhibitors_and_receivers() -> None:
    (alert,) = parse_alerts([ALERT_JSON])
    assert alert.name == "HostDown"
    assert alert.labels["host"] == "primary-app-01"
    assert alert.annotations["summary"] == "Host primary-app-01 is down"
    assert alert.starts_at == datetime(2026, 12, 5, 7, 58, 12, 123456, tzinfo=UTC)
    assert alert.state == "suppressed"
    assert alert.inhibited_by == ("0f0f0f0f0f0f0f0f",)
    assert alert.silenced_by == ()
    assert alert.receivers == ("null",)
    assert alert.fingerprint == "4b3a1c2d9e8f7a6b"


def test_malformed_alerts_are_left_out_and_odd_fields_emptied() -> None:
    alerts = parse_alerts(
        [42, "x", {"labels": "not a map", "status": None, "startsAt": "yesterday", "receivers": 3}]
    )
    assert len(alerts) == 1
    assert alerts[0].labels == {} and alerts[0].starts_at is None
    assert alerts[0].state == "unprocessed" and alerts[0].receivers == ()
    assert parse_alerts({"not": "a list"}) == []


def test_a_silence_is_typed_with_its_matchers_and_state() -> None:
    (silence,) = parse_silences([SILENCE_JSON, {"no": "id"}])
    assert silence.id == SILENCE_JSON["id"]
    assert [str(m) for m in silence.matchers] == ['site="site2"', 'severity=~"warning|critical"']
    assert silence.created_by == "egov drill x"
    assert silence.live
    assert silence.ends_at == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    expired = parse_silences([{**SILENCE_JSON, "status": {"state": "expired"}}])[0]
    assert not expired.live


def test_matchers_print_as_alertmanager_writes_them() -> None:
    assert str(Matcher("site", "a")) == 'site="a"'
    assert str(Matcher("a", "b", is_regex=True, is_equal=False)) == 'a!~"b"'
    assert str(Matcher("a", "b", is_equal=False)) == 'a!="b"'


def test_timestamps_go_out_in_utc_and_come_back_aware() -> None:
    assert format_timestamp(NOW) == "2026-12-05T08:00:00.000Z"
    assert parse_timestamp("2026-12-05T15:00:00+07:00") == NOW
    assert parse_timestamp("2026-12-05T08:00:00") == NOW  # no zone: UTC
    assert parse_timestamp(None) is None


def test_the_monitoring_hosts_are_asked_primary_site_first(lab: Estate) -> None:
    assert get_monitoring_urls(lab, 9093) == [
        "http://10.213.1.40:9093",
        "http://10.213.3.40:9093",
    ]


# talking to an Alertmanager


def test_a_silence_is_created_listed_and_expired(alertmanager: FakeAlertmanager) -> None:
    client = AlertmanagerClient([alertmanager.url])
    request = make_request()
    created = client.create_silence(request)
    assert created.url == alertmanager.url
    sent = alertmanager.silences[created.value]
    assert sent["createdBy"] == "egov drill t"
    assert sent["endsAt"] == format_timestamp(request.ends_at)
    assert sent["matchers"][1] == {
        "name": "severity",
        "value": "warning|critical",
        "isRegex": True,
        "isEqual": True,
    }
    (listed,) = client.list_silences().value
    assert listed.id == created.value
    assert client.expire_silence(created.value).value is True
    assert alertmanager.get_live() == []


def test_expiring_an_unknown_silence_says_it_is_gone(alertmanager: FakeAlertmanager) -> None:
    assert AlertmanagerClient([alertmanager.url]).expire_silence("nope").value is False


def test_alerts_are_asked_for_active_silenced_and_inhibited(
    alertmanager: FakeAlertmanager,
) -> None:
    alertmanager.alerts = [ALERT_JSON]
    answer = AlertmanagerClient([alertmanager.url]).list_alerts()
    assert [alert.name for alert in answer.value] == ["HostDown"]  # the fake refuses otherwise


def test_when_the_first_host_is_down_the_next_answers_and_is_kept(
    alertmanager: FakeAlertmanager,
) -> None:
    client = AlertmanagerClient(["http://127.0.0.1:1", alertmanager.url])
    assert client.list_silences().url == alertmanager.url
    assert client.answered == alertmanager.url
    client.create_silence(make_request())
    assert len(alertmanager.requests) == 2  # both went straight to the one that answered


def test_no_host_answering_names_every_host_tried() -> None:
    client = AlertmanagerClient(["http://127.0.0.1:1", "http://127.0.0.1:2"])
    with pytest.raises(MonitoringError) as raised:
        client.list_alerts()
    assert "no Alertmanager answered to list the alerts: http://127.0.0.1:1 (" in str(raised.value)
    assert "http://127.0.0.1:2 (" in str(raised.value)
    assert raised.value.hint


def test_no_host_at_all_says_the_inventory_names_none() -> None:
    with pytest.raises(MonitoringError, match="names no monitoring host"):
        AlertmanagerClient([]).list_silences()


def test_a_host_that_never_answers_is_given_up_on_after_the_timeout(
    silent_port: int, alertmanager: FakeAlertmanager
) -> None:
    client = AlertmanagerClient(
        [f"http://127.0.0.1:{silent_port}", alertmanager.url], timeout_seconds=0.5
    )
    began = time.monotonic()
    assert client.list_silences().url == alertmanager.url
    assert time.monotonic() - began < 3


def test_an_http_error_is_the_cluster_s_answer_named_by_its_code_only(
    alertmanager: FakeAlertmanager,
) -> None:
    with serving_alertmanager() as second:
        alertmanager.refuse_with = 500
        client = AlertmanagerClient([alertmanager.url, second.url])
        with pytest.raises(AlertmanagerRefused) as raised:
            client.create_silence(make_request())
    assert raised.value.code == 500
    assert "HTTP 500" in str(raised.value)
    assert "secret" not in str(raised.value)  # the body is not shown
    assert second.requests == []  # a host that answered is not second-guessed


def test_expiring_a_silence_twice_is_refused_as_alertmanager_does(
    alertmanager: FakeAlertmanager,
) -> None:
    client = AlertmanagerClient([alertmanager.url])
    silence_id = client.create_silence(make_request()).value
    client.expire_silence(silence_id)
    with pytest.raises(AlertmanagerRefused, match="HTTP 500"):
        client.expire_silence(silence_id)
