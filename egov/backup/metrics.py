"""node_exporter textfile metrics of the backups, rebuilt from the records after every run.

Each dataset gets its own file (``egov_backup_<dataset>.prom``) so two datasets finishing at
once never overwrite each other; ``write_to_textfile`` renames a temporary file into place, so
node_exporter never reads half a file. The values come from the ``BackupRecord`` (which keeps
``last_success_at`` across failures), so a failed run never makes a series vanish.
Label names avoid ``type``/``instance``/``job``/``service``, which Prometheus or the scrape
config already use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from egov.records import BackupRecord, Result

LABELS = ("dataset", "host", "site", "repository")


def make_backup_registry(records: Sequence[BackupRecord]) -> CollectorRegistry:
    """A fresh registry holding the backup series of ``records``."""
    registry = CollectorRegistry()
    last_success = Gauge(
        "dr_backup_last_success_timestamp_seconds",
        "End of the last successful backup (epoch seconds).",
        LABELS,
        registry=registry,
    )
    last_run = Gauge(
        "dr_backup_last_run_timestamp_seconds",
        "End of the last backup run, successful or not.",
        LABELS,
        registry=registry,
    )
    result = Gauge(
        "dr_backup_last_result",
        "1 if the last backup succeeded, else 0.",
        LABELS,
        registry=registry,
    )
    duration = Gauge(
        "dr_backup_duration_seconds", "Duration of the last backup run.", LABELS, registry=registry
    )
    added = Gauge(
        "dr_backup_bytes_added",
        "Bytes the last backup added to the repository.",
        LABELS,
        registry=registry,
    )
    for record in records:
        labels = (record.dataset, record.host, record.site, record.repository)
        if record.last_success_at is not None:
            last_success.labels(*labels).set(record.last_success_at)
        last_run.labels(*labels).set(record.finished_at)
        result.labels(*labels).set(1 if record.result is Result.SUCCESS else 0)
        duration.labels(*labels).set(max(record.finished_at - record.started_at, 0.0))
        added.labels(*labels).set(record.bytes_added)
    return registry


def get_textfile_path(directory: Path, dataset: str) -> Path:
    """``<dir>/egov_backup_<dataset>.prom``."""
    return directory / f"egov_backup_{dataset}.prom"


def write_backup_metrics(records: Sequence[BackupRecord], directory: Path, dataset: str) -> Path:
    """Write the series of ``records`` (one dataset) atomically; returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = get_textfile_path(directory, dataset)
    write_to_textfile(str(path), make_backup_registry(records))
    return path
