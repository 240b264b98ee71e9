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
  acknowledged is data the users lost too, even if no record shows it).

Missing measurements fail: a service whose RTO or RPO the drill could not measure is not
proven. A file store's RPO is judged only where the drill restored one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Lost records named in a failure's words (the journal keeps them all).
NAMED_RECORDS = 5


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
    than the RPO target before it must have survived.
    """

    cutoff: float
    acknowledged: int
    newest_acknowledged_at: float | None
    newest_recovered_at: float | None
    lost: tuple[LostRecord, ...] = ()
    fault_at: float | None = None

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
    shown = ", ".join(str(seq) for seq in seqs[:NAMED_RECORDS])
    more = f", … {seqs[-1]}" if len(seqs) > NAMED_RECORDS else ""
    return f"records {shown}{more} ({len(seqs)})"
