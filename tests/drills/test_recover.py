"""``egov drill recover`` after a killed runner, simulated: the journal it would have left
(written by hand with ``Journal``) and a lock naming a process that has ended."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from egov.drills.journal import JOURNAL_NAME, Journal, read_journal
from egov.drills.loader import LoadedScenario
from egov.drills.lock import LOCK_NAME, read_lock
from egov.drills.recover import recover_drill
from egov.drills.summary import DrillStatus
from egov.drills.verification import verify_journal
from egov.errors import DrillError
from egov.inventory.model import Estate
from egov.monitoring.alertmanager_api import AlertmanagerClient
from tests.drills.support import FakeCatalog, get_dead_pid, get_test_key, write_scenario
from tests.fake_alertmanager import serving_alertmanager

SCENARIO = """\
modes:
  test:
    steps:
      - group: first
        steps:
          - name: a
            action: t-record
            with: {label: a}
            rollback: {action: t-record, with: {label: undo-a}}
          - name: b
            action: t-record
            with: {label: b}
            rollback: {action: t-record, with: {label: undo-b}}
          - name: c
            action: t-record
            with: {label: c}
            rollback: {action: t-record, with: {label: undo-c}}
"""


def write_killed_run(
    directory: Path,
    loaded: LoadedScenario,
    estate: Estate,
    pid: int,
    rolled_back: tuple[str, ...] = (),
) -> Path:
    """The journal and lock of a runner killed in step b, after a and b started."""
    path = directory / "20261127T080000Z-t-killed-test" / JOURNAL_NAME
    journal = Journal.create(path)
    services = list(estate.services)
    journal.append(
        "start",
        estate=estate.name,
        estate_title=estate.title,
        scenario=loaded.scenario.name,
        scenario_title=loaded.scenario.title,
        description="",
        scenario_path=str(loaded.path),
        scenario_version=loaded.sha256,
        mode="test",
        operator="tester",
        reason="test",
        control_node="localhost",
        pid=pid,
        egov_version="0",
        measured=False,
        services=services,
        targets={
            name: {"title": "", "rto_seconds": 180, "rpo_seconds": 5, "files_rpo_seconds": None}
            for name in services
        },
    )
    for name in ("a", "b"):
        journal.append("step", group="first", name=name, kind="action", description="")
        if name == "a":
            journal.append("step-end", name=name, status="succeeded", attempts=1)
    for name in rolled_back:
        journal.append("rollback", name=name, kind="rollback", description="t-record")
        journal.append("rollback-end", name=name, status="succeeded", attempts=1)
    (directory / LOCK_NAME).write_text(json.dumps({"pid": pid, "journal": str(path)}))
    return path


@pytest.fixture
def loaded(tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog) -> LoadedScenario:
    return write_scenario(tmp_path, "t-killed", SCENARIO, lab_estate)


@pytest.fixture
def live_pid() -> Iterator[int]:
    process = subprocess.Popen(["sleep", "30"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_recover_rolls_back_the_started_steps_newest_first(
    tmp_path: Path, lab_estate: Estate, loaded: LoadedScenario, fake_catalog: FakeCatalog
) -> None:
    directory = tmp_path / "drills"
    path = write_killed_run(directory, loaded, lab_estate, get_dead_pid())
    summary = recover_drill(directory, lab_estate)
    assert fake_catalog.calls == ["undo-b", "undo-a"]
    assert summary is not None
    assert summary.status is DrillStatus.RECOVERED
    assert [(r.name, r.status) for r in summary.rollbacks] == [
        ("b", "succeeded"),
        ("a", "succeeded"),
    ]
    entries = read_journal(path)  # the chain goes on unbroken
    assert entries[-2]["event"] == "end"
    assert entries[-2]["status"] == "recovered"
    assert entries[-1]["event"] == "close"  # recover closes what it finished
    assert "running the rollbacks of 2 started steps" in summary.notes[0]
    assert read_lock(directory) is None
    assert recover_drill(directory, lab_estate) is None
    assert fake_catalog.calls == ["undo-b", "undo-a"]


def test_recover_skips_rollbacks_that_already_succeeded(
    tmp_path: Path, lab_estate: Estate, loaded: LoadedScenario, fake_catalog: FakeCatalog
) -> None:
    directory = tmp_path / "drills"
    write_killed_run(directory, loaded, lab_estate, get_dead_pid(), rolled_back=("b",))
    summary = recover_drill(directory, lab_estate)
    assert fake_catalog.calls == ["undo-a"]
    assert summary is not None
    assert summary.status is DrillStatus.RECOVERED


def test_recover_refuses_a_changed_scenario_and_keeps_the_lock(
    tmp_path: Path, lab_estate: Estate, loaded: LoadedScenario, fake_catalog: FakeCatalog
) -> None:
    directory = tmp_path / "drills"
    path = write_killed_run(directory, loaded, lab_estate, get_dead_pid())
    loaded.path.write_text(loaded.path.read_text() + "# edited after the drill\n")
    with pytest.raises(DrillError, match="changed since the drill started") as caught:
        recover_drill(directory, lab_estate)
    assert "SHA-256" in caught.value.hint
    assert fake_catalog.calls == []
    assert read_lock(directory) is not None
    assert read_journal(path)[-1]["event"] == "step"


def test_recover_leaves_a_running_drill_alone(
    tmp_path: Path, lab_estate: Estate, loaded: LoadedScenario, live_pid: int
) -> None:
    directory = tmp_path / "drills"
    write_killed_run(directory, loaded, lab_estate, live_pid)
    with pytest.raises(DrillError, match=f"still running \\(pid {live_pid}\\)"):
        recover_drill(directory, lab_estate)
    assert read_lock(directory) is not None


def test_recover_of_a_drill_killed_after_its_end_closes_it_and_drops_the_lock(
    tmp_path: Path, lab_estate: Estate, loaded: LoadedScenario, fake_catalog: FakeCatalog
) -> None:
    directory = tmp_path / "drills"
    path = write_killed_run(directory, loaded, lab_estate, get_dead_pid())
    Journal.resume(path).append("end", status="failed")
    summary = recover_drill(directory, lab_estate)
    assert summary is not None
    assert summary.status is DrillStatus.FAILED
    assert fake_catalog.calls == []
    assert [entry["event"] for entry in read_journal(path)[-2:]] == ["end", "close"]
    assert read_lock(directory) is None


def test_recover_of_an_empty_journal_drops_the_lock(tmp_path: Path, lab_estate: Estate) -> None:
    directory = tmp_path / "drills"
    path = directory / "run" / JOURNAL_NAME
    Journal.create(path)
    (directory / LOCK_NAME).write_text(json.dumps({"pid": get_dead_pid(), "journal": str(path)}))
    assert recover_drill(directory, lab_estate) is None
    assert read_lock(directory) is None


def test_recover_with_no_lock_has_nothing_to_do(tmp_path: Path, lab_estate: Estate) -> None:
    assert recover_drill(tmp_path / "drills", lab_estate) is None
    assert os.listdir(tmp_path) == []


def test_recover_journals_a_torn_last_line_and_its_journal_then_verifies(
    tmp_path: Path, lab_estate: Estate, loaded: LoadedScenario, fake_catalog: FakeCatalog
) -> None:
    directory = tmp_path / "drills"
    path = write_killed_run(directory, loaded, lab_estate, get_dead_pid())
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"event": "step-end", "name": "b", "sta')
    summary = recover_drill(directory, lab_estate)
    assert summary is not None and summary.status is DrillStatus.RECOVERED
    entries, closure = verify_journal(path, get_test_key().public_key)
    notes = [entry["text"] for entry in entries if entry["event"] == "note"]
    assert "line 5 was cut short mid-write" in notes[0]
    assert '"name": "b", "sta' in notes[0]  # what was cut is kept, not dropped unsaid
    assert closure.status == "recovered"
    assert summary.journal_key == get_test_key().fingerprint


def test_recover_lifts_the_silences_the_killed_drill_left(
    tmp_path: Path, lab_estate: Estate, loaded: LoadedScenario
) -> None:
    """Against a fake Alertmanager on loopback (it stands in for the real one, which the lab
    suite exercises): the journalled silence and one set just before the runner died (found
    by the journal id in its comment) are lifted; another run's and an operator's are not."""
    directory = tmp_path / "drills"
    path = write_killed_run(directory, loaded, lab_estate, get_dead_pid())
    journal_id = path.parent.name
    with serving_alertmanager() as fake:
        mine = f"drill t-killed (test), journal {journal_id}: test"
        journalled = fake.add_silence("egov drill t-killed", mine, site="site2")
        unjournalled = fake.add_silence("egov drill t-killed", mine, site="primary")
        other_run = fake.add_silence(
            "egov drill t-killed", mine.replace(journal_id, f"{journal_id}-2"), site="site2"
        )
        by_hand = fake.add_silence("an operator", mine, site="site2")
        journal = Journal.resume(path)
        journal.append("silence", id=journalled, matchers=['site="site2"'], ends_at="")
        summary = recover_drill(directory, lab_estate, alertmanager=AlertmanagerClient([fake.url]))
        live = {silence["id"] for silence in fake.get_live()}
    assert summary is not None and summary.status is DrillStatus.RECOVERED
    assert live == {other_run, by_hand}
    lifted = {(s.id, s.lifted_by) for s in summary.silences}
    assert lifted == {(journalled, "recover"), (unjournalled, "recover")}
    _entries, closure = verify_journal(path, get_test_key().public_key)
    assert closure.status == "recovered"


def test_recover_without_an_alertmanager_answering_warns_and_still_finishes(
    tmp_path: Path, lab_estate: Estate, loaded: LoadedScenario
) -> None:
    directory = tmp_path / "drills"
    write_killed_run(directory, loaded, lab_estate, get_dead_pid())
    client = AlertmanagerClient(["http://127.0.0.1:1"])
    summary = recover_drill(directory, lab_estate, alertmanager=client)
    assert summary is not None and summary.status is DrillStatus.RECOVERED
    assert any("expire by themselves" in warning for warning in summary.warnings)
