"""Scenario models: the tolerance verdict and the shape checks, with literal values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from egov.drills.scenario import Mode, Step, Tolerance


@pytest.mark.parametrize(
    ("tolerance", "value", "accepted"),
    [
        (Tolerance(equals=True), True, True),
        (Tolerance(equals=True), False, False),
        (Tolerance(equals=True), "true", False),
        (Tolerance(equals=True), None, False),
        (Tolerance(equals=False), False, True),
        (Tolerance(equals=0), 0, True),
        (Tolerance(equals=0), 2, False),
        (Tolerance(equals="primary"), "primary", True),
        (Tolerance(equals="primary"), "site2", False),
        (Tolerance(min=1, max=10), 1, True),
        (Tolerance(min=1, max=10), 10, True),
        (Tolerance(min=1, max=10), 5.5, True),
        (Tolerance(min=1, max=10), 0.99, False),
        (Tolerance(min=1, max=10), 10.01, False),
        (Tolerance(max=30), -5, True),
        (Tolerance(max=30), 31, False),
        (Tolerance(min=0.1), 0.1, True),
        (Tolerance(min=0.1), 0.05, False),
        (Tolerance(min=1, max=10), None, False),
        (Tolerance(min=1, max=10), "5", False),
        (Tolerance(min=0), True, False),  # a bool is not a number
        (Tolerance(max=1), False, False),
    ],
)
def test_tolerance_accepts(tolerance: Tolerance, value: Any, accepted: bool) -> None:
    assert tolerance.accepts(value) is accepted


@pytest.mark.parametrize(
    ("tolerance", "text"),
    [
        (Tolerance(equals=True), "= true"),
        (Tolerance(equals=False), "= false"),
        (Tolerance(equals=0), "= 0"),
        (Tolerance(equals="primary"), "= primary"),
        (Tolerance(max=30), "≤ 30"),
        (Tolerance(min=0.1), "≥ 0.1"),
        (Tolerance(min=10, max=20), "10 … 20"),
    ],
)
def test_tolerance_describe(tolerance: Tolerance, text: str) -> None:
    assert tolerance.describe() == text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"equals": 1, "max": 2}, "either `equals:` or a range"),
        ({}, "needs `equals:`, `min:` or `max:`"),
        ({"min": 5, "max": 1}, "the range is empty: min 5.0 is above max 1.0"),
    ],
)
def test_tolerance_refuses_a_malformed_form(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Tolerance.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "s"}, "exactly one of `action:`, `probe:` or `manual:`"),
        ({"name": "s", "action": "a", "probe": "p"}, r"\(it has action, probe\)"),
        ({"name": "s", "action": "a", "tolerance": {"max": 1}}, "only a probe step"),
        ({"name": "s", "probe": "p", "rollback": {"action": "a"}}, "only an action step"),
        ({"name": "s", "action": "a", "timeout": "0s"}, "at least 1s"),
    ],
)
def test_a_step_is_one_kind(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Step.model_validate(fields)


def test_only_switchover_failover_and_failback_touch_production() -> None:
    assert {mode for mode in Mode if mode.touches_production} == {
        Mode.SWITCHOVER,
        Mode.FAILOVER,
        Mode.FAILBACK,
    }
