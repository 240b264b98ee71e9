"""One generated rule as data: an alert or a recording rule, and the labels an alert promises.

An ``Alert`` becomes the dict Prometheus reads only with a language, in which its texts are
written (``egov.monitoring.annotations``). ``ALERT_LABELS`` is the contract routing and
inhibition rely on; the rules' promtool suites hold every alert to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from egov.inventory.fields import format_duration
from egov.monitoring.annotations import make_annotations

_HOST = ("site", "host")
#: The labels each alert always carries besides ``severity``, whatever its expression's input:
#: an alert about a host names its site and host, one about a service its service, one about
#: a dataset its dataset and the site it is backed up from (for the WAL archive, the site and
#: host of the archive). Routes (by site, service) and inhibitions (a site down holds back its
#: hosts' alerts) match on them; the promtool suite holds every alert to them.
ALERT_LABELS: dict[str, tuple[str, ...]] = {
    "BackupStale": ("dataset", "site", "repository"),
    "ReplicationLagging": ("dataset", "site", "repository"),
    "ReplicationSnapshotMissing": ("dataset", "site", "repository"),
    "BackupJobFailed": ("dataset", *_HOST, "repository"),
    "WalArchiveStale": ("dataset", *_HOST, "server"),
    "BaseBackupStale": ("dataset", *_HOST, "server"),
    "WalArchiveFailing": ("dataset", *_HOST, "server"),
    "VerificationFailed": ("repository", "site"),
    "VerificationOverdue": ("repository", "site"),
    "RestoreTestFailed": ("dataset", "repository", "site"),
    "DrillOverdue": ("scenario",),
    "DrillFailed": ("scenario",),
    "DrillRtoMissed": ("scenario", "service"),
    "DrillRpoMissed": ("scenario", "service"),
    "StorageUsageHigh": ("site",),
    "StorageUsageCritical": ("site",),
    "StorageFullSoon": ("site",),
    "PostgresPrimaryDown": _HOST,
    "PostgresHeartbeatStale": _HOST,
    "PostgresReplicaMissing": _HOST,
    "PostgresReplicaLagging": _HOST,
    "ServiceErrorBudgetBurn": ("service",),
    "ServiceErrorBudgetBurnSlow": ("service",),
    "Watchdog": (),
    "SiteDown": ("site",),
    "HostDown": _HOST,
    "EgovExporterDown": _HOST,
    "EgovExporterAbsent": _HOST,
}


def format_threshold(value: float) -> str:
    """A threshold as the rule's expression writes it: ``600``, ``7.8624e+06``, ``0.072``."""
    return f"{value:.6g}"


def make_for(target: timedelta, lab: bool) -> timedelta:
    """The ``for`` window of an alert on ``target``: a tenth of it, within bounds."""
    low, high = (
        (timedelta(seconds=30), timedelta(minutes=5))
        if lab
        else (timedelta(minutes=5), timedelta(hours=1))
    )
    return min(max(target / 10, low), high)


def make_window(production: timedelta, lab: bool) -> timedelta:
    """A fixed window, shortened for the lab (to a tenth, at least 30 s)."""
    return max(production / 10, timedelta(seconds=30)) if lab else production


@dataclass(frozen=True)
class Alert:
    """One alerting rule: ``subject`` are labels it sets, ``values`` the figures its texts quote.

    ``subject`` repeats labels the expression already yields, for one generated rule: rules of
    the same name then differ, as ``promtool check rules --lint-fatal`` requires.
    """

    name: str
    expr: str
    window: timedelta
    severity: str
    subject: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)
    keep_firing_for: timedelta = timedelta(0)

    def to_rule(self, language: str) -> dict[str, Any]:
        """The rule as Prometheus reads it, its texts in ``language``."""
        rule: dict[str, Any] = {"alert": self.name, "expr": self.expr}
        if self.window:
            rule["for"] = format_duration(self.window)
        if self.keep_firing_for:
            rule["keep_firing_for"] = format_duration(self.keep_firing_for)
        rule["labels"] = {**self.subject, "severity": self.severity}
        # Prometheus templates annotations with the expression's labels only, not the rule's:
        # the texts quote the rule's own labels as they are.
        quoted = {"window": format_duration(self.window), **self.subject, **self.values}
        rule["annotations"] = make_annotations(self.name, language, ALERT_LABELS[self.name], quoted)
        return rule


@dataclass(frozen=True)
class Record:
    """One recording rule."""

    name: str
    expr: str
    subject: Mapping[str, str] = field(default_factory=dict)

    def to_rule(self, language: str) -> dict[str, Any]:
        """The rule as Prometheus reads it (``language`` is for alerts only)."""
        rule: dict[str, Any] = {"record": self.name, "expr": self.expr}
        if self.subject:
            rule["labels"] = dict(self.subject)
        return rule


Rule = Alert | Record
