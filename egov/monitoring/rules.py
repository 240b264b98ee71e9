"""Prometheus alert and recording rules, generated from the estate's targets.

Every threshold is the inventory's: a dataset's backup target, a replica's tightest database
RPO, the drill interval, each service's RTO, RPO and availability SLO. ``for`` windows derive
from the threshold (a tenth of it, within bounds) and are shorter in the lab, whose targets are
minutes, so that a fault there fires its alerts within a drill.

Metrics of the egov exporter are aggregated with ``max``/``min by`` their own labels: every
monitoring host runs an exporter, and each Prometheus scrapes them all, so an alert names a
dataset once, whichever exporter saw it. Each alert keeps the labels ``ALERT_LABELS`` promises
for it (``site`` and ``host`` for a host, ``service``, ``dataset``): the Alertmanager routes and
inhibits on them. Its ``summary`` and ``description`` are in the language asked for
(``egov.monitoring.annotations``); its ``runbook`` is a section of ``docs/runbooks.md``, whose
anchor is the alert's name in lower case.

The availability SLO's burn-rate rules are ``egov.monitoring.slo``'s, the WAL archive's
``egov.monitoring.archive_rules``'; a rule as data, and the labels each alert promises,
``egov.monitoring.alert``'s.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml

from egov.inventory.fields import format_duration as _d
from egov.monitoring.alert import Alert, Record, Rule, format_threshold, make_for, make_window
from egov.monitoring.alerttext import DEFAULT_LANGUAGE, check_language
from egov.monitoring.archive_rules import make_archive_rules
from egov.monitoring.prometheus_config import SCRAPE_INTERVAL
from egov.monitoring.slo import make_slo_rules
from egov.monitoring.targets import MonitoringTargets

RULES_FILE_NAME = "egov.yml"
STORAGE_HIGH_RATIO = 0.80
STORAGE_CRITICAL_RATIO = 0.90
STORAGE_FULL_HORIZON = timedelta(days=7)
VERIFICATION_RUN_INTERVAL = timedelta(days=1)  # one read-data subset a day
HEARTBEAT_STALE = timedelta(seconds=30)
HOST_DOWN_WINDOW = timedelta(minutes=5)
DATABASE_DOWN_WINDOW = timedelta(minutes=2)
JOB = "egov"


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def make_site_down_window(lab: bool) -> timedelta:
    """SiteDown's ``for``: one scrape interval shorter than the first host alert a site loss raises.

    Its hosts stop answering within one scrape interval of each other, and SiteDown's
    condition holds only once the last has: so raised, it reaches the Alertmanager before the
    first per-host alert it inhibits is due to be sent. At least one scrape interval: a
    Prometheus just started knows only the targets it has scraped so far, and a site whose
    first scraped hosts are down must not count as down until the others have been scraped.
    """
    first = min(make_window(HOST_DOWN_WINDOW, lab), make_window(DATABASE_DOWN_WINDOW, lab))
    return max(first - SCRAPE_INTERVAL, SCRAPE_INTERVAL)


def _host(targets: MonitoringTargets, host: str) -> dict[str, str]:
    return {"site": targets.get_host_site(host), "host": host}


def make_backup_rules(targets: MonitoringTargets) -> list[Rule]:
    """Backup freshness, replication lag and presence, per dataset; failed agent runs."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for target in targets.datasets:
        if target.dataset in seen or not target.repositories:
            continue
        seen.add(target.dataset)
        limit = _seconds(target.backup_target_seconds)
        first, copies = target.repositories[0], target.repositories[1:]
        window = make_for(limit, targets.is_lab)
        subject = {"dataset": target.dataset}
        values = {"limit": _d(limit), "first": first}
        rules.append(
            Alert(
                "BackupStale",
                f"time() - max by (dataset, site, repository) "
                f'(dr_backup_last_snapshot_timestamp_seconds{{dataset="{target.dataset}", '
                f'repository="{first}"}}) > {format_threshold(target.backup_target_seconds)}',
                window,
                "critical",
                subject,
                values,
            )
        )
        if not copies:
            continue
        matcher = f'dataset="{target.dataset}", repository=~"{"|".join(copies)}"'
        rules.append(
            Alert(
                "ReplicationLagging",
                f"max by (dataset, site, repository) (dr_replication_lag_seconds{{{matcher}}}) "
                f"> {format_threshold(target.backup_target_seconds)}",
                window,
                "warning",
                subject,
                values,
            )
        )
        rules.append(
            Alert(
                "ReplicationSnapshotMissing",
                f"max by (dataset, site, repository) (dr_backup_snapshot_present{{{matcher}}}) "
                "== 0",
                limit,
                "warning",
                subject,
                values,
            )
        )
    rules.append(
        Alert(
            "BackupJobFailed",
            "max by (dataset, host, site, repository) (dr_backup_last_result) == 0",
            make_window(timedelta(minutes=15), targets.is_lab),
            "warning",
        )
    )
    return rules


