"""What a drill journal says, as one model: the input of the reports, history and metrics.

``summarize`` is pure: it folds the journal's entries (see ``journal.py``) into steps,
rollbacks, steady-state probes, per-service RTO/RPO against targets, and the verdict.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


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


class ServiceMeasurement(BaseModel):
    """RTO and RPO of one service in this drill, with its targets (seconds)."""

    service: str
    title: str = ""
    rto_seconds: float | None = None
    rto_target_seconds: float
    rpo_seconds: float | None = None
    rpo_target_seconds: float
    files_rpo_seconds: float | None = None
    files_rpo_target_seconds: float | None = None
    detail: str = ""

    @property
    def rto_ok(self) -> bool:
        """Measured and within target."""
        return self.rto_seconds is not None and self.rto_seconds <= self.rto_target_seconds

    @property
    def rpo_ok(self) -> bool:
        """Measured and within target."""
        return self.rpo_seconds is not None and self.rpo_seconds <= self.rpo_target_seconds

    @property
    def files_rpo_ok(self) -> bool:
        """Within target, or not measured in this drill (no file store to recover)."""
        if self.files_rpo_seconds is None or self.files_rpo_target_seconds is None:
            return True
        return self.files_rpo_seconds <= self.files_rpo_target_seconds

    @property
    def ok(self) -> bool:
        """Every measured value within its target."""
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
    journal_path: str = ""
    journal_entries: int = 0
    journal_last_hash: str = ""
    journal_key: str = ""  # fingerprint of the key that signed the closing entry ("": open)

    @property
    def succeeded(self) -> bool:
        """The verdict: succeeded and every measurement within target."""
        return self.status is DrillStatus.SUCCEEDED and all(s.ok for s in self.services)


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
    measurements: dict[str, dict[str, Any]] = {name: {} for name in targets}
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
        elif event == "measure":
            measurements.setdefault(entry["service"], {})[entry["metric"]] = entry
        elif event == "note":
            summary.notes.append(entry.get("text", ""))
        elif event == "failure":
            summary.failures.append(entry.get("text", ""))
        elif event == "end":
            summary.status = DrillStatus(entry["status"])
            summary.finished_at = entry["epoch"]
    if summary.measured:
        summary.services = [
            _measurement(name, targets.get(name, {}), measurements.get(name, {}))
            for name in targets
        ]
    return summary


def _measurement(
    service: str, target: dict[str, Any], measured: dict[str, dict[str, Any]]
) -> ServiceMeasurement:
    def value(metric: str) -> float | None:
        entry = measured.get(metric)
        return None if entry is None else entry.get("seconds")

    details = [entry.get("detail", "") for entry in measured.values() if entry.get("detail")]
    return ServiceMeasurement(
        service=service,
        title=target.get("title", ""),
        rto_seconds=value("rto"),
        rto_target_seconds=float(target.get("rto_seconds", 0)),
        rpo_seconds=value("rpo"),
        rpo_target_seconds=float(target.get("rpo_seconds", 0)),
        files_rpo_seconds=value("files-rpo"),
        # the file stores' target is what the measurement says there was to recover (the
        # newest copy at the recovery site), else the inventory's
        files_rpo_target_seconds=(measured.get("files-rpo") or {}).get(
            "target_seconds", target.get("files_rpo_seconds")
        ),
        detail="; ".join(details),
    )
