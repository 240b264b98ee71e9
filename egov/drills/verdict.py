"""The drill's verdict: what was measured against the targets, one pure function.

``judge(measurements, targets) -> Verdict`` is the only place that decides whether a drill's
measurements pass. The runner calls it to journal each failure and end the drill, the summary
(and so the reports and the drill record the exporter publishes) to show the same verdict:
an auditor reads one judgement, whoever prints it.

Data loss is judged record by record, not only in seconds: the canary numbers every write, so
the journal knows which acknowledged records the recovery site lacks. A passing RPO needs

- at least one acknowledged record recovered (a total loss has no "newest recovered" to time
  from: before, it scored the seconds of the canary's warm-up and passed);
- the newest acknowledged record no more than the target newer than the newest recovered one;
- every acknowledged record older than the fault minus the target present (a gap in the
  middle is a loss however recent the newest recovered record is);
- no canary write refused while the service should have taken it (a write never
  acknowledged is data the users lost too, even if no record shows it);
- after an operator's error, no record written after the error ended: a recovery that went
  past the error has replayed the error too (``operator-error``'s point-in-time recovery).

Missing measurements fail: a service whose RTO or RPO the drill could not measure is not
proven. A file store's RPO is judged only where the drill restored one.

``judge_drill(events) -> DrillVerdict`` is the whole drill's verdict from its journal's typed
events (``events.py``): the targets the start journalled, the measurements, ``judge`` over
them when the mode measures, how the run ended, and whether it passed. The runner asks it
which objectives were missed before it ends the run (``get_end_status``); the summary, and
so the reports, ``egov drill recover`` and the record the exporter publishes
(``results.py``), carry the verdict it gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from egov.drills.events import (
    CanaryEvent,
    EndEvent,
    JournalEvent,
    MeasureEvent,
    StartEvent,
    TextEvent,
)

#: Lost records named in a failure's words (the journal keeps them all).
NAMED_RECORDS = 5


class DrillStatus(StrEnum):
    """How a drill ended."""

    SUCCEEDED = "succeeded"  # every critical step and cleanup succeeded, targets met
    FAILED = "failed"  # a critical step, a cleanup or a target failed; rollbacks ran
    INTERRUPTED = "interrupted"  # the operator stopped it; rollbacks ran
    REFUSED = "refused"  # readiness probes failed: nothing was changed
    UNFINISHED = "unfinished"  # the runner died: `egov drill recover` must run
    RECOVERED = "recovered"  # the runner died and `egov drill recover` finished the rollbacks


@dataclass(frozen=True)
class Targets:
    """One service's targets in seconds: the scenario's overrides, else the inventory's."""

    rto_seconds: float
    rpo_seconds: float
    files_rpo_seconds: float | None = None  # the tightest of its file stores (path, else service)


@dataclass(frozen=True)
class LostRecord:
    """An acknowledged canary record that the recovery site lacks."""

    seq: int
    acknowledged_at: float


@dataclass(frozen=True)
class DataLoss:
    """What the canary's records say about one service's data at the recovery site.

    ``acknowledged`` counts the records acknowledged up to ``cutoff`` (the fault for a test,
    which copies production there; the recovery otherwise). ``newest_acknowledged_at`` and
    ``newest_recovered_at`` are acknowledgement times (None: nothing acknowledged, or none of
    it recovered); ``lost`` lists every acknowledged record the recovery site lacks.
    ``fault_at`` (None: the cutoff) is when the fault struck: every record acknowledged more
    than the RPO target before it must have survived. ``error_ended_at`` (None: no such
    fault) is when an operator's error had surely been committed; ``written_after`` lists
    the recovered records sent after it, which a recovery to just before the error must not
    hold.
    """

    cutoff: float
    acknowledged: int
    newest_acknowledged_at: float | None
    newest_recovered_at: float | None
    lost: tuple[LostRecord, ...] = ()
    fault_at: float | None = None
    error_ended_at: float | None = None
    written_after: tuple[int, ...] = ()

    @property
    def seconds(self) -> float | None:
        """The RPO: newest acknowledged minus newest recovered (None: none recovered)."""
        if self.newest_acknowledged_at is None:
            return 0.0
        if self.newest_recovered_at is None:
            return None
        return round(max(0.0, self.newest_acknowledged_at - self.newest_recovered_at), 3)


@dataclass(frozen=True)
class Measurements:
    """What one drill measured for one service (None: not measured)."""

    rto_seconds: float | None = None
    data_loss: DataLoss | None = None
    failed_writes: int = 0  # canary writes refused while the service should have taken them
    files_rpo_seconds: float | None = None  # age at the fault of the newest snapshot restored