def make_verification_rules(targets: MonitoringTargets) -> list[Rule]:
    """Repository checks failing or overdue, restore tests failing."""
    overdue = VERIFICATION_RUN_INTERVAL * 2
    return [
        Alert(
            "VerificationFailed",
            "min by (repository, site) (dr_verification_last_result) == 0",
            make_window(timedelta(minutes=5), targets.is_lab),
            "critical",
        ),
        Alert(
            "VerificationOverdue",
            "time() - max by (repository, site) "
            f"(dr_verification_last_success_timestamp_seconds) > "
            f"{format_threshold(overdue.total_seconds())}",
            make_window(timedelta(hours=1), targets.is_lab),
            "warning",
            values={"overdue": _d(overdue), "verify_days": str(targets.verify_days)},
        ),
        Alert(
            "RestoreTestFailed",
            "min by (dataset, repository, site) (dr_restore_test_last_result) == 0",
            make_window(timedelta(minutes=5), targets.is_lab),
            "critical",
        ),
    ]


def make_drill_rules(targets: MonitoringTargets) -> list[Rule]:
    """Drills overdue (against the inventory's interval), failed, or missing their targets."""
    interval = _seconds(targets.drill_interval_seconds)
    rules: list[Rule] = [
        Alert(
            "DrillOverdue",
            f"time() - max by (scenario) (dr_drill_last_success_timestamp_seconds"
            f'{{scenario="{scenario}"}}) > {format_threshold(targets.drill_interval_seconds)}',
            make_window(timedelta(hours=1), targets.is_lab),
            "warning",
            {"scenario": scenario},
            {"interval": _d(interval)},
        )
        for scenario in targets.scenarios
    ]
    window = make_window(timedelta(minutes=5), targets.is_lab)
    rules.append(
        Alert("DrillFailed", "min by (scenario) (dr_drill_last_result) == 0", window, "warning")
    )
    # One rule per service, so that the alert names the service and quotes its target.
    for measure in ("rto", "rpo"):
        for service in targets.services:
            target = service.rto_seconds if measure == "rto" else service.rpo_seconds
            rules.append(
                Alert(
                    f"Drill{measure.capitalize()}Missed",
                    f"max by (scenario) (dr_drill_last_{measure}_seconds"
                    f'{{dr_service="{service.dr_service}"}}) > {format_threshold(target)}',
                    window,
                    "warning",
                    {"service": service.dr_service},
                    {"target": _d(_seconds(target))},
                )
            )
    return rules


def make_capacity_rules(targets: MonitoringTargets) -> list[Rule]:
    """Repository storage against each site's capacity, and when it fills at today's rate."""
    lab = targets.is_lab
    trend = timedelta(minutes=30) if lab else timedelta(hours=6)
    used = "site:dr_repository_size_bytes:sum"
    capacity = "max by (site) (dr_site_storage_capacity_bytes)"
    horizon = format_threshold(STORAGE_FULL_HORIZON.total_seconds())
    rules: list[Rule] = [
        Record(used, "sum by (site) (max by (repository, site) (dr_repository_size_bytes))"),
        Record("site:dr_storage_used:ratio", f"{used} / on (site) {capacity}"),
        Record(
            "site:dr_storage_days_until_full:days",
            f"({capacity} - on (site) {used}) / on (site) (deriv({used}[{_d(trend)}]) > 0) / 86400",
        ),
    ]
    for name, ratio, severity in (
        ("StorageUsageHigh", STORAGE_HIGH_RATIO, "warning"),
        ("StorageUsageCritical", STORAGE_CRITICAL_RATIO, "critical"),
    ):
        rules.append(
            Alert(
                name,
                f"site:dr_storage_used:ratio > {format_threshold(ratio)}",
                make_window(timedelta(minutes=30), lab),
                severity,
                values={"ratio": f"{ratio:.0%}"},
            )
        )
    rules.append(
        Alert(
            "StorageFullSoon",
            f"predict_linear({used}[{_d(trend)}], {horizon}) > on (site) {capacity}",
            make_window(timedelta(hours=1), lab),
            "warning",
            values={"trend": _d(trend), "horizon": _d(STORAGE_FULL_HORIZON)},
        )
    )
    return rules


