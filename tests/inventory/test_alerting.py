"""The ``alerting:`` section: its model and the findings only the whole estate can give."""

from __future__ import annotations

from pathlib import Path

from egov.inventory import load_estate
from egov.inventory.alerting import Alerting, AlertSeverity, Language, RouteMatch
from egov.inventory.alerting_checks import check_alerting
from egov.inventory.findings import Severity
from egov.inventory.model import Environment
from tests.inventory.test_broken_inventories import ALERTING, BASE

ROOT = Path(__file__).resolve().parents[2]


def test_one_value_or_a_list_match_the_same() -> None:
    assert RouteMatch.model_validate({"severity": "critical", "site": "main"}) == (
        RouteMatch.model_validate({"severity": ["critical"], "site": ["main"]})
    )


def test_a_route_without_severity_takes_what_pages_not_the_watchdog() -> None:
    assert RouteMatch().get_severities() == (AlertSeverity.CRITICAL, AlertSeverity.WARNING)
    assert RouteMatch().takes_everything
    assert not RouteMatch.model_validate({"severity": "critical"}).takes_everything
    assert not RouteMatch.model_validate({"site": "main"}).takes_everything


def test_without_a_section_nobody_is_told_and_messages_are_vietnamese() -> None:
    alerting = Alerting()
    assert not alerting.delivers
    assert alerting.language is Language.VI


def test_an_unused_receiver_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "estate.yaml"
    path.write_text(
        BASE + ALERTING.replace("  routes:\n", "    spare: {email: [s@test.example]}\n  routes:\n"),
        encoding="utf-8",
    )
    (warning,) = load_estate(path).warnings
    assert ":37:" in warning and "receiver spare is in no route" in warning


def test_placeholder_relay_warns_in_production_and_is_refused_in_the_lab() -> None:
    camau = load_estate(ROOT / "inventory" / "camau.yaml").estate
    findings = [f for f in check_alerting(camau) if "placeholder" in f.message]
    assert {f.severity for f in findings} == {Severity.WARNING}
    assert {f.path[-1] for f in findings} == {"smarthost", "url"}
    lab = camau.model_copy(update={"environment": Environment.LAB})
    assert {f.severity for f in check_alerting(lab) if "placeholder" in f.message} == {
        Severity.ERROR
    }