@dataclass(frozen=True)
class ServiceVerdict:
    """One service's verdict, each objective apart, with the words of every failure."""

    service: str
    rto_ok: bool
    rpo_ok: bool
    files_rpo_ok: bool
    problems: tuple[str, ...]
    lost_records: int | None = None  # acknowledged records lost (None: not measured)
    failed_writes: int = 0  # canary writes refused while the service should have taken them

    @property
    def ok(self) -> bool:
        """Every objective met."""
        return self.rto_ok and self.rpo_ok and self.files_rpo_ok


@dataclass(frozen=True)
class Verdict:
    """The whole drill's verdict over its services (in the targets' order)."""

    services: tuple[ServiceVerdict, ...]

    @property
    def ok(self) -> bool:
        """Every service met every objective."""
        return all(service.ok for service in self.services)

    @property
    def problems(self) -> tuple[str, ...]:
        """Every failure, one sentence each, prefixed with its service."""
        return tuple(problem for service in self.services for problem in service.problems)

    def get(self, service: str) -> ServiceVerdict | None:
        """The verdict of ``service`` (None: it had no targets in this drill)."""
        return next((found for found in self.services if found.service == service), None)


def judge(measurements: Mapping[str, Measurements], targets: Mapping[str, Targets]) -> Verdict:
    """Judge each service of ``targets`` by what ``measurements`` holds for it (pure)."""
    return Verdict(
        tuple(
            _judge_service(name, measurements.get(name, Measurements()), target)
            for name, target in targets.items()
        )
    )


def _judge_service(service: str, measured: Measurements, target: Targets) -> ServiceVerdict:
    rto = _judge_rto(measured.rto_seconds, target.rto_seconds)
    rpo = _judge_data_loss(measured.data_loss, target.rpo_seconds)
    if measured.failed_writes:
        rpo.append(
            f"{measured.failed_writes} canary writes refused while the service should have "
            "taken them (never acknowledged: lost to the users)"
        )
    files = _judge_files(measured.files_rpo_seconds, target.files_rpo_seconds)
    return ServiceVerdict(
        service=service,
        rto_ok=not rto,
        rpo_ok=not rpo,
        files_rpo_ok=not files,
        problems=tuple(f"{service}: {problem}" for problem in (*rto, *rpo, *files)),
        lost_records=None if measured.data_loss is None else len(measured.data_loss.lost),
        failed_writes=measured.failed_writes,
    )


def _judge_rto(seconds: float | None, target: float) -> list[str]:
    if seconds is None:
        return ["RTO was not measured (the service never answered at the recovery site)"]
    if seconds > target:
        return [f"RTO {seconds:.1f} s is over the target {target:.0f} s"]
    return []


def _judge_data_loss(loss: DataLoss | None, target: float) -> list[str]:
    if loss is None:
        return ["RPO was not measured (no canary record was read at the recovery site)"]
    if loss.acknowledged == 0:
        return ["RPO was not measured (no canary record was acknowledged before the cutoff)"]
    problems = []
    seconds = loss.seconds
    if seconds is None:
        problems.append(
            f"no acknowledged record recovered: all {loss.acknowledged} lost "
            f"({_name_records(loss.lost)})"
        )
    elif seconds > target:
        problems.append(
            f"RPO {seconds:.1f} s is over the target {target:.0f} s "
            f"({len(loss.lost)} acknowledged records lost: {_name_records(loss.lost)})"
        )
    if loss.written_after:
        problems.append(
            f"{len(loss.written_after)} records written after the error are in the recovered "
            f"copy: it was recovered past the error, so the error is in it too (records "
            f"{_list_seqs(sorted(loss.written_after))})"
        )
    # the newest records may go within the target; anything older must be there, gap or not
    fault_at = loss.cutoff if loss.fault_at is None else loss.fault_at
    older = tuple(lost for lost in loss.lost if lost.acknowledged_at < fault_at - target)
    if older and seconds is not None:
        problems.append(
            f"{len(older)} acknowledged records older than the target ({target:.0f} s before "
            f"the fault) are missing at the recovery site: {_name_records(older)}"
        )
    return problems


def _judge_files(seconds: float | None, target: float | None) -> list[str]:
    if seconds is None or target is None:
        return []  # no file store restored in this drill: nothing to judge
    if seconds > target:
        return [
            f"file-store RPO {seconds:.0f} s is over the target {target:.0f} s (the newest "
            "snapshot restored was that old at the fault)"
        ]
    return []


def _name_records(records: tuple[LostRecord, ...]) -> str:
    """``records 1001, 1002, … 1009 (9)``: the first few by number, and how many."""
    seqs = sorted(record.seq for record in records)
    if not seqs:
        return "none named"
    return f"records {_list_seqs(seqs)} ({len(seqs)})"


