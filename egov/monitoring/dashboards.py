"""What the estate's Grafana dashboards show: overview, backups, capacity, PostgreSQL, drills.

Each ``build_*`` lists its panels' PromQL against the metrics the exporters and the rules
publish; ``grafana.py`` turns them into Grafana's JSON and provisions them.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import stat, table, timeseries

from egov.monitoring.archive_rules import CHECKS_THAT_COUNT
from egov.monitoring.grafana import Panel, make_dashboard, make_panel
from egov.monitoring.targets import MonitoringTargets

RATIO_STEPS = ((None, "green"), (0.8, "orange"), (1.0, "red"))
UP_STEPS = ((None, "red"), (1.0, "green"))


AGE_OVER_TARGET = (
    "max by (dataset, site) (time() - dr_backup_last_snapshot_timestamp_seconds"
    '{{repository=~"{first}"}}) / on (dataset, site) max by (dataset, site) '
    "(dr_backup_rpo_target_seconds)"
)


def _first_repositories(targets: MonitoringTargets) -> str:
    return "|".join(
        sorted({target.repositories[0] for target in targets.datasets if target.repositories})
    )


def build_overview(targets: MonitoringTargets) -> dict[str, Any]:
    """Sites, services up, backups and drills against their targets, firing alerts."""
    panels: list[Panel] = [
        make_panel(
            stat.Panel,
            "Sites reachable",
            [('max by (site) (up{job="node"})', "{{site}}")],
            "none",
            8,
            UP_STEPS,
        ),
        make_panel(
            stat.Panel,
            "Services up per site",
            [("max by (service, site) (probe_success)", "{{service}} @ {{site}}")],
            "none",
            8,
            UP_STEPS,
        ),
        make_panel(
            stat.Panel,
            "Alerts firing",
            [('count(ALERTS{alertstate="firing", alertname!="Watchdog"}) or vector(0)', "")],
            "none",
            8,
            ((None, "green"), (1.0, "red")),
        ),
        make_panel(
            stat.Panel,
            "Backup age / target",
            [
                (
                    AGE_OVER_TARGET.format(first=_first_repositories(targets)),
                    "{{dataset}} @ {{site}}",
                )
            ],
            "percentunit",
            12,
            RATIO_STEPS,
            "Newest snapshot in the first repository against the dataset's target (1 = 100 %).",
        ),
        make_panel(
            stat.Panel,
            "PostgreSQL lag / RPO",
            [
                (
                    "max by (host) (dr_postgres_replication_lag_seconds"
                    '{roles=~"(.+,)?db-replica(,.+)?"})',
                    "{{host}}",
                )
            ],
            "s",
            12,
        ),
        make_panel(
            stat.Panel,
            "Last drill RTO / target",
            [
                (
                    "max by (dr_service) (dr_drill_last_rto_seconds) / on (dr_service) "
                    "max by (dr_service) (dr_drill_rto_target_seconds)",
                    "{{dr_service}}",
                )
            ],
            "percentunit",
            12,
            RATIO_STEPS,
        ),
        make_panel(
            stat.Panel,
            "Last drill RPO / target",
            [
                (
                    "max by (dr_service) (dr_drill_last_rpo_seconds) / on (dr_service) "
                    "max by (dr_service) (dr_drill_rpo_target_seconds)",
                    "{{dr_service}}",
                )
            ],
            "percentunit",
            12,
            RATIO_STEPS,
        ),
    ]
    return make_dashboard(targets, "egov-overview", "Estate overview", panels)


def build_backups(targets: MonitoringTargets) -> dict[str, Any]:
    """Snapshot freshness and replication per dataset, site and repository; the WAL archive
    per dataset and archive site; checks; restores."""
    panels: list[Panel] = [
        make_panel(
            timeseries.Panel,
            "Newest snapshot age",
            [
                (
                    "max by (dataset, site, repository) "
                    "(time() - dr_backup_last_snapshot_timestamp_seconds)",
                    "{{dataset}} @ {{site}} in {{repository}}",
                )
            ],
            "s",
        ),
        make_panel(
            timeseries.Panel,
            "Replication lag",
            [
                (
                    "max by (dataset, site, repository) (dr_replication_lag_seconds)",
                    "{{dataset}} @ {{site}} in {{repository}}",
                )
            ],
            "s",
        ),
        make_panel(
            timeseries.Panel,
            "WAL archive: newest WAL and base backup age",
            [
                (
                    "max by (dataset, site) (time() - dr_archive_last_wal_timestamp_seconds)",
                    "WAL of {{dataset}} @ {{site}}",
                ),
                (
                    "max by (dataset, site) "
                    "(time() - dr_archive_last_base_backup_timestamp_seconds)",
                    "base backup of {{dataset}} @ {{site}}",
                ),
            ],
            "s",
        ),
        make_panel(
            stat.Panel,
            "WAL archive: barman check",
            [(f"min by (dataset, site) ({CHECKS_THAT_COUNT})", "{{dataset}} @ {{site}}")],
            "none",
            12,
            UP_STEPS,
        ),
        make_panel(
            timeseries.Panel,
            "Backup duration",
            [("max by (dataset, host) (dr_backup_duration_seconds)", "{{dataset}} on {{host}}")],
            "s",
        ),
        make_panel(
            timeseries.Panel,
            "Bytes added per run",
            [("sum by (dataset) (dr_backup_bytes_added)", "{{dataset}}")],
            "bytes",
        ),
        make_panel(
            stat.Panel,
            "Last backup result",
            [("min by (dataset, host) (dr_backup_last_result)", "{{dataset}} on {{host}}")],
            "none",
            12,
            UP_STEPS,
        ),
        make_panel(
            stat.Panel,
            "Verification coverage",
            [("max by (repository) (dr_verification_coverage_ratio)", "{{repository}}")],
            "percentunit",
            12,
        ),
        make_panel(
            table.Panel,
            "Restore tests",
            [
                (
                    "max by (dataset, repository) (dr_restore_test_duration_seconds)",
                    "{{dataset}} from {{repository}}",
                ),
                (
                    "min by (dataset, repository) (dr_restore_test_last_result)",
                    "{{dataset}} from {{repository}}",
                ),
            ],
            "s",
            24,
        ),
    ]
    return make_dashboard(targets, "egov-backups", "Backups and replication", panels)


def build_capacity(targets: MonitoringTargets) -> dict[str, Any]:
    """Repository storage against each site's capacity, and the days until full."""
    capacity = "max by (site) (dr_site_storage_capacity_bytes)"
    panels: list[Panel] = [
        make_panel(
            timeseries.Panel,
            "Storage used",
            [("site:dr_storage_used:ratio", "{{site}}")],
            "percentunit",
            12,
            RATIO_STEPS,
        ),
        make_panel(
            timeseries.Panel,
            "Repository size and site capacity",
            [
                ("max by (repository, site) (dr_repository_size_bytes)", "{{repository}}"),
                (capacity, "capacity {{site}}"),
            ],
            "bytes",
        ),
        make_panel(
            stat.Panel,
            "Days until full",
            [
                (
                    f"site:dr_storage_days_until_full:days or on (site) ({capacity} * 0 + Inf)",
                    "{{site}}",
                )
            ],
            "d",
            24,
            ((None, "red"), (7.0, "orange"), (30.0, "green")),
            "At the growth of the last hours; infinite when not growing.",
        ),
    ]
    return make_dashboard(targets, "egov-capacity", "Capacity", panels)


