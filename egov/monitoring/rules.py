"""Prometheus alert and recording rules, generated from the estate's targets.

Every threshold is the inventory's: a dataset's backup target, a replica's tightest database
RPO, the drill interval, each service's availability SLO. ``for`` windows derive from the
threshold (a tenth of it, within bounds) and are shorter in the lab, whose targets are minutes,
so that a fault there fires its alerts within a drill.

Metrics of the egov exporter are aggregated with ``max``/``min by`` their own labels: every
monitoring host runs an exporter, and each Prometheus scrapes them all, so an alert names a
dataset once, whichever exporter saw it. Every alert carries ``summary``, ``description`` and
``runbook`` (a section of ``docs/runbooks.md``, whose anchor is the alert's name in lower case).

Multiwindow, multi-burn-rate alerts follow the SRE Workbook (ch. 5): page when 2 % of the
30-day budget burns in 1 h (×14.4, confirmed over 5 m) or 5 % in 6 h (×6, over 30 m); ticket
when 10 % burns in 3 d (×1, over 6 h). The service counts as up when any site answers (the
warm standby answers 503 until promoted), so the SLI is ``max by (service) (probe_success)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from egov.inventory.fields import format_duration
from egov.monitoring.prometheus_config import PROBE_JOB_PREFIX
from egov.monitoring.targets import MonitoringTargets

RUNBOOK_DOCUMENT = "docs/runbooks.md"
RULES_FILE_NAME = "egov.yml"
STORAGE_HIGH_RATIO = 0.80
STORAGE_CRITICAL_RATIO = 0.90
STORAGE_FULL_HORIZON = timedelta(days=7)
VERIFICATION_RUN_INTERVAL = timedelta(days=1)  # one read-data subset a day
HEARTBEAT_STALE = timedelta(seconds=30)
JOB = "egov"
REPLICA_ROLES = "(.+,)?db-replica(,.+)?"


@dataclass(frozen=True)
class BurnRateWindow:
    """One pair of the SRE Workbook's multiwindow alerts."""

    long: timedelta
    short: timedelta
    factor: float


PAGE_WINDOWS = (
    BurnRateWindow(timedelta(hours=1), timedelta(minutes=5), 14.4),
    BurnRateWindow(timedelta(hours=6), timedelta(minutes=30), 6.0),
)
TICKET_WINDOWS = (BurnRateWindow(timedelta(days=3), timedelta(hours=6), 1.0),)
#: The lab's burn-rate windows are the production ones divided by this.
LAB_WINDOW_DIVISOR = 6


def _d(value: timedelta) -> str:
    return format_duration(value)


def _number(value: float) -> str:
    return f"{value:.6g}"


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


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


def _alert(
    name: str,
    expr: str,
    window: timedelta,
    severity: str,
    summary: str,
    description: str,
    subject: dict[str, str] | None = None,
) -> dict[str, Any]:
    # ``subject`` repeats the labels the expression already yields for one generated rule:
    # rules of the same name then differ, as ``promtool check rules --lint-fatal`` requires.
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if window:
        rule["for"] = _d(window)
    rule["labels"] = {**(subject or {}), "severity": severity}
    rule["annotations"] = {
        "summary": summary,
        "description": description,
        "runbook": f"{RUNBOOK_DOCUMENT}#{name.lower()}",
    }
    return rule


