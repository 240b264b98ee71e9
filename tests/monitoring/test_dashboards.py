from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
import warnings

import pytest

from egov.monitoring.targets import MonitoringTargets
from tests.monitoring.conftest import DATA

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from egov.monitoring.dashboards import build_dashboards
    from egov.monitoring.grafana import (
        DATASOURCE_UID,
        build_dashboard_provisioning,
        list_panel_queries,
        render_dashboard,
    )

GOLDEN = DATA / "dashboards"


def test_dashboards_match_the_golden_json(lab_targets: MonitoringTargets) -> None:
    # Regenerate with EGOV_UPDATE_GOLDEN=1 after a deliberate change (or an SDK upgrade).
    dashboards = build_dashboards(lab_targets)
    if os.environ.get("EGOV_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for uid, dashboard in dashboards.items():
            (GOLDEN / f"{uid}.json").write_text(render_dashboard(dashboard), encoding="utf-8")
    assert sorted(path.stem for path in GOLDEN.glob("*.json")) == sorted(dashboards)
    for uid, dashboard in dashboards.items():
        assert render_dashboard(dashboard) == (GOLDEN / f"{uid}.json").read_text(encoding="utf-8")


def test_generation_is_stable(lab_targets: MonitoringTargets) -> None:
    first = {uid: render_dashboard(d) for uid, d in build_dashboards(lab_targets).items()}
    second = {uid: render_dashboard(d) for uid, d in build_dashboards(lab_targets).items()}
    assert first == second


def test_the_five_dashboards_have_fixed_uids_and_a_current_schema(
    lab_targets: MonitoringTargets,
) -> None:
    dashboards = build_dashboards(lab_targets)
    assert list(dashboards) == [
        "egov-overview",
        "egov-backups",
        "egov-capacity",
        "egov-postgres",
        "egov-drills",
    ]
    for dashboard in dashboards.values():
        assert dashboard["schemaVersion"] >= 39  # Grafana ≥ 11; the SDK pin's
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == DATASOURCE_UID


def test_every_panel_query_is_listed(lab_targets: MonitoringTargets) -> None:
    dashboards = build_dashboards(lab_targets)
    queries = list_panel_queries(dashboards)
    panels = [panel for d in dashboards.values() for panel in d["panels"]]
    assert all(panel["targets"] for panel in panels)
    expected = {target["expr"] for panel in panels for target in panel["targets"]}
    assert set(queries) == expected
    assert "site:dr_storage_used:ratio" in queries


def test_provisioning_reads_the_generated_folder_read_only() -> None:
    provider = build_dashboard_provisioning()["providers"][0]
    assert provider["type"] == "file"
    assert provider["folderUid"] == "egov"
    assert provider["allowUiUpdates"] is False


def test_every_panel_query_parses_on_a_real_prometheus(
    lab_targets: MonitoringTargets, prometheus_url: str
) -> None:
    failures = []
    for expr in list_panel_queries(build_dashboards(lab_targets)):
        url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                assert json.load(response)["status"] == "success"
        except urllib.error.HTTPError as error:
            failures.append(f"{expr}: {error.read().decode()}")
    assert not failures, "\n".join(failures)


def test_golden_files_are_present() -> None:
    assert GOLDEN.is_dir(), "run the golden test once with EGOV_UPDATE_GOLDEN=1"


@pytest.fixture(autouse=True)
def _no_sdk_warnings() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
