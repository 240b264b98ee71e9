"""Alerts that reach a person: delivered by e-mail and webhook from the lab's Alertmanagers.

The relay and the webhook are the lab's stand-ins (tests/lab/sinks.py) on the control node's
site-2 bridge address, where the lab inventory's ``alerting:`` section points. Everything
between the fault and the sink is the real thing: node_exporter, both Prometheus servers, the
generated rules, the Alertmanager cluster with the generated routes, templates and inhibitions,
STARTTLS and the relay's password from the secret.

This module runs after test_monitoring.py and powers a whole site off and on; every test
restores what it broke in ``finally``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from egov.drills.scenario import Mode
from egov.drills.silences import make_comment, make_settle_time
from egov.inventory import load_estate
from egov.inventory.model import Estate
from egov.monitoring.alertmanager_api import AlertmanagerClient, Matcher, SilenceRequest
from egov.monitoring.alerts import DRILL_CREATOR_PREFIX
from egov.secrets import read_secret
from tests.lab.conftest import INVENTORY, Lab, egov
from tests.lab.sinks import Hook, Inbox, Mail, serving_sinks

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("deployed")]

#: The lab's HostDown and SiteDown ``for`` (30 s), plus the issue's 2 minutes.
DELIVERY_BOUND = 30 + 120
T = TypeVar("T")


@pytest.fixture(scope="module")
def estate() -> Estate:
    return load_estate(INVENTORY).estate


@pytest.fixture(scope="module")
def inbox(estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    """The relay and the webhook sink, where the lab inventory sends the alerts."""
    alerting = estate.alerting
    assert alerting is not None and alerting.smtp is not None
    host, _, port = alerting.smtp.smarthost.rpartition(":")
    hooks = [hook for receiver in alerting.receivers.values() for hook in receiver.webhooks]
    assert len(hooks) == 1, "the lab inventory names one webhook"
    hook_url = urlsplit(str(hooks[0].url))
    assert hook_url.hostname == host, "both sinks listen on the control node's address"
    assert hooks[0].token is not None and alerting.smtp.password is not None
    credentials = (alerting.smtp.username or "", read_secret(alerting.smtp.password))
    with serving_sinks(
        IPv4Address(host),
        int(port),
        hook_url.port or 80,
        credentials,
        read_secret(hooks[0].token),
        Path(tmp_path_factory.mktemp("relay")),
    ) as inbox:
        yield inbox


def _wait_for(get: Callable[[], T | None], seconds: float, what: str) -> tuple[T, float]:
    """Poll ``get`` until it returns something; that and the seconds it took."""
    started = time.monotonic()
    while (found := get()) is None:
        assert time.monotonic() - started < seconds, f"{what} not seen within {seconds:.0f} s"
        time.sleep(2)
    return found, time.monotonic() - started


def _alerts(hook: Hook) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = hook.payload.get("alerts", [])
    return alerts


def _mails_about(inbox: Inbox, *words: str, resolved: bool | None = None) -> list[Mail]:
    mails, _ = inbox.snapshot()
    chosen = [m for m in mails if all(word in m.text for word in words)]
    if resolved is not None:
        chosen = [m for m in chosen if _is_resolved(m) is resolved]
    return chosen


def _is_resolved(mail: Mail) -> bool:
    return mail.subject.startswith(("[ĐÃ KHẮC PHỤC]", "[RESOLVED]"))


def _hooks_about(inbox: Inbox, alertname: str, status: str, **labels: str) -> list[Hook]:
    _, hooks = inbox.snapshot()
    return [
        hook
        for hook in hooks
        if any(
            a["labels"].get("alertname") == alertname
            and a.get("status") == status
            and all(a["labels"].get(k) == v for k, v in labels.items())
            for a in _alerts(hook)
        )
    ]


def _first(items: list[T]) -> T | None:
    return items[0] if items else None


def _monitor_alerts(alertname: str, host: str) -> list[dict[str, Any]]:
    """``egov monitor alerts --output json``'s rows of ``alertname`` on ``host``."""
    result = egov("monitor", "alerts", "--output", "json", timeout=120)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["alerts"]
    return [r for r in rows if r["alertname"] == alertname and r["host"] == host]