def build_postgres(targets: MonitoringTargets) -> dict[str, Any]:
    """PostgreSQL up and the true replication lag from the heartbeat row."""
    panels: list[Panel] = [
        make_panel(
            timeseries.Panel,
            "Replication lag (heartbeat)",
            [("max by (host) (dr_postgres_replication_lag_seconds)", "{{host}}")],
            "s",
        ),
        make_panel(
            stat.Panel,
            "PostgreSQL up",
            [("max by (host) (pg_up)", "{{host}}")],
            "none",
            12,
            UP_STEPS,
        ),
        make_panel(
            timeseries.Panel,
            "Newest heartbeat seen, by host",
            [
                (
                    "time() - max by (host) (dr_postgres_heartbeat_timestamp_seconds)",
                    "{{host}}",
                )
            ],
            "s",
            24,
        ),
    ]
    return make_dashboard(targets, "egov-postgres", "PostgreSQL replication", panels)


def build_drills(targets: MonitoringTargets) -> dict[str, Any]:
    """Drill results over time: last success, measured RTO and RPO against the targets."""
    panels: list[Panel] = [
        make_panel(
            stat.Panel,
            "Days since last successful drill",
            [
                (
                    "(time() - max by (scenario) (dr_drill_last_success_timestamp_seconds)) "
                    "/ 86400",
                    "{{scenario}}",
                )
            ],
            "d",
            12,
            (
                (None, "green"),
                (targets.drill_interval_seconds / 86400 * 0.8, "orange"),
                (targets.drill_interval_seconds / 86400, "red"),
            ),
        ),
        make_panel(
            stat.Panel,
            "Last drill result",
            [("min by (scenario) (dr_drill_last_result)", "{{scenario}}")],
            "none",
            12,
            UP_STEPS,
        ),
        make_panel(
            timeseries.Panel,
            "Measured RTO and target",
            [
                ("max by (scenario, dr_service) (dr_drill_last_rto_seconds)", "{{dr_service}}"),
                ("max by (dr_service) (dr_drill_rto_target_seconds)", "target {{dr_service}}"),
            ],
            "s",
        ),
        make_panel(
            timeseries.Panel,
            "Measured RPO and target",
            [
                ("max by (scenario, dr_service) (dr_drill_last_rpo_seconds)", "{{dr_service}}"),
                ("max by (dr_service) (dr_drill_rpo_target_seconds)", "target {{dr_service}}"),
            ],
            "s",
        ),
        make_panel(
            table.Panel,
            "Drill runs",
            [("max by (scenario, mode) (dr_drill_info)", "{{scenario}} ({{mode}})")],
            "none",
            24,
        ),
    ]
    return make_dashboard(targets, "egov-drills", "Drills", panels)


def build_dashboards(targets: MonitoringTargets) -> dict[str, dict[str, Any]]:
    """Every dashboard by uid, in a fixed order."""
    dashboards = [
        build_overview(targets),
        build_backups(targets),
        build_capacity(targets),
        build_postgres(targets),
        build_drills(targets),
    ]
    return {dashboard["uid"]: dashboard for dashboard in dashboards}