def _list_seqs(seqs: list[int]) -> str:
    """``1001, 1002, … 1009``: the first few of sorted ``seqs`` by number, and the last."""
    shown = ", ".join(str(seq) for seq in seqs[:NAMED_RECORDS])
    return shown + (f", … {seqs[-1]}" if len(seqs) > NAMED_RECORDS else "")


@dataclass(frozen=True)
class DrillVerdict:
    """A whole drill judged from its journal: how it ended, what it measured against which
    targets, each service's verdict (none when the mode does not measure), its failures."""

    status: DrillStatus  # UNFINISHED while the journal has no end
    measured: bool
    targets: Mapping[str, Targets] = field(default_factory=dict)
    measurements: Mapping[str, Measurements] = field(default_factory=dict)
    judged: Verdict = Verdict(())
    failures: tuple[str, ...] = ()  # the journal's failure entries, in order

    @property
    def passed(self) -> bool:
        """The drill succeeded and met every objective it measured."""
        return self.status is DrillStatus.SUCCEEDED and self.judged.ok

    @property
    def problems(self) -> tuple[str, ...]:
        """Every objective missed, one sentence each (``judge``'s words)."""
        return self.judged.problems

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why it did not pass: its failures, else the objectives missed, else how it ended
        (a recovered run may have none journalled); () when it passed."""
        if self.passed:
            return ()
        return self.failures or self.problems or (f"the drill ended {self.status.value}",)


def judge_drill(events: Sequence[JournalEvent]) -> DrillVerdict:
    """The verdict of a drill from its journal's ``events`` (pure); ValueError when they do
    not begin with the start, or end with a status no drill writes."""
    start = events[0] if events else None
    if not isinstance(start, StartEvent):
        raise ValueError("a drill journal starts with a 'start' entry")
    targets = read_targets(start)
    measurements = read_measurements(events, targets)
    ends = [event for event in events if isinstance(event, EndEvent)]
    return DrillVerdict(
        status=DrillStatus(ends[-1].status) if ends else DrillStatus.UNFINISHED,
        measured=start.measured,
        targets=targets,
        measurements=measurements,
        judged=judge(measurements, targets) if start.measured else Verdict(()),
        failures=tuple(
            event.text
            for event in events
            if isinstance(event, TextEvent) and event.event == "failure"
        ),
    )


def get_end_status(verdict: DrillVerdict, *, interrupted: bool, failed: bool) -> DrillStatus:
    """How the runner ends a run that got past readiness: ``interrupted`` by the operator,
    ``failed`` (a critical step, a rollback or the readiness after cleanup), or judged by
    ``verdict`` (of the journal so far) on the objectives it measured."""
    if interrupted:
        return DrillStatus.INTERRUPTED
    if failed or verdict.problems:
        return DrillStatus.FAILED
    return DrillStatus.SUCCEEDED


def read_targets(start: StartEvent) -> dict[str, Targets]:
    """The targets the run journalled at its start, by service in its order."""
    return {
        name: Targets(
            rto_seconds=target.rto_seconds,
            rpo_seconds=target.rpo_seconds,
            files_rpo_seconds=target.files_rpo_seconds,
        )
        for name, target in start.targets.items()
    }


def read_measurements(
    events: Sequence[JournalEvent], targets: Mapping[str, Targets]
) -> dict[str, Measurements]:
    """What the journal measured for each service (the targets' first, then any other).

    A journal from before RPO was measured record by record (an ``rpo`` measure without
    ``cutoff``) has no data loss to judge: its RPO counts as not measured.
    """
    metrics: dict[str, dict[str, MeasureEvent]] = {name: {} for name in targets}
    refused: dict[str, int] = {}
    for event in events:
        if isinstance(event, MeasureEvent):
            metrics.setdefault(event.service, {})[event.metric] = event
        elif isinstance(event, CanaryEvent):
            for name, canary in event.services.items():
                metrics.setdefault(name, {})
                refused[name] = canary.refused_writes
    measurements = {}
    for name, found in metrics.items():
        rto, files = found.get("rto"), found.get("files-rpo")
        measurements[name] = Measurements(
            rto_seconds=rto.seconds if rto else None,
            data_loss=_read_data_loss(found.get("rpo")),
            failed_writes=refused.get(name, 0),
            files_rpo_seconds=files.seconds if files else None,
        )
    return measurements


def _read_data_loss(event: MeasureEvent | None) -> DataLoss | None:
    if event is None or event.cutoff is None:
        return None
    return DataLoss(
        cutoff=event.cutoff,
        acknowledged=event.acknowledged,
        newest_acknowledged_at=event.newest_acknowledged_at,
        newest_recovered_at=event.newest_recovered_at,
        lost=tuple(LostRecord(seq, at) for seq, at in event.lost),
        fault_at=event.fault_at,
        error_ended_at=event.error_ended_at,
        written_after=tuple(event.written_after),
    )
