"""The drill journal's entries as typed events: one model per kind, one parse function.

``journal.py`` writes and chain-checks the entries as JSON objects (the hash is over exactly
what was written, so that layer stays on plain dicts); everything that reads what a drill
did (the verdict, the summary and its reports, ``egov drill recover``, the exporter record)
reads these instead. ``parse_event`` accepts every journal egov has written: fields a kind
gained later default to what a journal without them meant, unknown fields are ignored, and
an unknown kind is an ``OtherEvent``. A known kind that lacks what it must carry (a step
without its name) is an ``EventError``, a ValueError naming the entry.

The kinds, in the order a run writes them (``conduct.py``): ``start``, ``note``, ``probe``,
``silence``, ``step`` (a step starts), ``fault``, ``measure``, ``step-end``, ``warning``,
``canary``, ``rollback``, ``rollback-end``, ``failure``, ``silence-end``, ``end``, ``close``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from egov.drills.journal import read_journal


class EventError(ValueError):
    """A journal entry that is not the event its kind says (the message names the entry)."""


class Event(BaseModel):
    """What every entry carries: its number, times, kind and place in the hash chain."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    seq: int
    at: str = ""  # UTC RFC 3339 with milliseconds
    epoch: float  # seconds since the epoch
    t: float = 0.0  # seconds since the run started (its monotonic clock)
    event: str
    prev: str
    hash: str


class ServiceTarget(BaseModel):
    """A drilled service's targets as the start journals them (seconds)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str = ""
    rto_seconds: float = 0.0
    rpo_seconds: float = 0.0
    files_rpo_seconds: float | None = None


class StartEvent(Event):
    """The run starts: what runs, why, by whom, against which targets."""

    event: Literal["start"] = "start"
    estate: str = ""
    estate_title: str = ""
    scenario: str = ""
    scenario_title: str = ""
    scenario_title_vi: str = ""
    description: str = ""
    scenario_path: str = ""
    scenario_version: str = ""  # SHA-256 of the scenario file as run
    mode: str = ""
    operator: str = ""
    reason: str = ""
    control_node: str = ""
    pid: int | None = None
    egov_version: str = ""
    measured: bool = False
    services: list[str] = Field(default_factory=list)
    targets: dict[str, ServiceTarget] = Field(default_factory=dict)


class TextEvent(Event):
    """A sentence for the report: ``note`` (an operator's or recover's), ``failure``,
    ``warning``."""

    event: Literal["note", "failure", "warning"]
    text: str = ""
    author: str = ""


class ProbeEvent(Event):
    """A steady-state probe against its tolerance, before or after the method."""

    event: Literal["probe"] = "probe"
    phase: str = "before"
    name: str
    value: JsonValue = None
    tolerance: str = ""
    ok: bool = False
    detail: str = ""


class StepStartEvent(Event):
    """A step (``step``) or a rollback (``rollback``) starts."""

    event: Literal["step", "rollback"]
    group: str = ""
    name: str
    kind: str = "action"
    description: str = ""
    critical: bool = True


class StepEndEvent(Event):
    """A step (``step-end``) or a rollback (``rollback-end``) ends."""

    event: Literal["step-end", "rollback-end"]
    name: str
    status: str = "failed"
    attempts: int = 1
    output: str = ""
    error: str = ""


class FaultEvent(Event):
    """The fault strikes: RTO is measured from here."""

    event: Literal["fault"] = "fault"
    note: str = ""


class MeasureEvent(Event):
    """One measurement of a service: ``rto``, ``rpo`` (record by record: ``cutoff`` and the
    rest; a journal from before has none) or ``files-rpo``."""

    event: Literal["measure"] = "measure"
    service: str
    metric: str
    seconds: float | None = None
    target_seconds: float | None = None
    detail: str = ""
    cutoff: float | None = None
    fault_at: float | None = None
    acknowledged: int = 0
    newest_acknowledged_at: float | None = None
    newest_recovered_at: float | None = None
    lost: list[tuple[int, float]] = Field(default_factory=list)  # [seq, acknowledged at]
    lost_records: int | None = None
    #: an operator's error: when it had surely been committed, and the records sent after it
    #: that the recovered copy holds (it went past the error)
    error_ended_at: float | None = None
    written_after: list[int] = Field(default_factory=list)


class CanaryService(BaseModel):
    """What the canary wrote for one service."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    acknowledged: int = 0
    last_acknowledged: int | None = None
    failed_writes: int = 0
    refused_writes: int = 0  # of the failed writes, those the verdict counts
    site: str = ""


class CanaryEvent(Event):
    """The canary stopped: what it wrote per service."""

    event: Literal["canary"] = "canary"
    services: dict[str, CanaryService] = Field(default_factory=dict)


class SilenceEvent(Event):
    """A silence set for the alerts the drill causes."""

    event: Literal["silence"] = "silence"
    id: str
    alertmanager: str = ""
    matchers: list[str] = Field(default_factory=list)
    starts_at: str = ""
    ends_at: str = ""
    created_by: str = ""
    comment: str = ""


class SilenceEndEvent(Event):
    """A silence lifted, by the runner or by recover."""

    event: Literal["silence-end"] = "silence-end"
    id: str
    alertmanager: str = ""
    status: str = ""  # expired | gone | ending (a finished drill's: ends at ``ends_at``)
    by: str = ""
    ends_at: str = ""  # RFC 3339, when ``status`` is ending
    new_id: str = ""  # the id it ends under (an Alertmanager may re-create an edited silence)


class EndEvent(Event):
    """The run ended (``DrillStatus`` value)."""

    event: Literal["end"] = "end"
    status: str


class CloseEvent(Event):
    """The signed closing entry (``journal.py``); nothing follows it."""

    event: Literal["close"] = "close"
    entries: int | None = None
    last_hash: str = ""
    key: str = ""
    signature: str = ""


class OtherEvent(Event):
    """A kind this version does not read (kept, never interpreted)."""


JournalEvent = (
    StartEvent
    | TextEvent
    | ProbeEvent
    | StepStartEvent
    | StepEndEvent
    | FaultEvent
    | MeasureEvent
    | CanaryEvent
    | SilenceEvent
    | SilenceEndEvent
    | EndEvent
    | CloseEvent
    | OtherEvent
)

EVENT_TYPES: Mapping[str, type[JournalEvent]] = {
    "start": StartEvent,
    "note": TextEvent,
    "failure": TextEvent,
    "warning": TextEvent,
    "probe": ProbeEvent,
    "step": StepStartEvent,
    "rollback": StepStartEvent,
    "step-end": StepEndEvent,
    "rollback-end": StepEndEvent,
    "fault": FaultEvent,
    "measure": MeasureEvent,
    "canary": CanaryEvent,
    "silence": SilenceEvent,
    "silence-end": SilenceEndEvent,
    "end": EndEvent,
    "close": CloseEvent,
}


def parse_event(entry: Mapping[str, object]) -> JournalEvent:
    """The typed event of one journal entry (a JSON object as ``read_journal`` returns it);
    EventError naming the entry when it is not what its kind must carry.

    >>> parse_event({"seq": 3, "epoch": 1.5, "event": "end", "status": "succeeded",
    ...              "prev": "a", "hash": "b"}).status
    'succeeded'
    """
    kind = entry.get("event")
    model = EVENT_TYPES.get(kind, OtherEvent) if isinstance(kind, str) else OtherEvent
    try:
        return model.model_validate(entry)
    except ValidationError as error:
        fields = ", ".join(
            ".".join(str(part) for part in problem["loc"]) or "entry" for problem in error.errors()
        )
        raise EventError(
            f"journal entry {entry.get('seq')} ({kind}): not a drill {kind} entry ({fields})"
        ) from None


def parse_events(entries: list[dict[str, object]]) -> list[JournalEvent]:
    """The typed events of chain-checked ``entries`` (EventError at the first bad one)."""
    return [parse_event(entry) for entry in entries]


def read_events(path: Path, *, torn_tail_ok: bool = False) -> list[JournalEvent]:
    """The typed events of the journal at ``path``, once its chain holds (``read_journal``
    raises as it says; EventError for an entry that chains but is not its kind)."""
    return parse_events(read_journal(path, torn_tail_ok=torn_tail_ok))
