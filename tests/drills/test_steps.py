"""Running one step: the masker, the timeout, retries and probe polling, with fake entries."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from egov.drills.context import DrillContext
from egov.drills.journal import Journal
from egov.drills.remote import Remote
from egov.drills.scenario import Mode, Step
from egov.drills.steps import Masker, call_with_timeout, make_masker, run_step
from egov.inventory import load_estate
from egov.inventory.model import Estate
from tests.drills.support import SECRET_VARIABLE, FakeCatalog, write_lab_inventory

SECRET = "s3cret-app-password"


def make_context(tmp_path: Path, estate: Estate) -> DrillContext:
    return DrillContext(
        estate=estate,
        remote=Remote(estate),
        journal=Journal.create(tmp_path / "journal.jsonl"),
        mode=Mode.TEST,
        services=list(estate.services),
        targets={},
    )


def test_the_masker_knows_the_inventorys_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    mask = make_masker(load_estate(write_lab_inventory(tmp_path)).estate)
    assert SECRET in mask.secrets
    assert mask(f"psql: password {SECRET} rejected") == "psql: password *** rejected"


def test_the_masker_keeps_the_tail_of_long_output() -> None:
    mask = Masker(("hunter22",))
    text = "x" * 3000 + "hunter22"
    assert mask(text) == "x" * 1997 + "***"


def test_call_with_timeout_returns_raises_or_gives_up() -> None:
    assert call_with_timeout(lambda: 42, 1.0) == 42
    with pytest.raises(ValueError, match="bad"):
        call_with_timeout(lambda: int("bad"), 1.0)
    with pytest.raises(TimeoutError, match=r"within 0\.05 s"):
        call_with_timeout(lambda: time.sleep(1), 0.05)


def test_a_failing_action_is_retried(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    step = Step.model_validate(
        {"name": "s", "action": "t-fail", "with": {"label": "s"}, "retries": 2, "retry_delay": "0s"}
    )
    outcome = run_step(make_context(tmp_path, lab_estate), step, Masker(()))
    assert (outcome.status, outcome.attempts) == ("failed", 3)
    assert outcome.error == "s broke (a test failure)"
    assert fake_catalog.calls == ["s", "s", "s"]


def test_a_probe_step_that_never_meets_its_tolerance_times_out(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    step = Step.model_validate(
        {"name": "s", "probe": "t-value", "with": {"value": 3}, "tolerance": {"min": 5}}
    )
    step = step.model_copy(update={"timeout": timedelta(milliseconds=50)})
    outcome = run_step(make_context(tmp_path, lab_estate), step, Masker(()))
    assert outcome.status == "timed-out"
    assert outcome.value == 3
    assert outcome.error == "last value 3, wanted ≥ 5"
