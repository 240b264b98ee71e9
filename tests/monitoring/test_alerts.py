"""``make_alerts_report``: what `egov monitor alerts` shows, pure, from typed alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from egov.monitoring.alertmanager_api import Alert, Silence
from egov.monitoring.alerts import get_drill_name, make_alerts_report

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def alert(
    name: str,
    severity: str,
    minutes_ago: float,
    fingerprint: str = "",
    silenced_by: tuple[str, ...] = (),
    inhibited_by: tuple[str, ...] = (),
    **labels: str,
) -> Alert:
    return Alert(
        fingerprint=fingerprint or name,
        labels={"alertname": name, "severity": severity, **labels},
        annotations={"summary": f"{name} summary"},
        starts_at=NOW - timedelta(minutes=minutes_ago),
        state="suppressed" if silenced_by or inhibited_by else "active",
        silenced_by=silenced_by,
        inhibited_by=inhibited_by,
        receivers=("null",),
    )


def silence(silence_id: str, created_by: str) -> Silence:
    return Silence(silence_id, (), NOW, NOW + timedelta(hours=1), created_by, "why", "active")


def test_rows_are_critical_first_then_oldest_first_and_the_watchdog_is_left_out() -> None:
    alerts = [
        alert("BackupStale", "warning", 90, site="primary"),
        alert("HostDown", "critical", 2, host="primary-app-01", site="primary"),
        alert("Watchdog", "none", 600),
        alert("SiteDown", "critical", 10, site="primary"),
        alert("Odd", "", 1000),
    ]
    report = make_alerts_report("http://am", alerts, [], NOW)
    assert [row.alertname for row in report.alerts] == [
        "SiteDown",
        "HostDown",
        "BackupStale",
        "Odd",
    ]
    assert report.alerts[0].age_seconds == 600
    assert report.alerts[1].host == "primary-app-01"
    assert report.alerts[1].site == "primary"
    assert report.count("firing") == 4


def test_a_silenced_alert_names_the_drill_that_silenced_it() -> None:
    alerts = [
        alert("HostDown", "critical", 3, silenced_by=("s1",), site="site2"),
        alert("BackupStale", "warning", 3, silenced_by=("s2",), site="site2"),
        alert("DiskFull", "warning", 3, silenced_by=("gone",), site="site2"),
    ]
    silences = [silence("s1", "egov drill quarterly-test-failover"), silence("s2", "an operator")]
    report = make_alerts_report("http://am", alerts, silences, NOW)
    by_name = {row.alertname: row for row in report.alerts}
    assert all(row.status == "silenced" for row in report.alerts)
    assert by_name["HostDown"].silenced_by[0].drill == "quarterly-test-failover"
    assert by_name["HostDown"].silenced_by[0].describe() == "drill quarterly-test-failover"
    assert by_name["BackupStale"].silenced_by[0].describe() == "silence s2 by an operator"
    assert by_name["DiskFull"].silenced_by[0].describe() == "silence gone by unknown"


def test_an_inhibited_alert_names_the_alert_that_inhibits_it() -> None:
    alerts = [
        alert("SiteDown", "critical", 5, fingerprint="f-site", site="primary"),
        alert("HostDown", "critical", 4, inhibited_by=("f-site",), host="primary-db-01"),
        alert("ExporterDown", "warning", 4, inhibited_by=("f-gone",)),
    ]
    report = make_alerts_report("http://am", alerts, [], NOW)
    by_name = {row.alertname: row for row in report.alerts}
    assert by_name["HostDown"].status == "inhibited"
    assert by_name["HostDown"].inhibited_by[0].describe() == "SiteDown (site=primary)"
    assert by_name["ExporterDown"].inhibited_by[0].describe() == "alert f-gone"
    assert by_name["SiteDown"].status == "firing"
    assert (report.count("firing"), report.count("inhibited")) == (1, 2)


def test_an_alert_without_a_start_has_no_age_and_sorts_last_in_its_severity() -> None:
    undated = Alert("u", {"alertname": "Undated", "severity": "critical"}, {}, None, "active")
    report = make_alerts_report("http://am", [undated, alert("Dated", "critical", 1)], [], NOW)
    assert [row.alertname for row in report.alerts] == ["Dated", "Undated"]
    assert report.alerts[1].age_seconds is None


def test_the_json_carries_the_rows_and_the_counts() -> None:
    alerts = [alert("HostDown", "critical", 3, silenced_by=("s1",), site="site2")]
    report = make_alerts_report("http://am", alerts, [silence("s1", "egov drill x")], NOW)
    document = report.to_json()
    assert document["counts"] == {"firing": 0, "silenced": 1, "inhibited": 0}
    assert document["alerts"][0]["silenced_by"][0]["drill"] == "x"
    assert document["alerts"][0]["starts_at"] == "2026-12-05T07:57:00+00:00"


def test_only_egov_drill_creators_name_a_drill() -> None:
    assert get_drill_name("egov drill loss-of-primary-site") == "loss-of-primary-site"
    assert get_drill_name("egov drill ") is None
    assert get_drill_name("egov drilling") is None
    assert get_drill_name("ops") is None
