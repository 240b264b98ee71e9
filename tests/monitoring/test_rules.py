from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from egov.inventory import load_estate
from egov.monitoring.rules import build_rules, get_alert_names, make_for, render_rules
from egov.monitoring.targets import MonitoringTargets, make_targets
from tests.monitoring.conftest import CAMAU, DATA, LAB, ROOT, SONGXANH

SUITE = DATA / "rules_test.yml"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


@pytest.mark.parametrize("inventory", [LAB, CAMAU, SONGXANH], ids=lambda p: p.stem)
def test_promtool_accepts_the_rules_with_lint_fatal(inventory: Path, tmp_path: Path) -> None:
    path = tmp_path / "egov.yml"
    path.write_text(render_rules(make_targets(load_estate(inventory).estate)), encoding="utf-8")
    result = subprocess.run(
        [promtool(), "check", "rules", "--lint-fatal", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass_on_the_lab_rules(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    (tmp_path / "egov.yml").write_text(render_rules(lab_targets), encoding="utf-8")
    shutil.copy(SUITE, tmp_path / SUITE.name)
    result = subprocess.run(
        [promtool(), "test", "rules", SUITE.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_changed_threshold_fails_the_suite(
    lab_targets: MonitoringTargets, tmp_path: Path
) -> None:
    # The suite is not vacuous: loosen one target and it must notice.
    original = render_rules(lab_targets)
    text = original.replace('repository="primary"}) > 600', 'repository="primary"}) > 6000')
    assert text != original
    (tmp_path / "egov.yml").write_text(text, encoding="utf-8")
    shutil.copy(SUITE, tmp_path / SUITE.name)
    result = subprocess.run(
        [promtool(), "test", "rules", SUITE.name], cwd=tmp_path, capture_output=True, check=False
    )
    assert result.returncode != 0


def _tested(suite: dict[str, object]) -> tuple[set[str], set[str]]:
    firing, silent = set(), set()
    for test in suite["tests"]:  # type: ignore[attr-defined]
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    return firing, silent


def test_every_alert_is_tested_firing_and_silent(lab_targets: MonitoringTargets) -> None:
    names = get_alert_names(build_rules(lab_targets))
    firing, silent = _tested(yaml.safe_load(SUITE.read_text(encoding="utf-8")))
    assert names == firing, f"untested firing: {names - firing}; unknown: {firing - names}"
    # Watchdog is always firing by design: it has no silent case.
    assert names - {"Watchdog"} == silent, f"untested silence: {names - silent - {'Watchdog'}}"


def test_every_alert_has_its_annotations_and_runbook_section(
    lab_targets: MonitoringTargets,
) -> None:
    runbooks = (ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    sections = {heading.lower() for heading in re.findall(r"^## (\w+)$", runbooks, re.MULTILINE)}
    for group in build_rules(lab_targets)["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            annotations = rule["annotations"]
            assert annotations["summary"] and annotations["description"]
            assert annotations["runbook"] == f"docs/runbooks.md#{rule['alert'].lower()}"
            assert rule["alert"].lower() in sections, f"no runbook section for {rule['alert']}"
            assert rule["labels"]["severity"] in {"critical", "warning", "none"}


def test_lab_windows_are_shorter_than_production() -> None:
    lab = make_targets(load_estate(LAB).estate)
    production = make_targets(load_estate(CAMAU).estate)
    assert lab.is_lab and not production.is_lab
    lab_text, production_text = render_rules(lab), render_rules(production)
    assert "service:sli_error:ratio_rate10m" in lab_text
    assert "service:sli_error:ratio_rate3d" in production_text
    from datetime import timedelta

    assert make_for(timedelta(minutes=5), lab=True) == timedelta(seconds=30)
    assert make_for(timedelta(hours=1), lab=False) == timedelta(minutes=6)


def test_thresholds_come_from_the_inventory(lab_targets: MonitoringTargets) -> None:
    text = render_rules(lab_targets)
    assert 'dataset="files", repository="primary"}) > 600' in text
    assert 'dr_postgres_replication_lag_seconds{host="site2-db-01"} > 5' in text
    assert "> 7.8624e+06" in text  # the 91-day drill interval
    assert "> 0.072" in text  # 14.4 × (1 − 0.995)
