"""What the Alertmanagers hold now (``egov monitor alerts``): firing, silenced, inhibited.

``make_alerts_report`` is pure: the alerts and silences as ``alertmanager_api`` typed them
and the time in, one row per alert out, each with its age (since ``startsAt``), where it
is (site, host, service), how bad (severity), and why it does not page when it does not:
the silences that hold it (a drill's by the drill's name: its ``createdBy`` is
``egov drill <scenario>``) or the alerts that inhibit it (by their name and place). Rows
are sorted by severity (critical first), then oldest first: a cause fires before the
alerts that follow from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from egov.monitoring.alertmanager_api import Alert, AlertmanagerClient, Silence

#: Always firing, to prove the path to the Alertmanagers works: not a problem to list.
WATCHDOG_ALERT = "Watchdog"
#: ``createdBy`` of the silences a drill sets: ``egov drill <scenario>``.
DRILL_CREATOR_PREFIX = "egov drill"
SEVERITY_ORDER = ("critical", "warning", "info")
#: The labels that say where an alert is, in the order they are shown.
PLACE_LABELS = ("site", "host", "service")
FIRING = "firing"
SILENCED = "silenced"
INHIBITED = "inhibited"


@dataclass(frozen=True)
class SilenceNote:
    """A silence holding an alert; ``drill`` is the scenario when a drill set it."""

    id: str
    created_by: str
    comment: str
    drill: str | None
    ends_at: str | None

    def describe(self) -> str:
        """``drill quarterly-test-failover`` or ``silence 1a2b3c4d by ops``."""
        if self.drill is not None:
            return f"drill {self.drill}"
        return f"silence {self.id[:8]} by {self.created_by or 'unknown'}"


@dataclass(frozen=True)
class InhibitorNote:
    """An alert inhibiting another; ``alertname`` is "" when it is no longer held."""

    fingerprint: str
    alertname: str
    place: str

    def describe(self) -> str:
        """``SiteDown (site=primary)`` or the fingerprint when the inhibitor is unknown."""
        if not self.alertname:
            return f"alert {self.fingerprint}"
        return f"{self.alertname} ({self.place})" if self.place else self.alertname


@dataclass(frozen=True)
class AlertRow:
    """One alert as ``egov monitor alerts`` shows it (JSON-ready as ``asdict``)."""

    alertname: str
    severity: str
    status: str  # firing | silenced | inhibited
    site: str
    host: str
    service: str
    starts_at: str | None
    age_seconds: float | None
    summary: str
    silenced_by: tuple[SilenceNote, ...]
    inhibited_by: tuple[InhibitorNote, ...]
    receivers: tuple[str, ...]
    fingerprint: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class AlertsReport:
    """Every alert one Alertmanager (``alertmanager``) holds, sorted."""

    alertmanager: str
    alerts: tuple[AlertRow, ...]

    def count(self, status: str) -> int:
        """How many alerts have ``status``."""
        return sum(1 for row in self.alerts if row.status == status)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON: the rows and a count per status."""
        return {
            "alertmanager": self.alertmanager,
            "counts": {status: self.count(status) for status in (FIRING, SILENCED, INHIBITED)},
            "alerts": [asdict(row) for row in self.alerts],
        }


def get_drill_name(created_by: str) -> str | None:
    """The scenario of ``egov drill <scenario>``; None for another creator."""
    prefix = f"{DRILL_CREATOR_PREFIX} "
    if created_by.startswith(prefix) and created_by[len(prefix) :].strip():
        return created_by[len(prefix) :].strip()
    return None


def _place(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{name}={labels[name]}" for name in PLACE_LABELS if labels.get(name))


def _silence_note(silence_id: str, silences: Mapping[str, Silence]) -> SilenceNote:
    silence = silences.get(silence_id)
    if silence is None:  # expired and forgotten between the two requests
        return SilenceNote(silence_id, "", "", None, None)
    return SilenceNote(
        id=silence.id,
        created_by=silence.created_by,
        comment=silence.comment,
        drill=get_drill_name(silence.created_by),
        ends_at=silence.ends_at.isoformat() if silence.ends_at else None,
    )


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def make_alerts_report(
    url: str, alerts: list[Alert], silences: list[Silence], now: datetime
) -> AlertsReport:
    """The report of ``alerts`` as the Alertmanager at ``url`` gave them, at ``now``.

    An alert is ``silenced`` when a silence holds it, else ``inhibited`` when an alert
    inhibits it, else ``firing``. The watchdog is left out: it always fires.
    """
    by_id = {silence.id: silence for silence in silences}
    by_fingerprint = {alert.fingerprint: alert for alert in alerts}
    rows = []
    for alert in alerts:
        if alert.name == WATCHDOG_ALERT:
            continue
        inhibitors = []
        for fingerprint in alert.inhibited_by:
            source = by_fingerprint.get(fingerprint)
            inhibitors.append(
                InhibitorNote(
                    fingerprint,
                    source.name if source else "",
                    _place(source.labels) if source else "",
                )
            )
        status = SILENCED if alert.silenced_by else INHIBITED if alert.inhibited_by else FIRING
        age = None if alert.starts_at is None else max(0.0, (now - alert.starts_at).total_seconds())
        rows.append(
            AlertRow(
                alertname=alert.name,
                severity=alert.labels.get("severity", ""),
                status=status,
                site=alert.labels.get("site", ""),
                host=alert.labels.get("host", ""),
                service=alert.labels.get("service", ""),
                starts_at=alert.starts_at.isoformat() if alert.starts_at else None,
                age_seconds=age,
                summary=alert.annotations.get("summary", ""),
                silenced_by=tuple(_silence_note(i, by_id) for i in alert.silenced_by),
                inhibited_by=tuple(inhibitors),
                receivers=alert.receivers,
                fingerprint=alert.fingerprint,
                labels=dict(alert.labels),
            )
        )
    rows.sort(
        key=lambda row: (
            _severity_rank(row.severity),
            -(row.age_seconds if row.age_seconds is not None else -1.0),
            row.alertname,
            row.fingerprint,
        )
    )
    return AlertsReport(url, tuple(rows))


def fetch_alerts_report(
    client: AlertmanagerClient, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> AlertsReport:
    """The report from the first Alertmanager that answers (MonitoringError when none)."""
    alerts = client.list_alerts()
    silences = client.list_silences().value if any(a.silenced_by for a in alerts.value) else []
    return make_alerts_report(alerts.url, alerts.value, silences, clock())
