"""What the drill context counts for the verdict: refused canary writes, by mode and phase,
and the records the isolated copy answers; with literal values and a real journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.drills.canary import CanaryWriter, Endpoint, RefusedWrite
from egov.drills.conduct import get_warmup_seconds
from egov.drills.context import DrillContext
from egov.drills.journal import Journal
from egov.drills.probes import make_test_write_sql, parse_records
from egov.drills.remote import Remote
from egov.drills.scenario import Mode
from egov.drills.verdict import Targets
from egov.inventory.model import Estate

FAULT_AT, RECOVERED_AT = 100.0, 130.0
#: refused before the fault, cut short by it, during the outage, after the recovery (one to
#: the dead site, one to the recovered one)
FAILURES = [
    RefusedWrite(90.0, "primary", 90.4),
    RefusedWrite(99.9, "primary", 100.3),
    RefusedWrite(110.0, "primary", 112.0),
    RefusedWrite(131.0, "primary", 133.0),
    RefusedWrite(135.0, "site2", 135.2),
]


def make_context(tmp_path: Path, estate: Estate, mode: Mode) -> DrillContext:
    canary = CanaryWriter({"portal": Endpoint("portal", "primary", "http://127.0.0.1:9")})
    canary.failures["portal"] = list(FAILURES)
    context = DrillContext(
        estate=estate,
        remote=Remote(estate),
        journal=Journal.create(tmp_path / "journal.jsonl"),
        mode=mode,
        services=["portal"],
        targets={"portal": Targets(rto_seconds=180, rpo_seconds=5)},
        canary=canary,
        measuring=True,
        fault_at=FAULT_AT,
    )
    context.recovered["portal"] = ("site2", RECOVERED_AT)
    return context


def test_a_test_counts_every_refused_write(tmp_path: Path, lab_estate: Estate) -> None:
    # a test never touches production: a refusal there is the test's harm or a lost write
    assert make_context(tmp_path, lab_estate, Mode.TEST).count_refused_writes("portal") == 5


def test_a_failover_counts_refusals_before_the_fault_and_at_the_recovered_site(
    tmp_path: Path, lab_estate: Estate
) -> None:
    # the outage's refusals are RTO's business, and so is a write the fault cut short; a
    # late write to the dead site is not counted
    context = make_context(tmp_path, lab_estate, Mode.FAILOVER)
    assert context.count_refused_writes("portal") == 2


def test_a_write_refused_before_the_fault_counts_though_the_fault_came_soon_after(
    tmp_path: Path, lab_estate: Estate
) -> None:
    context = make_context(tmp_path, lab_estate, Mode.FAILOVER)
    assert context.canary is not None
    context.canary.failures["portal"] = [RefusedWrite(99.9, "primary", 99.95)]
    assert context.count_refused_writes("portal") == 1


def test_a_service_never_recovered_counts_only_refusals_before_the_fault(
    tmp_path: Path, lab_estate: Estate
) -> None:
    context = make_context(tmp_path, lab_estate, Mode.FAILOVER)
    context.recovered.clear()
    assert context.count_refused_writes("portal") == 1


def test_the_isolated_copy_answers_every_record_since_the_drills_first() -> None:
    assert "WHERE seq >= 1700000000000)" in make_test_write_sql(1700000000000)
    assert parse_records("CREATE TABLE\nINSERT 0 1\n5,6,9\n") == frozenset({5, 6, 9})
    assert parse_records("\n") == frozenset()


@pytest.mark.parametrize(("rpo_seconds", "warmup"), [(1.0, 3.0), (5.0, 7.0), (900.0, 60.0)])
def test_the_canary_writes_longer_than_the_tightest_rpo_before_the_fault(
    rpo_seconds: float, warmup: float
) -> None:
    targets = {
        "portal": Targets(rto_seconds=180, rpo_seconds=rpo_seconds),
        "motcua": Targets(rto_seconds=180, rpo_seconds=rpo_seconds * 2),
    }
    assert get_warmup_seconds(targets) == warmup