def _record(name: str, expr: str, subject: dict[str, str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": name, "expr": expr}
    if subject:
        rule["labels"] = subject
    return rule


def make_backup_rules(targets: MonitoringTargets) -> list[dict[str, Any]]:
    """Backup freshness, replication lag and presence, per dataset; failed agent runs."""
    rules = []
    seen: set[str] = set()
    for target in targets.datasets:
        if target.dataset in seen or not target.repositories:
            continue
        seen.add(target.dataset)
        limit = _seconds(target.backup_target_seconds)
        first, copies = target.repositories[0], target.repositories[1:]
        window = make_for(limit, targets.is_lab)
        rules.append(
            _alert(
                "BackupStale",
                f"time() - max by (dataset, site, repository) "
                f'(dr_backup_last_snapshot_timestamp_seconds{{dataset="{target.dataset}", '
                f'repository="{first}"}}) > {_number(target.backup_target_seconds)}',
                window,
                "critical",
                "Backup of {{ $labels.dataset }} at {{ $labels.site }} is stale",
                "The newest snapshot of {{ $labels.dataset }} from {{ $labels.site }} in "
                "repository {{ $labels.repository }} is {{ $value | humanizeDuration }} old; "
                f"its target is {_d(limit)}.",
                {"dataset": target.dataset},
            )
        )
        if not copies:
            continue
        matcher = f'dataset="{target.dataset}", repository=~"{"|".join(copies)}"'
        rules.append(
            _alert(
                "ReplicationLagging",
                f"max by (dataset, site, repository) (dr_replication_lag_seconds{{{matcher}}}) "
                f"> {_number(target.backup_target_seconds)}",
                window,
                "warning",
                "Repository {{ $labels.repository }} lags behind for {{ $labels.dataset }}",
                "Repository {{ $labels.repository }} holds snapshots of {{ $labels.dataset }} "
                "from {{ $labels.site }} {{ $value | humanizeDuration }} older than the first "
                f"repository ({first}); the target is {_d(limit)}.",
                {"dataset": target.dataset},
            )
        )
        rules.append(
            _alert(
                "ReplicationSnapshotMissing",
                f"max by (dataset, site, repository) (dr_backup_snapshot_present{{{matcher}}}) "
                "== 0",
                limit,
                "warning",
                "{{ $labels.dataset }} is missing from repository {{ $labels.repository }}",
                "A host of {{ $labels.site }} has no snapshot of {{ $labels.dataset }} in "
                "repository {{ $labels.repository }}: the copy from "
                f"{first} has not run or failed for {_d(limit)}.",
                {"dataset": target.dataset},
            )
        )
    rules.append(
        _alert(
            "BackupJobFailed",
            "max by (dataset, host, site, repository) (dr_backup_last_result) == 0",
            make_window(timedelta(minutes=15), targets.is_lab),
            "warning",
            "The last backup of {{ $labels.dataset }} on {{ $labels.host }} failed",
            "The backup agent on {{ $labels.host }} reported a failed run of "
            "{{ $labels.dataset }} to {{ $labels.repository }}; BackupStale follows if the "
            "next runs fail too.",
        )
    )
    return rules


def make_verification_rules(targets: MonitoringTargets) -> list[dict[str, Any]]:
    """Repository checks failing or overdue, restore tests failing."""
    overdue = _number((VERIFICATION_RUN_INTERVAL * 2).total_seconds())
    return [
        _alert(
            "VerificationFailed",
            "min by (repository, site) (dr_verification_last_result) == 0",
            make_window(timedelta(minutes=5), targets.is_lab),
            "critical",
            "restic check failed on repository {{ $labels.repository }}",
            "The last restic check --read-data-subset of {{ $labels.repository }} at "
            "{{ $labels.site }} found errors: the repository may be damaged.",
        ),
        _alert(
            "VerificationOverdue",
            "time() - max by (repository, site) "
            f"(dr_verification_last_success_timestamp_seconds) > {overdue}",
            make_window(timedelta(hours=1), targets.is_lab),
            "warning",
            "Repository {{ $labels.repository }} has not been verified lately",
            "No restic check of {{ $labels.repository }} has passed for "
            "{{ $value | humanizeDuration }}; the rotation reads every pack over "
            f"{targets.verify_days} days, one subset a day.",
        ),
        _alert(
            "RestoreTestFailed",
            "min by (dataset, repository, site) (dr_restore_test_last_result) == 0",
            make_window(timedelta(minutes=5), targets.is_lab),
            "critical",
            "Restore test of {{ $labels.dataset }} from {{ $labels.repository }} failed",
            "The last test restore of {{ $labels.dataset }} from repository "
            "{{ $labels.repository }} failed: that copy may not be restorable.",
        ),
    ]


def make_drill_rules(targets: MonitoringTargets) -> list[dict[str, Any]]:
    """Drills overdue (against the inventory's interval), failed, or missing their targets."""
    interval = _seconds(targets.drill_interval_seconds)
    rules = [
        _alert(
            "DrillOverdue",
            f"time() - max by (scenario) (dr_drill_last_success_timestamp_seconds"
            f'{{scenario="{scenario}"}}) > {_number(targets.drill_interval_seconds)}',
            make_window(timedelta(hours=1), targets.is_lab),
            "warning",
            "Drill {{ $labels.scenario }} is overdue",
            "Drill scenario {{ $labels.scenario }} last succeeded "
            "{{ $value | humanizeDuration }} ago; the inventory asks for one every "
            f"{_d(interval)}.",
            {"scenario": scenario},
        )
        for scenario in targets.scenarios
    ]
    window = make_window(timedelta(minutes=5), targets.is_lab)
    rules.append(
        _alert(
            "DrillFailed",
            "min by (scenario) (dr_drill_last_result) == 0",
            window,
            "warning",
            "Drill {{ $labels.scenario }} failed",
            "The last run of drill scenario {{ $labels.scenario }} failed; see its journal.",
        )
    )
    for measure, title in (("rto", "recovery time"), ("rpo", "data loss")):
        rules.append(
            _alert(
                f"Drill{measure.capitalize()}Missed",
                f"max by (scenario, dr_service) (dr_drill_last_{measure}_seconds) > on "
                f"(dr_service) group_left max by (dr_service) (dr_drill_{measure}_target_seconds)",
                window,
                "warning",
                f"Drill {{{{ $labels.scenario }}}} missed the {measure.upper()} of "
                "{{ $labels.dr_service }}",
                f"Drill {{{{ $labels.scenario }}}} measured a {title} of "
                f"{{{{ $value | humanizeDuration }}}} for {{{{ $labels.dr_service }}}}, above "
                f"its {measure.upper()} target.",
            )
        )
    return rules


def make_capacity_rules(targets: MonitoringTargets) -> list[dict[str, Any]]:
    """Repository storage against each site's capacity, and when it fills at today's rate."""
    lab = targets.is_lab
    trend = timedelta(minutes=30) if lab else timedelta(hours=6)
    used = "site:dr_repository_size_bytes:sum"
    capacity = "max by (site) (dr_site_storage_capacity_bytes)"
    horizon = STORAGE_FULL_HORIZON.total_seconds()
    rules = [
        _record(used, "sum by (site) (max by (repository, site) (dr_repository_size_bytes))"),
        _record("site:dr_storage_used:ratio", f"{used} / on (site) {capacity}"),
        _record(
            "site:dr_storage_days_until_full:days",
            f"({capacity} - on (site) {used}) / on (site) (deriv({used}[{_d(trend)}]) > 0) / 86400",
        ),
    ]
    for name, ratio, severity in (
        ("StorageUsageHigh", STORAGE_HIGH_RATIO, "warning"),
        ("StorageUsageCritical", STORAGE_CRITICAL_RATIO, "critical"),
    ):
        rules.append(
            _alert(
                name,
                f"site:dr_storage_used:ratio > {_number(ratio)}",
                make_window(timedelta(minutes=30), lab),
                severity,
                "Backup storage at {{ $labels.site }} is above " + f"{ratio:.0%}",
                "Repositories at {{ $labels.site }} use {{ $value | humanizePercentage }} of "
                "the site's storage capacity.",
            )
        )
    rules.append(
        _alert(
            "StorageFullSoon",
            f"predict_linear({used}[{_d(trend)}], {_number(horizon)}) > on (site) {capacity}",
            make_window(timedelta(hours=1), lab),
            "warning",
            f"Backup storage at {{{{ $labels.site }}}} fills within {_d(STORAGE_FULL_HORIZON)}",
            f"At the growth of the last {_d(trend)}, repositories at {{{{ $labels.site }}}} "
            f"outgrow the site's capacity within {_d(STORAGE_FULL_HORIZON)}.",
        )
    )
    return rules


def make_postgres_rules(targets: MonitoringTargets) -> list[dict[str, Any]]:
    """Primaries down, replicas missing or lagging (heartbeat), the heartbeat writer stalled."""
    lab = targets.is_lab
    down = make_window(timedelta(minutes=2), lab)
    rules = []
    for host in targets.database_hosts:
        rules.append(
            _alert(
                "PostgresPrimaryDown",
                f'pg_up{{host="{host}"}} == 0 or up{{job="postgres", host="{host}"}} == 0',
                down,
                "critical",
                "PostgreSQL primary {{ $labels.host }} is down",
                "PostgreSQL on {{ $labels.host }} does not answer (or its exporter is "
                "unreachable): the services' writes fail.",
                {"host": host},
            )
        )
        rules.append(
            _alert(
                "PostgresHeartbeatStale",
                f'dr_postgres_replication_lag_seconds{{host="{host}"}} > '
                f"{_number(HEARTBEAT_STALE.total_seconds())}",
                down,
                "warning",
                "The heartbeat writer on {{ $labels.host }} has stopped",
                "The newest heartbeat on the primary {{ $labels.host }} is "
                "{{ $value | humanizeDuration }} old: egov-heartbeat.service is not writing, "
                "so every replica seems to lag.",
                {"host": host},
            )
        )
    for replica in targets.replicas:
        host = replica.host
        rules.append(
            _alert(
                "PostgresReplicaMissing",
                f'pg_up{{host="{host}"}} == 0 or up{{job="postgres", host="{host}"}} == 0 or '
                f'(pg_up{{host="{host}"}} == 1 unless on (host) '
                f'dr_postgres_replication_lag_seconds{{host="{host}"}})',
                down,
                "critical",
                "PostgreSQL replica {{ $labels.host }} is missing",
                f"The replica {{{{ $labels.host }}}} of {replica.upstream} does not answer, or "
                "shows no heartbeat: the data it should hold is not replicated.",
                {"host": host},
            )
        )
        lag = _seconds(replica.lag_target_seconds)
        rules.append(
            _alert(
                "PostgresReplicaLagging",
                f'dr_postgres_replication_lag_seconds{{host="{host}"}} > '
                f"{_number(replica.lag_target_seconds)}",
                make_window(timedelta(minutes=5), lab),
                "critical",
                "PostgreSQL replica {{ $labels.host }} lags",
                "The newest heartbeat visible on {{ $labels.host }} is "
                "{{ $value | humanizeDuration }} old; the tightest RPO of its databases is "
                f"{_d(lag)}.",
                {"host": host},
            )
        )
    return rules


def make_slo_rules(targets: MonitoringTargets, service: str, slo: float) -> list[dict[str, Any]]:
    """Recording rules and burn-rate alerts of one service's availability SLO."""
    lab = targets.is_lab
    divisor = LAB_WINDOW_DIVISOR if lab else 1
    budget = 1 - slo
    rules = [
        _record(
            "service:probe_success:max",
            f'max by (service) (probe_success{{job="{PROBE_JOB_PREFIX}{service}"}})',
            {"service": service},
        )
    ]
    windows = sorted(
        {
            window / divisor
            for pair in (*PAGE_WINDOWS, *TICKET_WINDOWS)
            for window in (pair.long, pair.short)
        }
    )
    for window in windows:
        selector = f'service:probe_success:max{{service="{service}"}}[{_d(window)}]'
        rules.append(
            _record(
                f"service:sli_error:ratio_rate{_d(window)}",
                f"1 - avg_over_time({selector})",
                {"service": service},
            )
        )

    def condition(pairs: tuple[BurnRateWindow, ...]) -> str:
        parts = []
        for pair in pairs:
            threshold = _number(pair.factor * budget)
            long, short = _d(pair.long / divisor), _d(pair.short / divisor)
            parts.append(
                f'(service:sli_error:ratio_rate{long}{{service="{service}"}} > {threshold} and '
                f'service:sli_error:ratio_rate{short}{{service="{service}"}} > {threshold})'
            )
        return " or ".join(parts)

    description = (
        "{{ $labels.service }} is failing its probes at every site fast enough to spend "
        f"its error budget (availability SLO {slo:.2%} over 30 days) "
    )
    rules.append(
        _alert(
            "ServiceErrorBudgetBurn",
            condition(PAGE_WINDOWS),
            make_window(timedelta(minutes=2), lab),
            "critical",
            "{{ $labels.service }} is burning its error budget fast",
            description + "at 6 to 14.4 times the sustainable rate.",
            {"service": service},
        )
    )
    rules.append(
        _alert(
            "ServiceErrorBudgetBurnSlow",
            condition(TICKET_WINDOWS),
            make_window(timedelta(minutes=15), lab),
            "warning",
            "{{ $labels.service }} is burning its error budget",
            description + "at the sustainable rate or faster over days.",
            {"service": service},
        )
    )
    return rules


def make_meta_rules(targets: MonitoringTargets) -> list[dict[str, Any]]:
    """The watchdog, hosts down, and the egov exporter of each monitoring host down or absent."""
    lab = targets.is_lab
    rules = [
        _alert(
            "Watchdog",
            "vector(1)",
            timedelta(0),
            "none",
            "Alerting works",
            "Always firing: if it stops arriving, this Prometheus or its path to the "
            "Alertmanagers is broken.",
        )
    ]
    rules.append(
        _alert(
            "HostDown",
            'up{job="node"} == 0',
            make_window(timedelta(minutes=5), lab),
            "critical",
            "Host {{ $labels.host }} at {{ $labels.site }} is down",
            "node_exporter on {{ $labels.host }} cannot be scraped: the host is off, cut off "
            "from this Prometheus, or its exporter stopped.",
        )
    )
    for host in targets.monitoring_hosts:
        rules.append(
            _alert(
                "EgovExporterDown",
                f'up{{job="{JOB}", host="{host}"}} == 0 or dr_exporter_up{{host="{host}"}} == 0',
                make_window(timedelta(minutes=5), lab),
                "warning",
                "The egov exporter on {{ $labels.host }} is down",
                "Prometheus cannot scrape the egov exporter on {{ $labels.host }}, or it cannot "
                "read its state directory: backup and drill alerts go blind there.",
                {"host": host},
            )
        )
        rules.append(
            _alert(
                "EgovExporterAbsent",
                f'absent(dr_exporter_up{{host="{host}"}})',
                make_window(timedelta(minutes=10), lab),
                "warning",
                "No egov exporter metrics from {{ $labels.host }}",
                "dr_exporter_up of {{ $labels.host }} is absent: the exporter is not scraped "
                "(job missing from the configuration, or the host is gone).",
                {"host": host},
            )
        )
    return rules


def build_rules(targets: MonitoringTargets) -> dict[str, Any]:
    """The whole rules file, as the dict Prometheus reads."""
    groups = [
        {"name": "egov-backups", "rules": make_backup_rules(targets)},
        {"name": "egov-verification", "rules": make_verification_rules(targets)},
        {"name": "egov-drills", "rules": make_drill_rules(targets)},
        {"name": "egov-capacity", "rules": make_capacity_rules(targets)},
        {"name": "egov-postgres", "rules": make_postgres_rules(targets)},
        *(
            {
                "name": f"egov-slo-{service.dr_service}",
                "rules": make_slo_rules(targets, service.dr_service, service.availability_slo),
            }
            for service in targets.services
        ),
        {"name": "egov-meta", "rules": make_meta_rules(targets)},
    ]
    return {"groups": [group for group in groups if group["rules"]]}


def get_alert_names(rules: dict[str, Any]) -> set[str]:
    """Every alert name in a rules file."""
    return {
        rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule
    }


def render_rules(targets: MonitoringTargets) -> str:
    """The rules file's text."""
    header = (
        f"# egov alert rules for {targets.estate}: written by egov from the inventory; "
        "local edits are overwritten.\n"
    )
    return header + yaml.safe_dump(
        build_rules(targets),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )
