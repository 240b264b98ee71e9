"""What a drill journal says, as one model: the input of the reports, history and metrics.

``summarize`` is pure: it folds the journal's typed events (``events.py``) into steps,
rollbacks, steady-state probes, and per-service RTO/RPO against targets, and carries the
verdict ``verdict.judge_drill`` gives them: the reports, the history and the exporter
record show that verdict and never judge again.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field, JsonValue

from egov.drills.events import (
    CloseEvent,
    EndEvent,
    FaultEvent,
    JournalEvent,
    MeasureEvent,
    ProbeEvent,
    SilenceEndEvent,
    SilenceEvent,
    StartEvent,
    StepEndEvent,
    StepStartEvent,
    TextEvent,
)
from egov.drills.verdict import DrillStatus, DrillVerdict, judge_drill

__all__ = ["DrillStatus", "DrillSummary", "ServiceMeasurement", "StepResult", "summarize"]


class StepResult(BaseModel):
    """One step or rollback as it ran."""

    group: str = ""
    name: str
    kind: str  # action | probe | manual | rollback
    description: str = ""
    status: str  # succeeded | failed | timed-out | skipped | started (never finished)
    critical: bool = True
    started_at: float
    finished_at: float | None = None
    attempts: int = 0
    output: str = ""
    error: str = ""

    @property
    def duration_seconds(self) -> float | None:
        """How long the step ran (None if it never finished)."""
        return None if self.finished_at is None else self.finished_at - self.started_at


class ProbeResult(BaseModel):
    """One steady-state probe against its tolerance."""

    phase: str  # before | after
    name: str
    value: JsonValue = None
    tolerance: str = ""
    ok: bool
    detail: str = ""


class SilenceResult(BaseModel):
    """A silence the drill set for the alerts it causes (``silences.py``), and its end."""

    id: str
    matchers: list[str] = Field(default_factory=list)
    set_at: float | None = None  # None: set just before the runner died, found by recover
    ends_at: str = ""  # when it expires by itself (RFC 3339)
    lifted_at: float | None = None  # None: still live when the journal ends
    lifted_by: str = ""  # runner | recover


class ServiceMeasurement(BaseModel):
    """RTO and RPO of one service in this drill, with its targets (seconds) and the verdict
    ``verdict.judge`` gave them (the reports show it, never judge again)."""

    service: str
    title: str = ""
    rto_seconds: float | None = None
    rto_target_seconds: float
    rpo_seconds: float | None = None
    rpo_target_seconds: float
    files_rpo_seconds: float | None = None
    files_rpo_target_seconds: float | None = None
    lost_records: int | None = None  # acknowledged records the recovery site lacks
    failed_writes: int = 0  # canary writes refused while the service should have taken them
    rto_ok: bool = False
    rpo_ok: bool = False
    files_rpo_ok: bool = True
    problems: list[str] = Field(default_factory=list)
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Every objective met (the verdict's)."""
        return self.rto_ok and self.rpo_ok and self.files_rpo_ok


class DrillSummary(BaseModel):
    """A whole drill: what an auditor reads and signs."""

    estate: str
    estate_title: str = ""
    scenario: str
    scenario_title: str = ""
    scenario_title_vi: str = ""
    description: str = ""
    scenario_version: str = ""  # SHA-256 of the scenario file as run
    mode: str
    operator: str = ""
    reason: str = ""
    control_node: str = ""
    egov_version: str = ""
    started_at: float
    finished_at: float | None = None
    fault_at: float | None = None
    status: DrillStatus
    steps: list[StepResult] = Field(default_factory=list)
    rollbacks: list[StepResult] = Field(default_factory=list)
    probes: list[ProbeResult] = Field(default_factory=list)
    services: list[ServiceMeasurement] = Field(default_factory=list)
    measured: bool = False  # whether this mode measures RTO/RPO
    notes: list[str] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    silences: list[SilenceResult] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # e.g. no Alertmanager answered
    journal_path: str = ""
    journal_entries: int = 0
    journal_last_hash: str = ""
    journal_key: str = ""  # fingerprint of the key that signed the closing entry ("": open)
    # ``judge_drill``'s, of the journal: carried as it is, never dumped (its parts are above)
    verdict: DrillVerdict = Field(exclude=True, repr=False)

    @property
    def succeeded(self) -> bool:
        """The verdict: succeeded and every measurement within target."""
        return self.verdict.passed

    @property
    def lost_records(self) -> int:
        """Acknowledged canary records lost, over every service."""
        return sum(s.lost_records or 0 for s in self.services)


