"""The egov exporter: backup, replication, verification, restore-test and drill state as metrics.

A custom collector builds fresh metric families on every scrape from the records the agents,
the catalog refresh, verification, restore tests and drills keep under the state directory
(``egov.records``). It never runs restic nor lists a repository: catalogs summarise each
repository (newest snapshot per dataset and host), so a scrape costs the same whatever the
number of snapshots.

Every label set the inventory expects is exported on every scrape, known or not: a timestamp
never seen is 0 (so "older than" alerts fire), a result or measurement never seen is NaN (so
"failed" alerts stay silent). Records keep their ``last_success_at`` across failures, and the
collector keeps the last record it could read of each file, so a half-broken state directory
never makes a series vanish. Unchanged files are not parsed again (keyed by inode, size and
mtime).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from egov.monitoring.targets import DatasetTarget, MonitoringTargets
from egov.records import (
    CatalogRecord,
    DrillRecord,
    RecordReader,
    RestoreTestRecord,
    Result,
    VerificationRecord,
)

NAN = math.nan


def _result(result: Result | None) -> float:
    if result is None:
        return NAN
    return 1.0 if result is Result.SUCCESS else 0.0


def _value(value: float | None, missing: float = NAN) -> float:
    return missing if value is None else float(value)


class _Families:
    """Metric families by name, created on first use, in creation order."""

    def __init__(self) -> None:
        self._families: dict[str, GaugeMetricFamily] = {}

    def add(self, name: str, documentation: str, labels: dict[str, str], value: float) -> None:
        family = self._families.get(name)
        if family is None:
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            self._families[name] = family
        family.add_metric(list(labels.values()), value)

    def __iter__(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families.values())


def _newest(catalog: CatalogRecord | None, dataset: str, host: str) -> float | None:
    if catalog is None:
        return None
    snapshot = catalog.latest.get(dataset, {}).get(host)
    return snapshot.time if snapshot is not None else None


def _oldest_of_newest(catalog: CatalogRecord | None, target: DatasetTarget) -> float | None:
    # A site's dataset is as fresh as its stalest host: None when any host has no snapshot.
    times = [_newest(catalog, target.dataset, host) for host in target.hosts]
    if not times or any(value is None for value in times):
        return None
    return min(value for value in times if value is not None)


def _replication_lag(
    first: CatalogRecord | None, here: CatalogRecord | None, target: DatasetTarget
) -> float:
    lags = []
    for host in target.hosts:
        source, copy = _newest(first, target.dataset, host), _newest(here, target.dataset, host)
        if source is None or copy is None:
            return NAN
        lags.append(max(source - copy, 0.0))
    return max(lags) if lags else NAN


class EgovCollector(Collector):
    """The collector behind ``egov monitor exporter``: register it in any CollectorRegistry."""

    def __init__(self, targets: MonitoringTargets, state_dir: Path) -> None:
        self.targets = targets
        self.reader = RecordReader(state_dir)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Describing by collecting would read the state at registration; say nothing instead.
        return []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """Fresh families from the state directory, with the exporter's own up and duration."""
        started = time.perf_counter()
        families = _Families()
        try:
            self.reader.check()
            up = 1.0
        except OSError:
            up = 0.0
        self._collect_backups(families)
        self._collect_repositories(families)
        self._collect_restore_tests(families)
        self._collect_drills(families)
        families.add(
            "dr_exporter_up",
            "1 when the exporter could read its state directory, else 0.",
            {},
            up,
        )
        families.add(
            "dr_exporter_scrape_duration_seconds",
            "Time this scrape took to read the state directory.",
            {},
            time.perf_counter() - started,
        )
        return list(families)

    def _catalogs(self) -> dict[str, CatalogRecord | None]:
        return {
            target.repository: self.reader.read(CatalogRecord, target.repository)
            for target in self.targets.repositories
        }

    def _collect_backups(self, families: _Families) -> None:
        catalogs = self._catalogs()
        for target in self.targets.datasets:
            labels = {"dataset": target.dataset, "site": target.site}
            families.add(
                "dr_backup_rpo_target_seconds",
                "Age the newest snapshot of the dataset may reach (its RPO, bounded by its "
                "schedule).",
                labels,
                target.backup_target_seconds,
            )
            first = catalogs.get(target.repositories[0]) if target.repositories else None
            for repository in target.repositories:
                catalog = catalogs.get(repository)
                series = {**labels, "repository": repository}
                newest = _oldest_of_newest(catalog, target)
                families.add(
                    "dr_backup_last_snapshot_timestamp_seconds",
                    "Time of the newest snapshot of the dataset in the repository, the stalest "
                    "of the site's hosts; 0 when a host has none there.",
                    series,
                    _value(newest, 0.0),
                )
                families.add(
                    "dr_backup_snapshot_present",
                    "1 when every host of the site has a snapshot of the dataset there.",
                    series,
                    0.0 if newest is None else 1.0,
                )
                families.add(
                    "dr_replication_lag_seconds",
                    "Newest snapshot time in the first repository minus the newest here "
                    "(0 for the first itself; NaN when a side has none).",
                    series,
                    0.0
                    if repository == target.repositories[0] and newest is not None
                    else _replication_lag(first, catalog, target),
                )

    def _collect_repositories(self, families: _Families) -> None:
        for site in self.targets.sites:
            if site.storage_capacity_bytes is not None:
                families.add(
                    "dr_site_storage_capacity_bytes",
                    "Storage capacity of the site, from the inventory.",
                    {"site": site.site},
                    site.storage_capacity_bytes,
                )
        catalogs = self._catalogs()
        for target in self.targets.repositories:
            labels = {"repository": target.repository, "site": target.site}
            catalog = catalogs[target.repository]
            families.add(
                "dr_repository_size_bytes",
                "Size of the repository at its last catalog refresh (NaN when unknown).",
                labels,
                _value(catalog.size_bytes if catalog else None),
            )
            families.add(
                "dr_repository_snapshots",
                "Snapshots in the repository at its last catalog refresh.",
                labels,
                _value(catalog.snapshot_count if catalog else None),
            )
            families.add(
                "dr_catalog_last_success_timestamp_seconds",
                "When the repository's catalog was last refreshed successfully (0: never).",
                labels,
                _value(catalog.last_success_at if catalog else None, 0.0),
            )
            families.add(
                "dr_catalog_last_result",
                "1 when the last catalog refresh succeeded, 0 when it failed, NaN: never ran.",
                labels,
                _result(catalog.result if catalog else None),
            )
            verification = self.reader.read(VerificationRecord, target.repository)
            families.add(
                "dr_verification_last_run_timestamp_seconds",
                "When restic check last ran on the repository (0: never).",
                labels,
                _value(verification.checked_at if verification else None, 0.0),
            )
            families.add(
                "dr_verification_last_success_timestamp_seconds",
                "When restic check last passed on the repository (0: never).",
                labels,
                _value(verification.last_success_at if verification else None, 0.0),
            )
            families.add(
                "dr_verification_last_result",
                "1 when the last restic check passed, 0 when it failed, NaN: never ran.",
                labels,
                _result(verification.result if verification else None),
            )
            families.add(
                "dr_verification_coverage_ratio",
                "Share of the repository read in the current verification rotation.",
                labels,
                verification.coverage_ratio if verification else 0.0,
            )
            families.add(
                "dr_verification_last_full_cycle_timestamp_seconds",
                "When a whole read-data rotation last completed without error (0: never).",
                labels,
                _value(verification.last_full_cycle_at if verification else None, 0.0),
            )

    def _collect_restore_tests(self, families: _Families) -> None:
        sites = {target.repository: target.site for target in self.targets.repositories}
        pairs = dict.fromkeys(
            (target.dataset, repository)
            for target in self.targets.datasets
            for repository in target.repositories
        )
        for dataset, repository in pairs:
            record = self.reader.read(RestoreTestRecord, f"{dataset}@{repository}")
            labels = {"dataset": dataset, "repository": repository, "site": sites[repository]}
            families.add(
                "dr_restore_test_last_run_timestamp_seconds",
                "When the dataset was last test-restored from the repository (0: never).",
                labels,
                _value(record.tested_at if record else None, 0.0),
            )
            families.add(
                "dr_restore_test_last_success_timestamp_seconds",
                "When a restore test of the dataset from the repository last passed (0: never).",
                labels,
                _value(record.last_success_at if record else None, 0.0),
            )
            families.add(
                "dr_restore_test_last_result",
                "1 when the last restore test passed, 0 when it failed, NaN: never ran.",
                labels,
                _result(record.result if record else None),
            )
            families.add(
                "dr_restore_test_duration_seconds",
                "How long the last restore test took (NaN: never ran).",
                labels,
                _value(record.duration_seconds if record else None),
            )

    def _collect_drills(self, families: _Families) -> None:
        services = [service.dr_service for service in self.targets.services]
        for service in self.targets.services:
            labels = {"dr_service": service.dr_service}
            families.add(
                "dr_drill_rto_target_seconds",
                "The service's recovery time objective.",
                labels,
                service.rto_seconds,
            )
            families.add(
                "dr_drill_rpo_target_seconds",
                "The service's recovery point objective.",
                labels,
                service.rpo_seconds,
            )
        scenarios = dict.fromkeys([*self.targets.scenarios, *self.reader.keys(DrillRecord)])
        for scenario in scenarios:
            record = self.reader.read(DrillRecord, scenario)
            labels = {"scenario": scenario}
            families.add(
                "dr_drill_last_run_timestamp_seconds",
                "When the drill scenario last finished (0: never).",
                labels,
                _value(record.finished_at if record else None, 0.0),
            )
            families.add(
                "dr_drill_last_success_timestamp_seconds",
                "When the drill scenario last succeeded (0: never).",
                labels,
                _value(record.last_success_at if record else None, 0.0),
            )
            families.add(
                "dr_drill_last_result",
                "1 when the scenario's last run succeeded, 0 when it failed, NaN: never ran.",
                labels,
                _result(record.result if record else None),
            )
            families.add(
                "dr_drill_info",
                "The scenario's last run: its mode.",
                {**labels, "mode": record.mode if record else ""},
                1.0,
            )
            if record and record.journal_closing_hash:
                families.add(
                    "dr_drill_journal_info",
                    "The closing hash and signing key of the scenario's last journal: what "
                    "`egov drill verify` must find at its end.",
                    {
                        **labels,
                        "journal_hash": record.journal_closing_hash,
                        "journal_key": record.journal_key,
                    },
                    1.0,
                )
            measured = sorted({*services, *(record.rto_seconds if record else {})})
            for measured_service in measured:
                series = {**labels, "dr_service": measured_service}
                families.add(
                    "dr_drill_last_rto_seconds",
                    "Recovery time the scenario's last run measured (NaN: not measured).",
                    series,
                    _value(record.rto_seconds.get(measured_service) if record else None),
                )
                families.add(
                    "dr_drill_last_rpo_seconds",
                    "Data loss (as time) the scenario's last run measured (NaN: not measured).",
                    series,
                    _value(record.rpo_seconds.get(measured_service) if record else None),
                )
                families.add(
                    "dr_drill_last_lost_records",
                    "Acknowledged canary records the scenario's last run found missing at the "
                    "recovery site (NaN: not measured).",
                    series,
                    _value(record.lost_records.get(measured_service) if record else None),
                )
                families.add(
                    "dr_drill_last_failed_writes",
                    "Canary writes the scenario's last run saw refused while the service should "
                    "have taken them (NaN: not measured).",
                    series,
                    _value(record.failed_writes.get(measured_service) if record else None),
                )


def make_registry(targets: MonitoringTargets, state_dir: Path) -> CollectorRegistry:
    """A fresh registry holding only the egov collector (no process or platform metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EgovCollector(targets, state_dir))
    return registry


def run_exporter(targets: MonitoringTargets, state_dir: Path, address: str, port: int) -> None:
    """Serve the metrics on ``address:port`` until interrupted; raise OSError if it cannot bind."""
    server, thread = start_http_server(
        port, addr=address, registry=make_registry(targets, state_dir)
    )
    try:
        while thread.is_alive():
            thread.join(timeout=1.0)
    finally:
        server.shutdown()
