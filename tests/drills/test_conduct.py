"""The runner's logic on the lab inventory with fake actions and probes (see conftest.py).

Every run writes a real journal and takes the real lock in a temporary drill directory; the
fake entries record their calls so the order of steps and rollbacks can be asserted. No
scenario here measures: measurement needs the lab's canary.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egov.drills import lock
from egov.drills.conduct import RunOptions, get_targets, make_run_directory, run_drill
from egov.drills.events import parse_events, read_events
from egov.drills.journal import JOURNAL_NAME, read_journal
from egov.drills.loader import LoadedScenario
from egov.drills.scenario import Mode
from egov.drills.signing import SigningKeyError, load_public_key
from egov.drills.summary import DrillStatus, DrillSummary, summarize
from egov.drills.verification import verify_journal
from egov.errors import DrillError, DrillInputError
from egov.inventory.model import Estate
from tests.drills.support import FakeCatalog, get_dead_pid, get_test_key, write_scenario

# a, b, c in one group, d in the next; every step has a rollback `undo-<step>`
SEQUENCE = """\
modes:
  test:
    cleanup: {cleanup}
    steps:
      - group: first
        steps:
          - name: a
            action: t-record
            with: {{label: a}}
            rollback: {{action: t-record, with: {{label: undo-a}}}}
          - name: b
            action: {b_action}
            with: {{label: b}}
            critical: {b_critical}
            rollback: {{action: t-record, with: {{label: undo-b}}}}
          - name: c
            action: t-record
            with: {{label: c}}
            rollback: {{action: t-record, with: {{label: undo-c}}}}
      - group: second
        steps:
          - name: d
            action: t-record
            with: {{label: d}}
            rollback: {{action: t-record, with: {{label: undo-d}}}}
"""


def make_sequence(
    b_action: str = "t-record", b_critical: bool = True, cleanup: str = "on-failure"
) -> str:
    return SEQUENCE.format(b_action=b_action, b_critical=str(b_critical).lower(), cleanup=cleanup)


def make_options(tmp_path: Path, mode: Mode = Mode.TEST, **changes: object) -> RunOptions:
    options = RunOptions(mode=mode, directory=tmp_path / "drills", confirmed=True, reason="test")
    for key, value in changes.items():
        setattr(options, key, value)
    return options


def load(tmp_path: Path, body: str, estate: Estate, name: str = "t-drill") -> LoadedScenario:
    return write_scenario(tmp_path, name, body, estate)


def check_finished(summary: DrillSummary, directory: Path) -> list[dict[str, object]]:
    """The run's journal chains, matches the summary, and the lock is gone."""
    entries = read_journal(Path(summary.journal_path))
    assert summarize(parse_events(entries), summary.journal_path) == summary
    assert [entry["event"] for entry in entries[-2:]] == ["end", "close"]
    assert summary.journal_key == get_test_key().fingerprint
    assert lock.read_lock(directory) is None
    return entries


def get_statuses(summary: DrillSummary) -> dict[str, str]:
    return {step.name: step.status for step in summary.steps}


def test_a_successful_run_runs_every_step_in_order_and_keeps_the_result(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, make_sequence(), lab_estate)
    options = make_options(tmp_path)
    summary = run_drill(loaded, lab_estate, options, notes=["first quarter"])
    assert fake_catalog.calls == ["a", "b", "c", "d"]  # on-failure cleanup: no rollback
    assert summary.status is DrillStatus.SUCCEEDED
    assert summary.succeeded
    assert summary.rollbacks == []
    assert summary.notes == ["first quarter"]
    assert [(step.group, step.name) for step in summary.steps] == [
        ("first", "a"),
        ("first", "b"),
        ("first", "c"),
        ("second", "d"),
    ]
    assert summary.steps[0].output == "did a"
    entries = check_finished(summary, options.directory)
    start = entries[0]
    assert start["scenario_path"] == str(loaded.path)
    assert start["scenario_version"] == loaded.sha256
    assert start["mode"] == "test"
    assert start["services"] == list(lab_estate.services)
    assert Path(summary.journal_path).parent.parent == options.directory


def test_a_failed_critical_step_stops_and_rolls_back_started_steps_newest_first(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, make_sequence(b_action="t-fail"), lab_estate)
    options = make_options(tmp_path)
    summary = run_drill(loaded, lab_estate, options)
    # c never started, so undo-c never runs; b started, so its rollback does
    assert fake_catalog.calls == ["a", "b", "undo-b", "undo-a"]
    assert summary.status is DrillStatus.FAILED
    assert get_statuses(summary) == {"a": "succeeded", "b": "failed"}
    assert [(r.name, r.status) for r in summary.rollbacks] == [
        ("b", "succeeded"),
        ("a", "succeeded"),
    ]
    assert any("step b failed: b broke (a test failure)" in text for text in summary.failures)
    check_finished(summary, options.directory)