def summarize(events: Sequence[JournalEvent], journal_path: str = "") -> DrillSummary:
    """Fold a journal's typed ``events`` (chain-checked) into a DrillSummary with its verdict;
    ValueError when they are not a drill's (``judge_drill``)."""
    verdict = judge_drill(events)
    start = events[0]
    assert isinstance(start, StartEvent)  # judge_drill checked it
    last = events[-1]
    summary = DrillSummary(
        estate=start.estate,
        estate_title=start.estate_title,
        scenario=start.scenario,
        scenario_title=start.scenario_title,
        scenario_title_vi=start.scenario_title_vi,
        description=start.description,
        scenario_version=start.scenario_version,
        mode=start.mode,
        operator=start.operator,
        reason=start.reason,
        control_node=start.control_node,
        egov_version=start.egov_version,
        started_at=start.epoch,
        status=verdict.status,
        measured=verdict.measured,
        failures=list(verdict.failures),
        journal_path=journal_path,
        journal_entries=len(events),
        journal_last_hash=last.hash,
        journal_key=last.key if isinstance(last, CloseEvent) else "",
        verdict=verdict,
    )
    open_steps: dict[tuple[str, str], StepResult] = {}
    for event in events[1:]:
        _fold(summary, open_steps, event)
    if verdict.measured:
        summary.services = [
            _measurement(name, start.targets[name].title, verdict, events) for name in start.targets
        ]
    return summary


def _fold(
    summary: DrillSummary, open_steps: dict[tuple[str, str], StepResult], event: JournalEvent
) -> None:
    """Add what one event says to ``summary`` (a step's end to the step it ends)."""
    if isinstance(event, StepStartEvent):
        result = StepResult(
            group=event.group,
            name=event.name,
            kind="rollback" if event.event == "rollback" else event.kind,
            description=event.description,
            status="started",
            critical=event.critical,
            started_at=event.epoch,
        )
        open_steps[(event.event, event.name)] = result
        (summary.rollbacks if event.event == "rollback" else summary.steps).append(result)
    elif isinstance(event, StepEndEvent):
        found = open_steps.pop((event.event.removesuffix("-end"), event.name), None)
        if found is not None:
            found.status = event.status
            found.finished_at = event.epoch
            found.attempts = event.attempts
            found.output = event.output
            found.error = event.error
    elif isinstance(event, ProbeEvent):
        summary.probes.append(
            ProbeResult(
                phase=event.phase,
                name=event.name,
                value=event.value,
                tolerance=event.tolerance,
                ok=event.ok,
                detail=event.detail,
            )
        )
    elif isinstance(event, FaultEvent):
        summary.fault_at = summary.fault_at or event.epoch
    elif isinstance(event, TextEvent) and event.event in {"note", "warning"}:
        (summary.notes if event.event == "note" else summary.warnings).append(event.text)
    elif isinstance(event, SilenceEvent):
        summary.silences.append(
            SilenceResult(
                id=event.id,
                matchers=list(event.matchers),
                set_at=event.epoch,
                ends_at=event.ends_at,
            )
        )
    elif isinstance(event, SilenceEndEvent):
        found_silence = next((s for s in summary.silences if s.id == event.id), None)
        if found_silence is None:
            found_silence = SilenceResult(id=event.id)
            summary.silences.append(found_silence)
        found_silence.lifted_at = event.epoch
        found_silence.lifted_by = event.by
        # a drill that ended leaves its silences a settle time to run (silences.py)
        found_silence.ends_at = event.ends_at or found_silence.ends_at
    elif isinstance(event, EndEvent):
        summary.finished_at = event.epoch


def _measurement(
    service: str, title: str, verdict: DrillVerdict, events: Sequence[JournalEvent]
) -> ServiceMeasurement:
    """One service's row: what was measured, its targets, and the verdict on it."""
    targets = verdict.targets[service]
    measured = verdict.measurements[service]
    judged = verdict.judged.get(service)
    loss = measured.data_loss
    return ServiceMeasurement(
        service=service,
        title=title,
        rto_seconds=measured.rto_seconds,
        rto_target_seconds=targets.rto_seconds,
        rpo_seconds=None if loss is None else loss.seconds,
        rpo_target_seconds=targets.rpo_seconds,
        files_rpo_seconds=measured.files_rpo_seconds,
        files_rpo_target_seconds=targets.files_rpo_seconds,
        lost_records=None if loss is None else len(loss.lost),
        failed_writes=measured.failed_writes,
        rto_ok=judged is not None and judged.rto_ok,
        rpo_ok=judged is not None and judged.rpo_ok,
        files_rpo_ok=judged is None or judged.files_rpo_ok,
        problems=list(judged.problems) if judged else [],
        detail="; ".join(
            event.detail
            for event in events
            if isinstance(event, MeasureEvent) and event.service == service and event.detail
        ),
    )