def test_a_host_powered_off_is_mailed_and_hooked_once_in_vietnamese_then_resolved(
    lab: Lab, inbox: Inbox, estate: Estate
) -> None:
    machine, drilled = "primary-motcua-02", "primary-portal-02"
    monitoring = {lab.address("primary-mon-01"), lab.address("site2-mon-01")}
    # a silence as a drill sets it, over a second host the "drill" powers off at the same time
    client = AlertmanagerClient(
        [f"http://{lab.address(m)}:9093" for m in ("primary-mon-01", "site2-mon-01")]
    )
    now = datetime.now(UTC)
    silence = client.create_silence(
        SilenceRequest(
            (Matcher("host", drilled), Matcher("severity", "warning|critical", is_regex=True)),
            now,
            now + timedelta(minutes=30),
            f"{DRILL_CREATOR_PREFIX} lab-alerting",
            make_comment("lab-alerting", Mode.TEST, "lab-alerting-1", "lab test"),
        )
    ).value
    lab.api.power_off_host(lab.spec, machine)
    lab.api.power_off_host(lab.spec, drilled)
    try:
        mail, took = _wait_for(
            lambda: _first(_mails_about(inbox, "HostDown", machine, resolved=False)),
            DELIVERY_BOUND,
            f"the HostDown e-mail for {machine}",
        )
        _wait_for(
            lambda: _first(_hooks_about(inbox, "HostDown", "firing", host=machine)),
            DELIVERY_BOUND,
            f"the HostDown webhook call for {machine}",
        )
        assert mail.peer in monitoring
        assert mail.recipients == ("vanhanh@lab.example",)
        # Vietnamese, and it says where and what to open
        assert "Máy chủ" in mail.text and "primary" in mail.text, mail.text
        assert "runbooks.md#hostdown" in mail.text, mail.text
        print(f"HostDown for {machine} mailed {took:.0f} s after the power went off")
        # one message per incident: another group interval brings no second one
        time.sleep(45)
        firing = _mails_about(inbox, "HostDown", machine, resolved=False)
        assert len(firing) == 1, [mail.text for mail in firing]
        assert len(_hooks_about(inbox, "HostDown", "firing", host=machine)) == 1
        # the drilled host's alert fires, marked with the drill, and pages nobody
        rows = _monitor_alerts("HostDown", drilled)
        assert [r["status"] for r in rows] == ["silenced"], rows
        assert rows[0]["silenced_by"][0]["drill"] == "lab-alerting", rows
        assert _mails_about(inbox, "HostDown", drilled) == []
        assert _hooks_about(inbox, "HostDown", "firing", host=drilled) == []
    finally:
        lab.api.power_on_host(lab.spec, machine)
        lab.api.power_on_host(lab.spec, drilled)
        # as a drill ends: its silence runs on for the settle time, while the host comes back
        (held,) = [s for s in client.list_silences().value if s.id == silence]
        silence = client.end_silence_at(held, datetime.now(UTC) + make_settle_time(estate)).value
    _wait_for(
        lambda: _first(_mails_about(inbox, "HostDown", machine, resolved=True)),
        240,
        f"the resolved e-mail for {machine}",
    )
    _wait_for(
        lambda: _first(_hooks_about(inbox, "HostDown", "resolved", host=machine)),
        240,
        f"the resolved webhook call for {machine}",
    )
    # the drilled host came back within the settle time: once the silence has ended (and a
    # group interval more), it has still not paged
    _wait_for(
        lambda: _first([s for s in client.list_silences().value if s.id == silence and not s.live]),
        120,
        "the drill's silence to end",
    )
    time.sleep(35)
    assert _mails_about(inbox, "HostDown", drilled) == []
    assert _hooks_about(inbox, "HostDown", "firing", host=drilled) == []
    assert inbox.refused == []


def test_the_primary_site_powered_off_is_one_site_down_from_site_2_and_no_host_alerts(
    lab: Lab, inbox: Inbox, estate: Estate
) -> None:
    primary_hosts = [ref.qualified_name for ref in estate.iter_hosts() if ref.site == "primary"]
    site2_monitor = lab.address("site2-mon-01")
    inbox.clear()
    lab.api.power_off_site(lab.spec, "primary")
    try:
        mail, took = _wait_for(
            lambda: _first(_mails_about(inbox, "SiteDown", "primary", resolved=False)),
            DELIVERY_BOUND,
            "the SiteDown e-mail for primary",
        )
        assert mail.peer == site2_monitor, "the primary's Alertmanager is off with its site"
        print(f"SiteDown for primary mailed {took:.0f} s after the power went off")
        # the host alerts behind it are inhibited; the cluster delivers the site alert once
        time.sleep(60)
        assert len(_mails_about(inbox, "SiteDown", "primary", resolved=False)) == 1
        assert len(_hooks_about(inbox, "SiteDown", "firing", site="primary")) == 1
        for host in primary_hosts:
            assert _hooks_about(inbox, "HostDown", "firing", host=host) == [], host
        # `egov monitor alerts` (answered by site 2) says what holds the host alerts back
        rows = _monitor_alerts("HostDown", "primary-db-01")
        assert [r["status"] for r in rows] == ["inhibited"], rows
        assert rows[0]["inhibited_by"][0]["alertname"] == "SiteDown", rows
    finally:
        lab.api.power_on_site(lab.spec, "primary")
    _wait_for(
        lambda: _first(_mails_about(inbox, "SiteDown", "primary", resolved=True)),
        300,
        "the resolved e-mail for the primary site",
    )
    assert inbox.refused == []
