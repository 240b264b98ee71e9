"""Grafana dashboards and their provisioning files, generated with grafana-foundation-sdk.

The SDK is pinned to ``==0.0.21`` (schema for Grafana ≥ 12): its unpinned resolution picks an
epoch build for Grafana 10.1, and builder methods get renamed between releases, which the
golden-JSON test catches. Dashboards have fixed uids and live in one fixed folder, so links
and provisioning survive regeneration. Every panel queries the site's own Prometheus (the
datasource uid ``egov-prometheus``); ``list_panel_queries`` gives every expression so that a
test can run each one against a real Prometheus.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import DataSourceRef
from grafana_foundation_sdk.models.dashboard import Threshold, ThresholdsMode

from egov.hostlayout import DASHBOARDS_DIRECTORY
from egov.monitoring.targets import MonitoringTargets

DATASOURCE_UID = "egov-prometheus"
FOLDER_UID = "egov"
FOLDER_TITLE = "egov"
DASHBOARDS_PATH = DASHBOARDS_DIRECTORY
DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)

Panel = stat.Panel | timeseries.Panel | table.Panel


def _query(expr: str, legend: str, ref_id: str) -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
    )


def _thresholds(*steps: tuple[float | None, str]) -> dashboard_builder.ThresholdsConfig:
    return (
        dashboard_builder.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


RATIO_STEPS = ((None, "green"), (0.8, "orange"), (1.0, "red"))
UP_STEPS = ((None, "red"), (1.0, "green"))


def _panel(
    kind: type[Panel],
    title: str,
    queries: list[tuple[str, str]],
    unit: str,
    width: int = 12,
    steps: tuple[tuple[float | None, str], ...] | None = None,
    description: str = "",
) -> Panel:
    panel = kind().title(title).datasource(DATASOURCE).unit(unit).height(8).span(width)
    if description:
        panel = panel.description(description)
    if steps is not None:
        panel = panel.thresholds(_thresholds(*steps))
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + index)))
    return panel


def _dashboard(
    targets: MonitoringTargets, uid: str, title: str, panels: list[Panel]
) -> dict[str, Any]:
    builder = (
        dashboard_builder.Dashboard(f"{title} — {targets.estate}")
        .uid(uid)
        .tags(["egov", targets.estate])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("browser")
    )
    for panel in panels:
        builder = builder.with_panel(panel)
    encoded: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return encoded


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
        _panel(
            stat.Panel,
            "Sites reachable",
            [('max by (site) (up{job="node"})', "{{site}}")],
            "none",
            8,
            UP_STEPS,
        ),
        _panel(
            stat.Panel,
            "Services up per site",
            [("max by (service, site) (probe_success)", "{{service}} @ {{site}}")],
            "none",
            8,
            UP_STEPS,
        ),
        _panel(
            stat.Panel,
            "Alerts firing",
            [('count(ALERTS{alertstate="firing", alertname!="Watchdog"}) or vector(0)', "")],
            "none",
            8,
            ((None, "green"), (1.0, "red")),
        ),
        _panel(
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
        _panel(
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
        _panel(
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
        _panel(
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
    return _dashboard(targets, "egov-overview", "Estate overview", panels)


def build_backups(targets: MonitoringTargets) -> dict[str, Any]:
    """Snapshot freshness and replication per dataset, site and repository; checks; restores."""
    panels: list[Panel] = [
        _panel(
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
        _panel(
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
        _panel(
            timeseries.Panel,
            "Backup duration",
            [("max by (dataset, host) (dr_backup_duration_seconds)", "{{dataset}} on {{host}}")],
            "s",
        ),
        _panel(
            timeseries.Panel,
            "Bytes added per run",
            [("sum by (dataset) (dr_backup_bytes_added)", "{{dataset}}")],
            "bytes",
        ),
        _panel(
            stat.Panel,
            "Last backup result",
            [("min by (dataset, host) (dr_backup_last_result)", "{{dataset}} on {{host}}")],
            "none",
            12,
            UP_STEPS,
        ),
        _panel(
            stat.Panel,
            "Verification coverage",
            [("max by (repository) (dr_verification_coverage_ratio)", "{{repository}}")],
            "percentunit",
            12,
        ),
        _panel(
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
    return _dashboard(targets, "egov-backups", "Backups and replication", panels)


def build_capacity(targets: MonitoringTargets) -> dict[str, Any]:
    """Repository storage against each site's capacity, and the days until full."""
    capacity = "max by (site) (dr_site_storage_capacity_bytes)"
    panels: list[Panel] = [
        _panel(
            timeseries.Panel,
            "Storage used",
            [("site:dr_storage_used:ratio", "{{site}}")],
            "percentunit",
            12,
            RATIO_STEPS,
        ),
        _panel(
            timeseries.Panel,
            "Repository size and site capacity",
            [
                ("max by (repository, site) (dr_repository_size_bytes)", "{{repository}}"),
                (capacity, "capacity {{site}}"),
            ],
            "bytes",
        ),
        _panel(
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
    return _dashboard(targets, "egov-capacity", "Capacity", panels)


def build_postgres(targets: MonitoringTargets) -> dict[str, Any]:
    """PostgreSQL up and the true replication lag from the heartbeat row."""
    panels: list[Panel] = [
        _panel(
            timeseries.Panel,
            "Replication lag (heartbeat)",
            [("max by (host) (dr_postgres_replication_lag_seconds)", "{{host}}")],
            "s",
        ),
        _panel(
            stat.Panel,
            "PostgreSQL up",
            [("max by (host) (pg_up)", "{{host}}")],
            "none",
            12,
            UP_STEPS,
        ),
        _panel(
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
    return _dashboard(targets, "egov-postgres", "PostgreSQL replication", panels)


def build_drills(targets: MonitoringTargets) -> dict[str, Any]:
    """Drill results over time: last success, measured RTO and RPO against the targets."""
    panels: list[Panel] = [
        _panel(
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
        _panel(
            stat.Panel,
            "Last drill result",
            [("min by (scenario) (dr_drill_last_result)", "{{scenario}}")],
            "none",
            12,
            UP_STEPS,
        ),
        _panel(
            timeseries.Panel,
            "Measured RTO and target",
            [
                ("max by (scenario, dr_service) (dr_drill_last_rto_seconds)", "{{dr_service}}"),
                ("max by (dr_service) (dr_drill_rto_target_seconds)", "target {{dr_service}}"),
            ],
            "s",
        ),
        _panel(
            timeseries.Panel,
            "Measured RPO and target",
            [
                ("max by (scenario, dr_service) (dr_drill_last_rpo_seconds)", "{{dr_service}}"),
                ("max by (dr_service) (dr_drill_rpo_target_seconds)", "target {{dr_service}}"),
            ],
            "s",
        ),
        _panel(
            table.Panel,
            "Drill runs",
            [("max by (scenario, mode) (dr_drill_info)", "{{scenario}} ({{mode}})")],
            "none",
            24,
        ),
    ]
    return _dashboard(targets, "egov-drills", "Drills", panels)


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


def _iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _iter_panels(panel.get("panels", []))


def list_panel_queries(dashboards: dict[str, dict[str, Any]]) -> list[str]:
    """Every PromQL expression of every panel (rows included), in order, without repeats."""
    queries = [
        target["expr"]
        for dashboard in dashboards.values()
        for panel in _iter_panels(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    return list(dict.fromkeys(queries))


def build_datasource_provisioning(prometheus_url: str) -> dict[str, Any]:
    """Grafana's datasource provisioning: the site's own Prometheus, fixed uid."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus (egov)",
                "type": "prometheus",
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": True,
                "editable": False,
            }
        ],
    }


def build_dashboard_provisioning() -> dict[str, Any]:
    """Grafana's dashboard provider: the generated files, in one fixed folder, read-only."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "egov",
                "type": "file",
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "allowUiUpdates": False,
                "disableDeletion": True,
                "options": {"path": DASHBOARDS_PATH},
            }
        ],
    }


def render_dashboard(dashboard: dict[str, Any]) -> str:
    """A dashboard's JSON text, stable (sorted keys) so that regeneration changes nothing."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
