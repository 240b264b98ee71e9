"""Typed journal events: every kind a drill writes parses, older journals still do, and an
entry that is not what its kind must carry is refused naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from egov.drills.events import (
    CanaryEvent,
    CloseEvent,
    EndEvent,
    EventError,
    MeasureEvent,
    OtherEvent,
    ProbeEvent,
    SilenceEndEvent,
    SilenceEvent,
    StartEvent,
    StepEndEvent,
    StepStartEvent,
    TextEvent,
    parse_event,
    read_events,
)
from egov.drills.journal import Journal, read_journal
from tests.drills.support import get_test_key


def entry(kind: str, /, **fields: Any) -> dict[str, Any]:
    envelope = {"seq": 1, "at": "", "epoch": 10.0, "t": 1.0, "prev": "p", "hash": "h"}
    return {**envelope, "event": kind, **fields}


@pytest.mark.parametrize(
    ("kind", "fields", "model"),
    [
        ("start", {"scenario": "s", "measured": True, "targets": {"portal": {}}}, StartEvent),
        ("note", {"text": "n", "author": "me"}, TextEvent),
        ("failure", {"text": "f"}, TextEvent),
        ("warning", {"text": "w"}, TextEvent),
        ("probe", {"name": "p", "value": [1, "a"], "ok": True}, ProbeEvent),
        ("step", {"name": "a", "critical": False}, StepStartEvent),
        ("rollback", {"name": "a", "kind": "rollback"}, StepStartEvent),
        ("step-end", {"name": "a", "status": "succeeded"}, StepEndEvent),
        ("rollback-end", {"name": "a", "status": "failed"}, StepEndEvent),
        ("measure", {"service": "s", "metric": "rpo", "lost": [[3, 9.5]]}, MeasureEvent),
        ("canary", {"services": {"s": {"refused_writes": 2}}}, CanaryEvent),
        ("silence", {"id": "x", "matchers": ['site="a"']}, SilenceEvent),
        ("silence-end", {"id": "x", "by": "runner"}, SilenceEndEvent),
        ("end", {"status": "failed"}, EndEvent),
        ("close", {"entries": 1, "last_hash": "p", "key": "SHA256:k"}, CloseEvent),
    ],
)
def test_every_kind_parses_to_its_model(kind: str, fields: dict[str, Any], model: type) -> None:
    event = parse_event(entry(kind, **fields))
    assert type(event) is model
    assert (event.seq, event.epoch, event.event, event.hash) == (1, 10.0, kind, "h")


def test_a_journal_written_by_the_journal_parses_whole(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path / "journal.jsonl")
    journal.append("start", scenario="s", mode="test", targets={"p": {"rto_seconds": 180}})
    journal.append("step", group="g", name="a", kind="action", description="", critical=True)
    journal.append("measure", service="p", metric="rto", seconds=4.5, target_seconds=180.0)
    journal.append("end", status="succeeded")
    journal.close(get_test_key())
    events = read_events(journal.path)
    assert [event.hash for event in events] == [e["hash"] for e in read_journal(journal.path)]
    assert isinstance(events[0], StartEvent) and events[0].targets["p"].rto_seconds == 180
    assert isinstance(events[2], MeasureEvent) and events[2].seconds == 4.5
    assert isinstance(events[-1], CloseEvent) and events[-1].key == get_test_key().fingerprint


def test_an_rpo_from_before_records_were_counted_parses_without_a_cutoff() -> None:
    event = parse_event(entry("measure", service="s", metric="rpo", seconds=2.0))
    assert isinstance(event, MeasureEvent) and event.cutoff is None and event.lost == []


def test_unknown_fields_and_kinds_are_kept_out_not_refused() -> None:
    assert isinstance(parse_event(entry("end", status="failed", later="x")), EndEvent)
    assert type(parse_event(entry("something-later", text="x"))) is OtherEvent


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (entry("step"), "journal entry 1 (step): not a drill step entry (name)"),
        (entry("end"), "(end): not a drill end entry (status)"),
        (entry("measure", service="s", metric="rpo", lost="all"), "(lost)"),
        (
            {"event": "note", "prev": "p", "hash": "h"},
            "(note): not a drill note entry (seq, epoch)",
        ),
    ],
)
def test_an_entry_without_what_its_kind_carries_is_refused(
    fields: dict[str, Any], words: str
) -> None:
    with pytest.raises(EventError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_event(fields)
