"""Grafana's side of the dashboards: the datasource, the folder, the provisioning files, and
the grafana-foundation-sdk builders every panel and dashboard is made with.

The SDK is pinned to ``==0.0.21`` (schema for Grafana ≥ 12): its unpinned resolution picks an
epoch build for Grafana 10.1, and builder methods get renamed between releases, which the
golden-JSON test catches. Dashboards have fixed uids and live in one fixed folder, so links
and provisioning survive regeneration. Every panel queries the site's own Prometheus (the
datasource uid ``egov-prometheus``); ``list_panel_queries`` gives every expression so that a
test can run each one against a real Prometheus. What the dashboards show is ``dashboards.py``.
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


def make_panel(
    kind: type[Panel],
    title: str,
    queries: list[tuple[str, str]],
    unit: str,
    width: int = 12,
    steps: tuple[tuple[float | None, str], ...] | None = None,
    description: str = "",
) -> Panel:
    """A panel of ``kind`` on the site's Prometheus: one query per (expression, legend), lettered
    A, B, …; ``steps`` are its colour thresholds, ``width`` its span out of 24."""
    panel = kind().title(title).datasource(DATASOURCE).unit(unit).height(8).span(width)
    if description:
        panel = panel.description(description)
    if steps is not None:
        panel = panel.thresholds(_thresholds(*steps))
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + index)))
    return panel


def make_dashboard(
    targets: MonitoringTargets, uid: str, title: str, panels: list[Panel]
) -> dict[str, Any]:
    """The dashboard ``uid`` of the estate's ``panels``, as the JSON Grafana reads."""
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