def make_postgres_rules(targets: MonitoringTargets) -> list[Rule]:
    """Primaries down, replicas missing or lagging (heartbeat), the heartbeat writer stalled."""
    lab = targets.is_lab
    down = make_window(DATABASE_DOWN_WINDOW, lab)
    rules: list[Rule] = []
    for host in targets.database_hosts:
        rules.append(
            Alert(
                "PostgresPrimaryDown",
                f'pg_up{{host="{host}"}} == 0 or up{{job="postgres", host="{host}"}} == 0',
                down,
                "critical",
                _host(targets, host),
            )
        )
        rules.append(
            Alert(
                "PostgresHeartbeatStale",
                f'dr_postgres_replication_lag_seconds{{host="{host}"}} > '
                f"{format_threshold(HEARTBEAT_STALE.total_seconds())}",
                down,
                "warning",
                _host(targets, host),
                {"threshold": _d(HEARTBEAT_STALE)},
            )
        )
    for replica in targets.replicas:
        host = replica.host
        subject = {"site": replica.site, "host": host}
        rules.append(
            Alert(
                "PostgresReplicaMissing",
                f'pg_up{{host="{host}"}} == 0 or up{{job="postgres", host="{host}"}} == 0 or '
                f'(pg_up{{host="{host}"}} == 1 unless on (host) '
                f'dr_postgres_replication_lag_seconds{{host="{host}"}})',
                down,
                "critical",
                subject,
                {"upstream": replica.upstream},
            )
        )
        rules.append(
            Alert(
                "PostgresReplicaLagging",
                f'dr_postgres_replication_lag_seconds{{host="{host}"}} > '
                f"{format_threshold(replica.lag_target_seconds)}",
                make_window(timedelta(minutes=5), lab),
                "critical",
                subject,
                {"target": _d(_seconds(replica.lag_target_seconds))},
            )
        )
    return rules


def make_meta_rules(targets: MonitoringTargets) -> list[Rule]:
    """The watchdog, sites and hosts down, the egov exporter of each monitoring host down."""
    lab = targets.is_lab
    host_down = make_window(HOST_DOWN_WINDOW, lab)
    rules: list[Rule] = [
        Alert("Watchdog", "vector(1)", timedelta(0), "none"),
        # Every node_exporter of the site fails its scrape: the value is how many there are.
        # The site's own Prometheus is down or cut off with it; the other sites' raise this.
        # ``up`` stays in the TSDB, at 0, for every configured target, reachable or not.
        # It keeps firing while the hosts come back, so that those still booting do not page
        # one by one the moment the first answers.
        Alert(
            "SiteDown",
            'count by (site) (up{job="node"} == 0) == on (site) count by (site) (up{job="node"})',
            make_site_down_window(lab),
            "critical",
            keep_firing_for=host_down,
        ),
        Alert("HostDown", 'up{job="node"} == 0', host_down, "critical"),
    ]
    for host in targets.monitoring_hosts:
        rules.append(
            Alert(
                "EgovExporterDown",
                f'up{{job="{JOB}", host="{host}"}} == 0 or dr_exporter_up{{host="{host}"}} == 0',
                make_window(timedelta(minutes=5), lab),
                "warning",
                _host(targets, host),
            )
        )
        rules.append(
            Alert(
                "EgovExporterAbsent",
                f'absent(dr_exporter_up{{host="{host}"}})',
                make_window(timedelta(minutes=10), lab),
                "warning",
                _host(targets, host),
            )
        )
    return rules


def build_rules(targets: MonitoringTargets, language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """The whole rules file, as the dict Prometheus reads, its texts in ``language``.

    ``language`` is ``vi`` or ``en``; raise ValueError for another.
    """
    check_language(language)
    groups: list[tuple[str, list[Rule]]] = [
        ("egov-backups", make_backup_rules(targets)),
        ("egov-archive", make_archive_rules(targets)),
        ("egov-verification", make_verification_rules(targets)),
        ("egov-drills", make_drill_rules(targets)),
        ("egov-capacity", make_capacity_rules(targets)),
        ("egov-postgres", make_postgres_rules(targets)),
        *(
            (
                f"egov-slo-{service.dr_service}",
                make_slo_rules(targets, service.dr_service, service.availability_slo),
            )
            for service in targets.services
        ),
        ("egov-meta", make_meta_rules(targets)),
    ]
    return {
        "groups": [
            {"name": name, "rules": [rule.to_rule(language) for rule in rules]}
            for name, rules in groups
            if rules
        ]
    }


def get_alert_names(rules: dict[str, Any]) -> set[str]:
    """Every alert name in a rules file."""
    return {
        rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule
    }


def render_rules(targets: MonitoringTargets, language: str = DEFAULT_LANGUAGE) -> str:
    """The rules file's text, its alert texts in ``language`` (``vi`` or ``en``)."""
    header = (
        f"# egov alert rules for {targets.estate}: written by egov from the inventory; "
        "local edits are overwritten.\n"
    )
    return header + yaml.safe_dump(
        build_rules(targets, language),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )
