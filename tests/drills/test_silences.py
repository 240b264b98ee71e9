"""The silences a drill sets: derived from the shipped scenarios on the lab inventory (pure),
and set and lifted on a fake Alertmanager on loopback (``tests/fake_alertmanager.py``),
which stands in for the real one the lab suite exercises."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from egov.drills.journal import JOURNAL_NAME, Journal, read_journal
from egov.drills.loader import SHIPPED_DIRECTORY, load_scenario
from egov.drills.scenario import Mode, ModePlan
from egov.drills.silences import (
    SILENCE_MARGIN,
    get_affected_sites,
    get_drill_bound,
    is_drill_silence,
    lift_drill_silences,
    make_drill_silences,
    set_drill_silences,
)
from egov.inventory.model import Estate
from egov.monitoring.alertmanager_api import AlertmanagerClient, Silence
from tests.fake_alertmanager import FakeAlertmanager, serving_alertmanager

#: the fake Alertmanager judges a silence's state by the real clock: a fixed moment would
#: make these silences expired once that moment has passed
NOW = datetime.now(UTC).replace(microsecond=0)
JOURNAL_ID = "20261205T080000Z-quarterly-test-failover-test"


def get_plan(estate: Estate, scenario: str, mode: Mode) -> ModePlan:
    plan = load_scenario(SHIPPED_DIRECTORY / f"{scenario}.yaml", estate).scenario.modes[mode]
    assert plan is not None
    return plan


@pytest.fixture
def alertmanager() -> Iterator[FakeAlertmanager]:
    with serving_alertmanager() as fake:
        yield fake


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal.create(tmp_path / JOURNAL_ID / JOURNAL_NAME)


# what a drill acts on (pure)


@pytest.mark.parametrize(
    ("scenario", "mode", "sites"),
    [
        # a private copy at site 2, served on test ports: production is not touched
        ("quarterly-test-failover", Mode.TEST, ["site2"]),
        # the primary powered off, site 2's replica promoted: the whole chain is affected
        ("loss-of-primary-site", Mode.FAILOVER, ["primary", "site2"]),
        ("loss-of-primary-site", Mode.FAILBACK, ["primary", "site2"]),
        # one host powered off, the local replica promoted: site 2's replica loses its upstream
        ("loss-of-primary-database", Mode.FAILOVER, ["primary", "site2"]),
        ("ransomware-recovery", Mode.FAILOVER, ["primary"]),
        ("vnpt-link-cut-during-replication", Mode.TEST, ["primary", "vnpt"]),
    ],
)
def test_the_sites_a_shipped_scenario_acts_on(
    lab_estate: Estate, scenario: str, mode: Mode, sites: list[str]
) -> None:
    plan = get_plan(lab_estate, scenario, mode)
    assert get_affected_sites(plan, lab_estate, list(lab_estate.services)) == sites


def test_a_machine_named_by_host_counts_for_its_site(lab_estate: Estate) -> None:
    plan = ModePlan.model_validate(
        {
            "steps": [
                {
                    "group": "g",
                    "steps": [
                        {
                            "name": "off",
                            "action": "lab-power-off",
                            "with": {"host": "site2-app-01"},
                        },
                        {"name": "look", "probe": "unreachable-hosts", "with": {"site": "site2"}},
                    ],
                }
            ]
        }
    )
    # a probe acts on nothing; an unknown machine names no site
    assert get_affected_sites(plan, lab_estate, []) == ["site2"]


def test_the_bound_adds_steps_retries_rollbacks_and_the_margin(lab_estate: Estate) -> None:
    plan = get_plan(lab_estate, "quarterly-test-failover", Mode.TEST)
    # parallel group: the longer of 5 min and 10 min, and both rollbacks (5 min each);
    # then 2 min + its rollback 5 min; then 2 min
    expected = timedelta(minutes=10 + 10 + 2 + 5 + 2) + SILENCE_MARGIN
    assert get_drill_bound(plan) == expected
    failover = get_plan(lab_estate, "loss-of-primary-database", Mode.FAILOVER)
    # 5 + rollback 5; promote 2 min with 1 retry after 5 s; 3 min
    retried = timedelta(minutes=5 + 5 + 4 + 3, seconds=5)
    assert get_drill_bound(failover) == retried + SILENCE_MARGIN


def test_a_test_silences_each_site_by_severity_and_names_the_drill(lab_estate: Estate) -> None:
    plan = get_plan(lab_estate, "quarterly-test-failover", Mode.TEST)
    services = list(lab_estate.services)
    requests = make_drill_silences(
        "quarterly-test-failover", Mode.TEST, plan, lab_estate, services, JOURNAL_ID, "Q4", NOW
    )
    assert len(requests) == 1
    (request,) = requests
    assert [str(m) for m in request.matchers] == ['site="site2"', 'severity=~"warning|critical"']
    assert request.created_by == "egov drill quarterly-test-failover"
    assert request.comment == f"drill quarterly-test-failover (test), journal {JOURNAL_ID}: Q4"
    assert (request.starts_at, request.ends_at) == (NOW, NOW + get_drill_bound(plan))


def test_a_mode_that_changes_production_silences_each_drilled_service_too(
    lab_estate: Estate,
) -> None:
    plan = get_plan(lab_estate, "loss-of-primary-site", Mode.FAILOVER)
    requests = make_drill_silences(
        "loss-of-primary-site", Mode.FAILOVER, plan, lab_estate, ["portal"], JOURNAL_ID, "", NOW
    )
    scopes = [str(request.matchers[0]) for request in requests]
    assert scopes == ['site="primary"', 'site="site2"', 'service="portal"']
    assert requests[0].comment.endswith(": no reason given")


def test_a_silence_belongs_to_its_run_only() -> None:
    def made(created_by: str, comment: str) -> Silence:
        return Silence("i", (), NOW, NOW, created_by, comment, "active")

    mine = f"drill q (test), journal {JOURNAL_ID}: why"
    assert is_drill_silence(made("egov drill q", mine), JOURNAL_ID)
    assert not is_drill_silence(
        made("egov drill q", mine.replace("-test:", "-test-2:")), JOURNAL_ID
    )
    assert not is_drill_silence(made("an operator", mine), JOURNAL_ID)


# setting and lifting (a fake Alertmanager on loopback)


def test_silences_are_set_and_lifted_and_journalled(
    lab_estate: Estate, alertmanager: FakeAlertmanager, journal: Journal
) -> None:
    plan = get_plan(lab_estate, "loss-of-primary-site", Mode.FAILOVER)
    requests = make_drill_silences(
        "loss-of-primary-site", Mode.FAILOVER, plan, lab_estate, ["portal"], JOURNAL_ID, "", NOW
    )
    client = AlertmanagerClient([alertmanager.url])
    messages: list[str] = []
    ids = set_drill_silences(client, journal, requests, messages.append)
    assert len(ids) == 3
    assert {s["id"] for s in alertmanager.get_live()} == set(ids)
    others = alertmanager.add_silence("an operator", "disk swap", host="primary-st-01")
    lift_drill_silences(client, journal, ids, "runner", messages.append)
    assert [s["id"] for s in alertmanager.get_live()] == [others]
    entries = read_journal(journal.path)
    assert [e["event"] for e in entries] == ["silence"] * 3 + ["silence-end"] * 3
    assert entries[0]["matchers"] == ['site="primary"', 'severity=~"warning|critical"']
    assert entries[0]["alertmanager"] == alertmanager.url
    assert {e["id"] for e in entries[3:]} == set(ids)
    assert all(e["by"] == "runner" and e["status"] == "expired" for e in entries[3:])
    assert any(message.startswith("silenced site=") for message in messages)


def test_no_alertmanager_answering_is_a_warning_not_a_failure(
    lab_estate: Estate, journal: Journal
) -> None:
    plan = get_plan(lab_estate, "quarterly-test-failover", Mode.TEST)
    requests = (
        make_drill_silences("q", Mode.TEST, plan, lab_estate, [], JOURNAL_ID, "", NOW) * 2
    )  # two requests: the second is not tried once none answered
    client = AlertmanagerClient(["http://127.0.0.1:1"])
    messages: list[str] = []
    assert set_drill_silences(client, journal, requests, messages.append) == []
    lift_drill_silences(client, journal, [], "runner", messages.append)
    entries = read_journal(journal.path)
    assert [e["event"] for e in entries] == ["warning", "warning"]
    assert "not silenced and may page" in entries[0]["text"]
    assert "http://127.0.0.1:1" in entries[0]["text"]
    assert "expire by themselves" in entries[1]["text"]
    assert all(message.startswith("warning: ") for message in messages)


def test_a_silence_expired_by_hand_meanwhile_is_left_alone(
    lab_estate: Estate, alertmanager: FakeAlertmanager, journal: Journal
) -> None:
    plan = get_plan(lab_estate, "quarterly-test-failover", Mode.TEST)
    requests = make_drill_silences("q", Mode.TEST, plan, lab_estate, [], JOURNAL_ID, "", NOW)
    client = AlertmanagerClient([alertmanager.url])
    ids = set_drill_silences(client, journal, requests, lambda _m: None)
    client.expire_silence(ids[0])  # an operator lifted it early
    lift_drill_silences(client, journal, ids, "runner", lambda _m: None)
    events = [e["event"] for e in read_journal(journal.path)]
    assert events == ["silence"]  # nothing to lift, nothing refused