def test_cleanup_always_rolls_back_after_success(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, make_sequence(cleanup="always"), lab_estate)
    options = make_options(tmp_path)
    summary = run_drill(loaded, lab_estate, options)
    assert fake_catalog.calls == ["a", "b", "c", "d", "undo-d", "undo-c", "undo-b", "undo-a"]
    assert summary.status is DrillStatus.SUCCEEDED
    check_finished(summary, options.directory)


def test_a_non_critical_failure_goes_on(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, make_sequence(b_action="t-fail", b_critical=False), lab_estate)
    options = make_options(tmp_path)
    summary = run_drill(loaded, lab_estate, options)
    assert fake_catalog.calls == ["a", "b", "c", "d"]
    assert get_statuses(summary) == {
        "a": "succeeded",
        "b": "failed",
        "c": "succeeded",
        "d": "succeeded",
    }
    assert summary.status is DrillStatus.SUCCEEDED
    check_finished(summary, options.directory)


READINESS = """\
readiness:
  - name: in-range
    probe: t-value
    with: {{value: 5}}
    tolerance: {{min: 1, max: 10}}
  - name: flag
    probe: t-value
    with: {{value: {flag}}}
"""


def test_a_failed_readiness_probe_refuses_before_any_step(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, READINESS.format(flag="false") + make_sequence(), lab_estate)
    options = make_options(tmp_path)
    summary = run_drill(loaded, lab_estate, options)
    assert summary.status is DrillStatus.REFUSED
    assert fake_catalog.calls == []
    assert summary.steps == []
    assert [(p.name, p.value, p.tolerance, p.ok) for p in summary.probes] == [
        ("in-range", 5, "1 … 10", True),
        ("flag", False, "= true", False),
    ]
    check_finished(summary, options.directory)


