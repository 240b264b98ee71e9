"""The probes that need no host, on the lab inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.drills.catalog import Arguments
from egov.drills.context import DrillContext
from egov.drills.journal import Journal
from egov.drills.probes import count_unreadable_credentials
from egov.drills.remote import Remote
from egov.drills.scenario import Mode
from egov.inventory import load_estate
from tests.drills.support import SECRET_VARIABLE, write_lab_inventory


def test_unreadable_credentials_counts_a_secret_that_is_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate = load_estate(write_lab_inventory(tmp_path)).estate
    messages: list[str] = []
    context = DrillContext(
        estate=estate,
        remote=Remote(estate),
        journal=Journal.create(tmp_path / "journal.jsonl"),
        mode=Mode.READINESS,
        services=list(estate.services),
        targets={},
        progress=messages.append,
    )
    monkeypatch.setenv(SECRET_VARIABLE, "a-password-1234")
    # the lab's secret files are read too: whatever their state, the variable adds exactly one
    readable = count_unreadable_credentials(context, Arguments())
    monkeypatch.delenv(SECRET_VARIABLE)
    messages.clear()
    assert count_unreadable_credentials(context, Arguments()) == readable + 1
    assert f"secret env:{SECRET_VARIABLE} is not set" in messages
