"""``egov drill recover`` in-process publishes the finished drill's result as ``drill run``
does: the exporter record in ``--state-dir`` here and, over SSH, on every monitoring host.

SSH is what production talks to and a unit test cannot: ``Remote`` is replaced by a fake
that keeps what it was sent. The Alertmanagers are the loopback fake (tests/fake_alertmanager.py).
The killed run is ``test_recover.write_killed_run``'s, with the fake catalog's actions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from egov.cli import run
from egov.drills import remote
from egov.drills.journal import JOURNAL_NAME, Journal, read_journal
from egov.inventory.model import Estate, HostRef
from egov.monitoring.alertmanager_api import AlertmanagerClient
from egov.records import DrillRecord, Result, read_record
from tests.drills.support import LAB_INVENTORY, FakeCatalog, get_dead_pid, write_scenario
from tests.drills.test_recover import SCENARIO, write_killed_run
from tests.fake_alertmanager import serving_alertmanager


@dataclass
class SentScripts:
    """What the fake ``Remote`` was asked to run: (host, script, stdin), in order."""

    calls: list[tuple[str, str, str | None]] = field(default_factory=list)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> SentScripts:
    record = SentScripts()

    @dataclass(frozen=True)
    class FakeRemote:
        estate: Estate

        def run(
            self,
            ref: HostRef,
            script: str,
            *,
            timeout_seconds: float = 120.0,
            input_text: str | None = None,
        ) -> str:
            record.calls.append((ref.selector, script, input_text))
            return ""

    monkeypatch.setattr(remote, "Remote", FakeRemote)
    return record


def recover(directory: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    with serving_alertmanager() as fake:
        client = AlertmanagerClient([fake.url])
        monkeypatch.setattr("egov.cli.drill._alertmanager", lambda _estate: client)
        return run(
            [
                "drill",
                "recover",
                "-i",
                str(LAB_INVENTORY),
                "--drill-dir",
                str(directory),
                "--state-dir",
                str(state_dir),
            ]
        )


def test_a_recovered_drill_reaches_the_exporter_here_and_on_every_monitoring_host(
    tmp_path: Path,
    lab_estate: Estate,
    fake_catalog: FakeCatalog,
    sent: SentScripts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = write_scenario(tmp_path, "t-killed", SCENARIO, lab_estate)
    directory, state_dir = tmp_path / "drills", tmp_path / "state"
    path = write_killed_run(directory, loaded, lab_estate, get_dead_pid())
    assert recover(directory, state_dir, monkeypatch) == 0
    assert fake_catalog.calls == ["undo-b", "undo-a"]
    record = read_record(DrillRecord, "t-killed", state_dir)
    assert record is not None
    assert (record.scenario, record.mode, record.result) == ("t-killed", "test", Result.FAILURE)
    assert record.error == "the drill ended recovered"
    closing = read_journal(path)[-1]
    assert closing["event"] == "close"
    assert (record.journal_closing_hash, record.journal_key) == (closing["hash"], closing["key"])
    monitoring = [ref.selector for ref in lab_estate.iter_hosts() if "monitoring" in ref.host.roles]
    assert [host for host, _script, _text in sent.calls] == monitoring
    for _host, script, text in sent.calls:
        assert "/var/lib/egov/state/drills/t-killed.json" in script
        assert text is not None and json.loads(text) == json.loads(record.model_dump_json())


def test_a_drill_killed_after_its_end_publishes_its_own_result(
    tmp_path: Path,
    lab_estate: Estate,
    fake_catalog: FakeCatalog,
    sent: SentScripts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed between its end and its close, the run never published: recover does, with
    the result the run had (a success is a success)."""
    loaded = write_scenario(tmp_path, "t-killed", SCENARIO, lab_estate)
    directory, state_dir = tmp_path / "drills", tmp_path / "state"
    path = write_killed_run(directory, loaded, lab_estate, get_dead_pid())
    Journal.resume(path).append("end", status="succeeded")
    assert recover(directory, state_dir, monkeypatch) == 0
    record = read_record(DrillRecord, "t-killed", state_dir)
    assert record is not None and record.result is Result.SUCCESS
    assert record.journal_closing_hash == read_journal(path)[-1]["hash"]
    assert len(sent.calls) == len(
        [ref for ref in lab_estate.iter_hosts() if "monitoring" in ref.host.roles]
    )


def test_nothing_to_recover_publishes_nothing(
    tmp_path: Path, sent: SentScripts, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "state"
    assert recover(tmp_path / "drills", state_dir, monkeypatch) == 0
    assert sent.calls == []
    assert not state_dir.exists()
    assert not (tmp_path / "drills" / JOURNAL_NAME).exists()
