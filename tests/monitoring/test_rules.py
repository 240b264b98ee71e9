from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from egov.inventory import load_estate
from egov.inventory.fields import parse_duration
from egov.monitoring.alert import ALERT_LABELS, make_for
from egov.monitoring.alerttext import LANGUAGES
from egov.monitoring.annotations import TEXTS
from egov.monitoring.prometheus_config import SCRAPE_INTERVAL
from egov.monitoring.rules import (
    build_rules,
    get_alert_names,
    make_site_down_window,
    render_rules,
)
from egov.monitoring.targets import MonitoringTargets, make_targets
from tests.deploys.support import get_free_port
from tests.loopback import serving
from tests.monitoring.conftest import (
    CAMAU,
    DATA,
    LAB,
    ROOT,
    SONGXANH,
    run_prometheus,
)

#: Each suite and the language of the rules file it reads.
SUITES = {"rules_test.yml": ("egov.yml", "vi"), "rules_test_en.yml": ("egov-en.yml", "en")}
SUITE = DATA / "rules_test.yml"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


def _alerts(rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def _run_suites(
    targets: MonitoringTargets, directory: Path, edit: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """promtool on both suites against ``targets``' rules, one ``edit`` (old, new) applied."""
    edited = False
    for suite, (rules_file, language) in SUITES.items():
        text = render_rules(targets, language)
        if edit is not None and edit[0] in text:
            text, edited = text.replace(*edit), True
        (directory / rules_file).write_text(text, encoding="utf-8")
        shutil.copy(DATA / suite, directory / suite)
    assert edit is None or edited, f"{edit[0]!r} is in neither rules file"
    return subprocess.run(
        [promtool(), "test", "rules", *SUITES],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("inventory", [LAB, CAMAU, SONGXANH], ids=lambda p: p.stem)
def test_promtool_accepts_the_rules_with_lint_fatal(
    inventory: Path, language: str, tmp_path: Path
) -> None:
    path = tmp_path / "egov.yml"
    path.write_text(
        render_rules(make_targets(load_estate(inventory).estate), language), encoding="utf-8"
    )
    result = subprocess.run(
        [promtool(), "check", "rules", "--lint-fatal", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass_on_the_lab_rules_in_both_languages(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    result = _run_suites(lab_targets, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "edit",
    [
        # loosen one target
        ('repository="primary"}) > 600', 'repository="primary"}) > 6000'),
        # an alert about a host loses its site in the aggregation
        ("max by (dataset, host, site, repository)", "max by (dataset, host, repository)"),
        # SiteDown loses its site
        ('count by (site) (up{job="node"} == 0) == on (site)', 'count(up{job="node"} == 0) =='),
        # a text loses its translation
        ("Máy chủ {{ $labels.host }} tại", "Host {{ $labels.host }} at"),
        # the WAL archive's limit loosened
        (
            'server="databases-primary-db-01"}[1h])) > 90',
            'server="databases-primary-db-01"}[1h])) > 900',
        ),
        # the archive's age read from the current sample only: a cut-off host goes quiet
        (
            "(last_over_time(dr_archive_last_wal_timestamp_seconds{"
            'host="site2-store-01", server="databases-primary-db-01"}[1h]))',
            '(dr_archive_last_wal_timestamp_seconds{host="site2-store-01", '
            'server="databases-primary-db-01"})',
        ),
        # "no base backup yet" counted as a failing archive
        ('check!~"minimum_redundancy_requirements"', 'check!~"none"'),
    ],
    ids=[
        "threshold",
        "host-site-label",
        "site-down-label",
        "language",
        "archive-threshold",
        "archive-cut-off",
        "archive-first-backup",
    ],
)
def test_the_suites_notice_a_broken_rule(
    lab_targets: MonitoringTargets, tmp_path: Path, edit: tuple[str, str]
) -> None:
    result = _run_suites(lab_targets, tmp_path, edit)
    assert result.returncode != 0


def _tested(suite: dict[str, Any]) -> tuple[set[str], set[str]]:
    firing, silent = set(), set()
    for test in suite["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    return firing, silent


def _load_suite(name: str) -> dict[str, Any]:
    suite: dict[str, Any] = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return suite


def test_every_alert_is_tested_firing_and_silent(lab_targets: MonitoringTargets) -> None:
    names = get_alert_names(build_rules(lab_targets))
    firing, silent = _tested(_load_suite(SUITE.name))
    assert names == firing, f"untested firing: {names - firing}; unknown: {firing - names}"
    # Watchdog is always firing by design: it has no silent case.
    assert names - {"Watchdog"} == silent, f"untested silence: {names - silent - {'Watchdog'}}"


def test_the_suites_read_the_rules_in_their_language() -> None:
    for suite, (rules_file, _) in SUITES.items():
        assert _load_suite(suite)["rule_files"] == [rules_file]


@pytest.mark.parametrize("suite", SUITES)
def test_every_alert_the_suites_expect_keeps_its_promised_labels(suite: str) -> None:
    # promtool compares the labels an alert gets with these exactly: an expression that drops
    # one fails the suite, and a suite that stops expecting one fails here.
    for test in _load_suite(suite)["tests"]:
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                labels = set(alert["exp_labels"])
                promised = {*ALERT_LABELS[case["alertname"]], "severity"}
                assert promised <= labels, f"{case['alertname']} in {test['name']!r}: {labels}"


def test_the_label_contract_covers_every_alert_and_names_the_site_of_every_host() -> None:
    generated = set()
    for inventory in (LAB, CAMAU, SONGXANH):
        generated |= get_alert_names(build_rules(make_targets(load_estate(inventory).estate)))
    assert generated == set(ALERT_LABELS) == set(TEXTS)
    for name, labels in ALERT_LABELS.items():
        assert "host" not in labels or "site" in labels, name
    assert ALERT_LABELS["SiteDown"] == ("site",)


@pytest.mark.parametrize("inventory", [LAB, CAMAU, SONGXANH], ids=lambda p: p.stem)
def test_labels_a_rule_sets_are_labels_it_promises(inventory: Path) -> None:
    for alert in _alerts(build_rules(make_targets(load_estate(inventory).estate))):
        assert set(alert["labels"]) - {"severity"} <= set(ALERT_LABELS[alert["alert"]])
        assert alert["labels"]["severity"] in {"critical", "warning", "none"}


def test_rules_about_one_host_name_its_site(lab_targets: MonitoringTargets) -> None:
    subjects = {
        (alert["alert"], alert["labels"]["host"], alert["labels"]["site"])
        for alert in _alerts(build_rules(lab_targets))
        if "host" in alert["labels"]
    }
    assert ("PostgresPrimaryDown", "primary-db-01", "primary") in subjects
    assert ("PostgresReplicaLagging", "site2-db-01", "site2") in subjects
    assert ("EgovExporterAbsent", "site2-mon-01", "site2") in subjects


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_alert_has_its_annotations_and_runbook_section(
    lab_targets: MonitoringTargets, language: str
) -> None:
    runbooks = (ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    sections = {heading.lower() for heading in re.findall(r"^## (\w+)$", runbooks, re.MULTILINE)}
    for alert in _alerts(build_rules(lab_targets, language)):
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"]
        assert annotations["runbook"] == f"docs/runbooks.md#{alert['alert'].lower()}"
        assert alert["alert"].lower() in sections, f"no runbook section for {alert['alert']}"


def test_vietnamese_is_the_default_and_english_the_option(lab_targets: MonitoringTargets) -> None:
    assert render_rules(lab_targets) == render_rules(lab_targets, "vi")
    vietnamese, english = render_rules(lab_targets, "vi"), render_rules(lab_targets, "en")
    assert "Máy chủ {{ $labels.host }} tại {{ $labels.site }} không phản hồi" in vietnamese
    assert "Host {{ $labels.host }} at {{ $labels.site }} is down" in english
    with pytest.raises(ValueError, match="no alert texts in 'fr'"):
        render_rules(lab_targets, "fr")


def test_every_description_says_how_bad(lab_targets: MonitoringTargets) -> None:
    # A measured value, the inventory's target or how long it has lasted: all but the few whose
    # fact is a yes or no (a failed run, a damaged repository).
    binary = {"BackupJobFailed", "VerificationFailed", "RestoreTestFailed", "DrillFailed"}
    for alert in _alerts(build_rules(lab_targets, "en")):
        description = alert["annotations"]["description"]
        if alert["alert"] in binary | {"Watchdog"}:
            continue
        assert "$value" in description or re.search(r"\d", description), alert["alert"]


def test_a_label_the_rule_sets_itself_is_quoted_as_it_is(lab_targets: MonitoringTargets) -> None:
    # Prometheus templates annotations with the expression's labels, not the rule's.
    missed = [a for a in _alerts(build_rules(lab_targets, "en")) if a["alert"] == "DrillRtoMissed"]
    assert {a["annotations"]["summary"] for a in missed} == {
        "Drill {{ $labels.scenario }} missed the RTO of portal",
        "Drill {{ $labels.scenario }} missed the RTO of motcua",
    }


@pytest.mark.parametrize("inventory", [LAB, CAMAU], ids=lambda p: p.stem)
def test_site_down_fires_before_the_host_alerts_it_holds_back(inventory: Path) -> None:
    # Its hosts stop answering within a scrape of each other; SiteDown must reach the
    # Alertmanager no later than the first per-host alert, or that one is delivered.
    targets = make_targets(load_estate(inventory).estate)
    alerts = _alerts(build_rules(targets))
    (site_down,) = (alert for alert in alerts if alert["alert"] == "SiteDown")
    window = parse_duration(site_down["for"])
    assert window == make_site_down_window(targets.is_lab) >= SCRAPE_INTERVAL
    for alert in alerts:
        if "host" in ALERT_LABELS[alert["alert"]]:
            assert window + SCRAPE_INTERVAL <= parse_duration(alert["for"]), alert["alert"]
    host_down = next(alert for alert in alerts if alert["alert"] == "HostDown")
    assert site_down["keep_firing_for"] == host_down["for"]


class _NodeExporter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"node_boot_time_seconds 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _site_down_alerts(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/alerts", timeout=5) as response:
        alerts: list[dict[str, Any]] = json.load(response)["data"]["alerts"]
    return [alert for alert in alerts if alert["labels"]["alertname"] == "SiteDown"]


def test_a_real_prometheus_raises_site_down_for_a_site_whose_targets_all_fail(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    # Prometheus keeps ``up`` at 0 for every configured target it cannot reach, so a site whose
    # every host is gone still has series to count. As site 2's Prometheus sees the primary
    # powered off: two primary hosts on closed ports, a site 2 host answering.
    (tmp_path / "egov.yml").write_text(render_rules(lab_targets, "en"), encoding="utf-8")
    with serving(_NodeExporter) as exporter:
        targets = [
            (f"127.0.0.1:{get_free_port()}", "primary", "primary-db-01"),
            (f"127.0.0.1:{get_free_port()}", "primary", "primary-store-01"),
            (urllib.parse.urlsplit(exporter).netloc, "site2", "site2-mon-01"),
        ]
        config = {
            "global": {
                "scrape_interval": "1s",
                "evaluation_interval": "1s",
                "external_labels": {"prometheus_site": "site2"},
            },
            "rule_files": [str(tmp_path / "egov.yml")],
            "scrape_configs": [
                {
                    "job_name": "node",
                    "static_configs": [
                        {"targets": [address], "labels": {"site": site, "host": host}}
                        for address, site, host in targets
                    ],
                }
            ],
        }
        with run_prometheus(tmp_path, yaml.safe_dump(config)) as url:
            deadline = time.monotonic() + 30
            # Until both primary targets have been scraped once, the site counts one host.
            while time.monotonic() < deadline:
                alerts = _site_down_alerts(url)
                if alerts and float(alerts[0]["value"]) == 2:
                    break
                time.sleep(0.5)
    assert [alert["labels"] for alert in alerts] == [
        {"alertname": "SiteDown", "site": "primary", "severity": "critical"}
    ]
    assert alerts[0]["annotations"]["description"].startswith(
        "None of the 2 hosts at primary has answered the Prometheus at site2 for 15s"
    )


def test_lab_windows_are_shorter_than_production() -> None:
    lab = make_targets(load_estate(LAB).estate)
    production = make_targets(load_estate(CAMAU).estate)
    assert lab.is_lab and not production.is_lab
    lab_text, production_text = render_rules(lab), render_rules(production)
    assert "service:sli_error:ratio_rate10m" in lab_text
    assert "service:sli_error:ratio_rate3d" in production_text
    assert make_for(timedelta(minutes=5), lab=True) == timedelta(seconds=30)
    assert make_for(timedelta(hours=1), lab=False) == timedelta(minutes=6)


def test_thresholds_come_from_the_inventory(lab_targets: MonitoringTargets) -> None:
    text = render_rules(lab_targets)
    assert 'dataset="files", repository="primary"}) > 600' in text
    assert 'dr_postgres_replication_lag_seconds{host="site2-db-01"} > 5' in text
    assert "> 7.8624e+06" in text  # the 91-day drill interval
    assert "> 0.072" in text  # 14.4 × (1 − 0.995)
    assert 'dr_drill_last_rto_seconds{dr_service="portal"}) > 180' in text  # portal's RTO
