"""``egov backup plan``: will the night fit? A pure model of the nightly window.

Given what each dataset holds (size, daily change, file count), how fast restic works and how
wide the links are, predict per site when the night's data arrives, the resulting RPO, and
what ends after the window. The model, deliberately simple:

- Backups start at the window's start; hosts run in parallel, one host's datasets in turn.
  A files dataset costs ``file_count / scan_files_per_second`` (restic stats every file, and
  reads only changed ones) plus ``changed bytes / backup_bytes_per_second``. A database is
  dumped whole every night: ``size / dump_bytes_per_second``.
- Replication starts when the last backup ends, copies only what was added (changed bytes ×
  ``added_ratio`` after deduplication and compression), to each following repository in
  turn, at ``bandwidth × link_efficiency``.
- The RPO at a site is the interval plus the delay until the night's snapshots arrive there.

The defaults are the Cà Mau estate (142.8 TB: a 138 TB file store of ~80 million files, 4.8 TB
of databases) and throughputs measured on the build machine with restic 0.14 (1 GiB of
random data into a local repository: 240 MB/s backup, 460 MB/s restore, ~3,000 unchanged
files/s including start-up); replace them with measurements from the lab or production.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egov.errors import InputError
from egov.inventory.fields import MAX_DURATION, format_duration
from egov.inventory.yamlsource import SourceError, read_yaml

DEFAULT_WINDOW_START = "01:30"


class _Model(BaseModel):
    # NaN and infinity pass every bound (comparisons with NaN are false): refused outright
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatasetAssumption(_Model):
    """One dataset as the model sees it."""

    name: str
    host: str = Field(description="Hosts run in parallel; datasets of one host in turn.")
    kind: str = Field(default="files", pattern="^(files|postgres)$")
    size_bytes: float = Field(ge=0, le=1e18, description="At most 1 EB.")
    daily_change_ratio: float = Field(default=0.005, ge=0, le=1)
    file_count: int = Field(default=0, ge=0, le=10**12)


class Link(_Model):
    """The link from the primary site to one repository's site."""

    repository: str
    site: str
    bandwidth_bits_per_second: float = Field(ge=1e3, le=1e13)