def test_readiness_probes_run_again_after_a_cleanup(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(
        tmp_path, READINESS.format(flag="true") + make_sequence(cleanup="always"), lab_estate
    )
    summary = run_drill(loaded, lab_estate, make_options(tmp_path))
    assert summary.status is DrillStatus.SUCCEEDED
    assert [(p.phase, p.name) for p in summary.probes] == [
        ("before", "in-range"),
        ("before", "flag"),
        ("after", "in-range"),
        ("after", "flag"),
    ]


def test_readiness_mode_runs_the_probes_and_no_step(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, READINESS.format(flag="true") + make_sequence(), lab_estate)
    options = make_options(tmp_path, mode=Mode.READINESS)
    summary = run_drill(loaded, lab_estate, options)
    assert summary.status is DrillStatus.SUCCEEDED
    assert summary.mode == "readiness"
    assert fake_catalog.calls == []
    assert len(summary.probes) == 2
    check_finished(summary, options.directory)


FAILOVER = """\
modes:
  failover:
    steps:
      - group: only
        steps:
          - name: a
            action: t-record
            with: {label: a}
"""


@pytest.mark.parametrize(
    ("confirmed", "reason", "missing"),
    [
        (False, "", ["--confirm", "--reason"]),
        (False, "ticket 42", ["--confirm"]),
        (True, "  ", ["--reason"]),
    ],
)
def test_failover_without_confirm_and_reason_touches_nothing(
    tmp_path: Path,
    lab_estate: Estate,
    fake_catalog: FakeCatalog,
    confirmed: bool,
    reason: str,
    missing: list[str],
) -> None:
    loaded = load(tmp_path, FAILOVER, lab_estate)
    options = make_options(tmp_path, mode=Mode.FAILOVER, confirmed=confirmed, reason=reason)
    with pytest.raises(DrillInputError) as caught:
        run_drill(loaded, lab_estate, options)
    assert len(caught.value.problems) == len(missing)
    for flag, problem in zip(missing, caught.value.problems, strict=True):
        assert flag in problem
    assert caught.value.hint == "nothing was touched"
    assert not options.directory.exists()  # no lock, no journal
    assert fake_catalog.calls == []


def test_failover_with_confirm_and_reason_runs(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, FAILOVER, lab_estate)
    summary = run_drill(loaded, lab_estate, make_options(tmp_path, mode=Mode.FAILOVER))
    assert summary.status is DrillStatus.SUCCEEDED
    assert summary.reason == "test"
    assert fake_catalog.calls == ["a"]


MANUAL = """\
modes:
  test:
    steps:
      - group: only
        steps:
          - name: a
            action: t-record
            with: {label: a}
            rollback: {action: t-record, with: {label: undo-a}}
          - name: unplug
            manual: Unplug the primary's uplink.
          - name: c
            action: t-record
            with: {label: c}
"""


@pytest.mark.parametrize("answer", [True, False])
def test_a_manual_step_asks_the_operator(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog, answer: bool
) -> None:
    asked: list[str] = []

    def confirm(instruction: str) -> bool:
        asked.append(instruction)
        return answer

    loaded = load(tmp_path, MANUAL, lab_estate)
    options = make_options(tmp_path, confirm_manual=confirm, operator="nguyen")
    summary = run_drill(loaded, lab_estate, options)
    assert asked == ["Unplug the primary's uplink."]
    manual = summary.steps[1]
    assert manual.kind == "manual"
    if answer:
        assert summary.status is DrillStatus.SUCCEEDED
        assert manual.status == "succeeded"
        assert manual.output == "confirmed by nguyen"
        assert fake_catalog.calls == ["a", "c"]
    else:
        assert summary.status is DrillStatus.FAILED
        assert manual.status == "failed"
        assert manual.error == "the operator did not confirm"
        assert fake_catalog.calls == ["a", "undo-a"]
    check_finished(summary, options.directory)


def test_ctrl_c_in_an_action_rolls_back_and_is_raised_again(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, make_sequence(b_action="t-interrupt"), lab_estate)
    options = make_options(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run_drill(loaded, lab_estate, options)
    assert fake_catalog.calls == ["a", "b", "undo-b", "undo-a"]
    (journal_path,) = options.directory.glob(f"*/{JOURNAL_NAME}")
    summary = summarize(read_events(journal_path), str(journal_path))
    assert summary.status is DrillStatus.INTERRUPTED
    assert "interrupted by the operator (Ctrl-C)" in summary.failures
    check_finished(summary, options.directory)


PARALLEL = """\
modes:
  test:
    steps:
      - group: together
        parallel: true
        steps:
          - name: left
            action: t-barrier
            with: {label: left}
          - name: right
            action: t-barrier
            with: {label: right}
      - group: after
        steps:
          - name: check
            probe: t-value
            with: {value: 7}
            tolerance: {equals: 7}
"""


def test_a_parallel_group_runs_its_steps_at_once(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    # each step waits at a barrier for the other: run one after the other, both would fail
    loaded = load(tmp_path, PARALLEL, lab_estate)
    options = make_options(tmp_path)
    summary = run_drill(loaded, lab_estate, options)
    assert summary.status is DrillStatus.SUCCEEDED, summary.failures
    assert sorted(fake_catalog.calls) == ["left", "right"]
    assert get_statuses(summary) == {
        "left": "succeeded",
        "right": "succeeded",
        "check": "succeeded",
    }
    assert summary.steps[2].output == "7"
    check_finished(summary, options.directory)


def test_a_drill_refuses_to_start_while_another_is_unfinished(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, make_sequence(), lab_estate)
    options = make_options(tmp_path)
    unfinished = options.directory / "earlier" / JOURNAL_NAME
    unfinished.parent.mkdir(parents=True)
    unfinished.write_text("")
    lock_body = {"pid": get_dead_pid(), "journal": str(unfinished)}
    (options.directory / lock.LOCK_NAME).write_text(json.dumps(lock_body))
    with pytest.raises(DrillError, match="stopped before it finished"):
        run_drill(loaded, lab_estate, options)
    assert fake_catalog.calls == []


def test_targets_come_from_the_inventory_unless_the_scenario_sets_them(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    plain = load(tmp_path, make_sequence(), lab_estate, name="t-plain")
    strict = load(
        tmp_path, "targets: {rto: 1m, rpo: 1s}\n" + make_sequence(), lab_estate, name="t-strict"
    )
    portal = lab_estate.services["portal"]
    from_inventory = get_targets(lab_estate, plain, ["portal"])["portal"]
    assert from_inventory.rto_seconds == portal.rto.total_seconds()
    assert from_inventory.rpo_seconds == portal.rpo.total_seconds()
    # the file store's own target, not the age of whatever copy the restore found
    assert from_inventory.files_rpo_seconds == portal.data.files[0].rpo.total_seconds()
    overridden = get_targets(lab_estate, strict, ["portal"])["portal"]
    assert (overridden.rto_seconds, overridden.rpo_seconds) == (60.0, 1.0)


def test_the_run_directory_is_named_by_time_scenario_and_mode(tmp_path: Path) -> None:
    assert make_run_directory(tmp_path, "t-drill", Mode.FAILOVER, 1795766400.0) == (
        tmp_path / "20261127T080000Z-t-drill-failover"
    )


def test_a_run_whose_key_others_may_read_is_refused_before_anything(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    loaded = load(tmp_path, make_sequence(), lab_estate)
    get_test_key().path.chmod(0o644)
    options = make_options(tmp_path)
    with pytest.raises(SigningKeyError, match="readable by others"):
        run_drill(loaded, lab_estate, options)
    assert fake_catalog.calls == []
    assert not options.directory.exists()  # no lock, no journal


def test_a_run_s_journal_verifies_against_the_key_it_made(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog, drill_signing_key: Path
) -> None:
    drill_signing_key.unlink(missing_ok=True)
    drill_signing_key.with_suffix(".pub").unlink(missing_ok=True)
    loaded = load(tmp_path, make_sequence(), lab_estate)
    summary = run_drill(loaded, lab_estate, make_options(tmp_path))
    assert drill_signing_key.stat().st_mode & 0o777 == 0o600  # made on first use
    public_key = load_public_key(drill_signing_key.with_suffix(".pub"))
    _, closure = verify_journal(Path(summary.journal_path), public_key)
    assert closure.closing_hash == summary.journal_last_hash
