"""What a drill journal says, as one model: the input of the reports, history and metrics.

``summarize`` is pure: it folds the journal's entries (see ``journal.py``) into steps,
rollbacks, steady-state probes, and per-service RTO/RPO against targets with the verdict
``verdict.judge`` gives them (``read_measurements`` types the journal's entries for it, here
and in the runner).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from egov.drills.verdict import (
    DataLoss,
    LostRecord,
    Measurements,
    ServiceVerdict,
    Targets,
    judge,
)


class DrillStatus(StrEnum):
    """How a drill ended."""

    SUCCEEDED = "succeeded"  # every critical step and cleanup succeeded, targets met
    FAILED = "failed"  # a critical step, a cleanup or a target failed; rollbacks ran
    INTERRUPTED = "interrupted"  # the operator stopped it; rollbacks ran
    REFUSED = "refused"  # readiness probes failed: nothing was changed
    UNFINISHED = "unfinished"  # the runner died: `egov drill recover` must run
    RECOVERED = "recovered"  # the runner died and `egov drill recover` finished the rollbacks


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
    value: Any = None
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

    @property
    def succeeded(self) -> bool:
        """The verdict: succeeded and every measurement within target."""
        return self.status is DrillStatus.SUCCEEDED and all(s.ok for s in self.services)

    @property
    def lost_records(self) -> int:
        """Acknowledged canary records lost, over every service."""
        return sum(s.lost_records or 0 for s in self.services)


def summarize(entries: list[dict[str, Any]], journal_path: str = "") -> DrillSummary:
    """Fold journal ``entries`` (already chain-checked) into a DrillSummary."""
    if not entries or entries[0].get("event") != "start":
        raise ValueError("a drill journal starts with a 'start' entry")
    start = entries[0]
    summary = DrillSummary(
        estate=start.get("estate", ""),
        estate_title=start.get("estate_title", ""),
        scenario=start.get("scenario", ""),
        scenario_title=start.get("scenario_title", ""),
        scenario_title_vi=start.get("scenario_title_vi", ""),
        description=start.get("description", ""),
        scenario_version=start.get("scenario_version", ""),
        mode=start.get("mode", ""),
        operator=start.get("operator", ""),
        reason=start.get("reason", ""),
        control_node=start.get("control_node", ""),
        egov_version=start.get("egov_version", ""),
        started_at=start["epoch"],
        status=DrillStatus.UNFINISHED,
        measured=bool(start.get("measured", False)),
        journal_path=journal_path,
        journal_entries=len(entries),
        journal_last_hash=entries[-1]["hash"],
        journal_key=entries[-1].get("key", "") if entries[-1].get("event") == "close" else "",
    )
    targets: dict[str, dict[str, Any]] = start.get("targets", {})
    open_steps: dict[tuple[str, str], StepResult] = {}
    for entry in entries[1:]:
        event = entry["event"]
        if event in {"step", "rollback"}:
            result = StepResult(
                group=entry.get("group", ""),
                name=entry["name"],
                kind="rollback" if event == "rollback" else entry.get("kind", "action"),
                description=entry.get("description", ""),
                status="started",
                critical=entry.get("critical", True),
                started_at=entry["epoch"],
            )
            open_steps[(event, entry["name"])] = result
            (summary.rollbacks if event == "rollback" else summary.steps).append(result)
        elif event in {"step-end", "rollback-end"}:
            kind = event.removesuffix("-end")
            found = open_steps.pop((kind, entry["name"]), None)
            if found is not None:
                found.status = entry.get("status", "failed")
                found.finished_at = entry["epoch"]
                found.attempts = entry.get("attempts", 1)
                found.output = entry.get("output", "")
                found.error = entry.get("error", "")
        elif event == "probe":
            summary.probes.append(
                ProbeResult(
                    phase=entry.get("phase", "before"),
                    name=entry["name"],
                    value=entry.get("value"),
                    tolerance=entry.get("tolerance", ""),
                    ok=bool(entry.get("ok")),
                    detail=entry.get("detail", ""),
                )
            )
        elif event == "fault":
            summary.fault_at = summary.fault_at or entry["epoch"]
        elif event == "note":
            summary.notes.append(entry.get("text", ""))
        elif event == "failure":
            summary.failures.append(entry.get("text", ""))
        elif event == "warning":
            summary.warnings.append(entry.get("text", ""))
        elif event == "silence":
            summary.silences.append(
                SilenceResult(
                    id=entry["id"],
                    matchers=list(entry.get("matchers", [])),
                    set_at=entry["epoch"],
                    ends_at=entry.get("ends_at", ""),
                )
            )
        elif event == "silence-end":
            found_silence = next((s for s in summary.silences if s.id == entry["id"]), None)
            if found_silence is None:
                found_silence = SilenceResult(id=entry["id"])
                summary.silences.append(found_silence)
            found_silence.lifted_at = entry["epoch"]
            found_silence.lifted_by = entry.get("by", "")
            # a drill that ended leaves its silences a settle time to run (silences.py)
            found_silence.ends_at = entry.get("ends_at", found_silence.ends_at)
        elif event == "end":
            summary.status = DrillStatus(entry["status"])
            summary.finished_at = entry["epoch"]
    if summary.measured:
        verdict_targets, measurements = read_measurements(entries)
        verdict = judge(measurements, verdict_targets)
        summary.services = [
            _measurement(
                name,
                targets.get(name, {}),
                verdict_targets[name],
                measurements[name],
                verdict.get(name),
                _details(entries, name),
            )
            for name in targets
        ]
    return summary


def read_measurements(
    entries: list[dict[str, Any]],
) -> tuple[dict[str, Targets], dict[str, Measurements]]:
    """The targets (from the start) and the measurements of a journal, typed for ``judge``.

    A journal from before RPO was measured record by record (an ``rpo`` entry without
    ``cutoff``) has no data loss to judge: its RPO counts as not measured.
    """
    start = entries[0] if entries else {}
    targets = {
        name: Targets(
            rto_seconds=float(target.get("rto_seconds", 0)),
            rpo_seconds=float(target.get("rpo_seconds", 0)),
            files_rpo_seconds=_float(target.get("files_rpo_seconds")),
        )
        for name, target in start.get("targets", {}).items()
    }
    found: dict[str, dict[str, Any]] = {name: {} for name in targets}
    for entry in entries:
        event = entry.get("event")
        if event == "measure":
            found.setdefault(entry["service"], {})[entry["metric"]] = entry
        elif event == "canary":
            for name, canary in entry.get("services", {}).items():
                found.setdefault(name, {})["canary"] = canary
    measurements = {}
    for name, metrics in found.items():
        canary = metrics.get("canary", {})
        measurements[name] = Measurements(
            rto_seconds=_float((metrics.get("rto") or {}).get("seconds")),
            data_loss=_data_loss(metrics.get("rpo")),
            failed_writes=int(canary.get("refused_writes", 0)),
            files_rpo_seconds=_float((metrics.get("files-rpo") or {}).get("seconds")),
        )
    return targets, measurements


def _data_loss(entry: dict[str, Any] | None) -> DataLoss | None:
    if entry is None or "cutoff" not in entry:
        return None
    return DataLoss(
        cutoff=float(entry["cutoff"]),
        acknowledged=int(entry.get("acknowledged", 0)),
        newest_acknowledged_at=_float(entry.get("newest_acknowledged_at")),
        newest_recovered_at=_float(entry.get("newest_recovered_at")),
        lost=tuple(LostRecord(int(seq), float(at)) for seq, at in entry.get("lost", [])),
        fault_at=_float(entry.get("fault_at")),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _details(entries: list[dict[str, Any]], service: str) -> str:
    return "; ".join(
        entry["detail"]
        for entry in entries
        if entry.get("event") == "measure"
        and entry.get("service") == service
        and entry.get("detail")
    )


def _measurement(
    service: str,
    target: dict[str, Any],
    targets: Targets,
    measured: Measurements,
    verdict: ServiceVerdict | None,
    detail: str,
) -> ServiceMeasurement:
    loss = measured.data_loss
    return ServiceMeasurement(
        service=service,
        title=target.get("title", ""),
        rto_seconds=measured.rto_seconds,
        rto_target_seconds=targets.rto_seconds,
        rpo_seconds=None if loss is None else loss.seconds,
        rpo_target_seconds=targets.rpo_seconds,
        files_rpo_seconds=measured.files_rpo_seconds,
        files_rpo_target_seconds=targets.files_rpo_seconds,
        lost_records=None if loss is None else len(loss.lost),
        failed_writes=measured.failed_writes,
        rto_ok=verdict is not None and verdict.rto_ok,
        rpo_ok=verdict is not None and verdict.rpo_ok,
        files_rpo_ok=verdict is None or verdict.files_rpo_ok,
        problems=list(verdict.problems) if verdict else [],
        detail=detail,
    )