class Assumptions(_Model):
    """Everything the prediction depends on; shown with every plan."""

    window_start: str = Field(default=DEFAULT_WINDOW_START, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    window_hours: float = Field(default=6.0, gt=0, le=24)
    interval_hours: float = Field(default=24.0, ge=1 / 60, le=24 * 366)
    backup_bytes_per_second: float = Field(default=240e6, ge=1e3, le=1e12)
    scan_files_per_second: float = Field(default=3000.0, ge=1, le=1e9)
    dump_bytes_per_second: float = Field(default=150e6, ge=1e3, le=1e12)
    added_ratio: float = Field(
        default=0.6, gt=0, le=1, description="Bytes stored per changed byte after dedup."
    )
    link_efficiency: float = Field(default=0.8, ge=0.01, le=1)
    primary_site: str = "primary"
    datasets: list[DatasetAssumption] = Field(
        default_factory=lambda: [
            DatasetAssumption(
                name="files",
                host="store-01",
                size_bytes=138e12,
                daily_change_ratio=0.003,
                file_count=80_000_000,
            ),
            DatasetAssumption(
                name="databases",
                host="db-01",
                kind="postgres",
                size_bytes=4.8e12,
                daily_change_ratio=0.02,
            ),
            DatasetAssumption(
                name="etc",
                host="each",
                size_bytes=50e6,
                daily_change_ratio=0.01,
                file_count=3000,
            ),
        ]
    )
    links: list[Link] = Field(
        default_factory=lambda: [
            Link(repository="vnpt", site="vnpt", bandwidth_bits_per_second=200e6),
            Link(repository="site2", site="site2", bandwidth_bits_per_second=1e9),
        ]
    )


class Bar(_Model):
    """One job of the night on the time axis (seconds from the window's start)."""

    label: str
    site: str
    start_seconds: float
    end_seconds: float
    bytes: float


class Plan(_Model):
    """The predicted night."""

    assumptions: Assumptions
    bars: list[Bar]
    window_end_seconds: float
    rpo_seconds: dict[str, float] = Field(description="site → predicted worst-case RPO.")
    overruns: list[str] = Field(description="What ends after the window, in words.")

    @property
    def fits(self) -> bool:
        """True when everything ends inside the window."""
        return not self.overruns


def _make_late_text(seconds: float) -> str:
    """``1 day, 2:00:00``; past what a timedelta holds (absurd assumptions), in words."""
    if seconds > MAX_DURATION.total_seconds():
        return f"more than {format_duration(MAX_DURATION)}"
    return str(timedelta(seconds=round(seconds)))


def _dataset_seconds(dataset: DatasetAssumption, assumptions: Assumptions) -> float:
    if dataset.kind == "postgres":
        return dataset.size_bytes / assumptions.dump_bytes_per_second
    changed = dataset.size_bytes * dataset.daily_change_ratio
    return (
        dataset.file_count / assumptions.scan_files_per_second
        + changed / assumptions.backup_bytes_per_second
    )


def _added_bytes(dataset: DatasetAssumption, assumptions: Assumptions) -> float:
    return dataset.size_bytes * dataset.daily_change_ratio * assumptions.added_ratio


def plan_nightly_window(assumptions: Assumptions) -> Plan:
    """Predict the night described by ``assumptions``."""
    bars: list[Bar] = []
    host_free: dict[str, float] = {}
    for dataset in assumptions.datasets:
        start = host_free.get(dataset.host, 0.0)
        end = start + _dataset_seconds(dataset, assumptions)
        host_free[dataset.host] = end
        bars.append(
            Bar(
                label=f"backup {dataset.name} ({dataset.host})",
                site=assumptions.primary_site,
                start_seconds=start,
                end_seconds=end,
                bytes=_added_bytes(dataset, assumptions),
            )
        )
    backups_end = max((bar.end_seconds for bar in bars), default=0.0)
    added = sum(_added_bytes(dataset, assumptions) for dataset in assumptions.datasets)
    interval = assumptions.interval_hours * 3600
    rpo = {assumptions.primary_site: interval + backups_end}
    cursor = backups_end
    for link in assumptions.links:
        seconds = added * 8 / (link.bandwidth_bits_per_second * assumptions.link_efficiency)
        bars.append(
            Bar(
                label=f"copy to {link.repository}",
                site=link.site,
                start_seconds=cursor,
                end_seconds=cursor + seconds,
                bytes=added,
            )
        )
        cursor += seconds
        rpo[link.site] = interval + cursor
    window_end = assumptions.window_hours * 3600
    overruns = [
        f"{bar.label} ends {_make_late_text(bar.end_seconds - window_end)} after the window"
        for bar in bars
        if bar.end_seconds > window_end
    ]
    return Plan(
        assumptions=assumptions,
        bars=bars,
        window_end_seconds=window_end,
        rpo_seconds=rpo,
        overruns=overruns,
    )


def load_assumptions(path: Path) -> Assumptions:
    """Read an assumptions file (YAML or JSON, any subset of the fields).

    Raise InputError as ``file:line:column: message`` when it cannot be read or validated.
    """
    try:
        data, source_map = read_yaml(path)
    except SourceError as error:
        position = error.problem.position
        raise InputError(
            f"{path}:{position.line}:{position.column}: {error.problem.message}",
            error.problem.hint or "fix the file; `egov backup plan --output json` shows the fields",
        ) from None
    try:
        return Assumptions.model_validate(data or {})
    except ValidationError as error:
        detail = error.errors()[0]
        location = tuple(detail["loc"])
        position = source_map.locate(location)
        dotted = ".".join(str(part) for part in location) or "(top)"
        raise InputError(
            f"{path}:{position.line}:{position.column}: {dotted}: {detail['msg']}",
            "`egov backup plan --output json` prints every field with its default",
        ) from None
