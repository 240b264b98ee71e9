"""The baseline of ``exporter_scrape.py``: a plain prometheus-client exporter of the same series.

Given the same two inputs as egov's exporter (the targets file's content as a dict and the
state directory), it exports the same families with the same label sets and values, the
plainest way: every scrape reads each record file with ``json.loads`` into dicts (no
pydantic model, no cache of unchanged files) and builds ``GaugeMetricFamily`` objects.
``exporter_scrape.py`` checks, at every size, that both exporters' samples are equal.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

NAN = math.nan
Record = dict[str, Any]


def _read(path: Path) -> Record | None:
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _get(record: Record | None, key: str, missing: float = NAN) -> float:
    value = record.get(key) if record else None
    return missing if value is None else float(value)


def _result(record: Record | None) -> float:
    if record is None:
        return NAN
    return 1.0 if record.get("result") == "success" else 0.0


class PlainCollector(Collector):
    """The same families as ``EgovCollector``, computed from raw JSON on every scrape."""

    def __init__(self, targets: Record, state_dir: Path) -> None:
        self.targets = targets
        self.state = state_dir

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        started = time.perf_counter()
        families: dict[str, GaugeMetricFamily] = {}

        def add(name: str, labels: dict[str, str], value: float) -> None:
            if name not in families:
                families[name] = GaugeMetricFamily(name, name, labels=list(labels))
            families[name].add_metric(list(labels.values()), value)

        up = 1.0 if self.state.is_dir() else 0.0
        repositories = self.targets["repositories"]
        catalogs = {
            r["repository"]: _read(self.state / "catalog" / f"{r['repository']}.json")
            for r in repositories
        }

        def newest(catalog: Record | None, dataset: str, host: str) -> float | None:
            snapshot = (catalog or {}).get("latest", {}).get(dataset, {}).get(host)
            return None if snapshot is None else float(snapshot["time"])

        for target in self.targets["datasets"]:
            labels = {"dataset": target["dataset"], "site": target["site"]}
            add("dr_backup_rpo_target_seconds", labels, target["backup_target_seconds"])
            order = target["repositories"]
            first = catalogs.get(order[0]) if order else None
            for repository in order:
                catalog = catalogs.get(repository)
                times = [newest(catalog, target["dataset"], host) for host in target["hosts"]]
                known = [value for value in times if value is not None]
                oldest = min(known) if times and len(known) == len(times) else None
                series = {**labels, "repository": repository}
                add("dr_backup_last_snapshot_timestamp_seconds", series, oldest or 0.0)
                add("dr_backup_snapshot_present", series, 0.0 if oldest is None else 1.0)
                if repository == order[0] and oldest is not None:
                    lag = 0.0
                else:
                    lags = []
                    for host in target["hosts"]:
                        source = newest(first, target["dataset"], host)
                        copy = newest(catalog, target["dataset"], host)
                        if source is None or copy is None:
                            lags = [NAN]
                            break
                        lags.append(max(source - copy, 0.0))
                    lag = max(lags) if lags else NAN
                add("dr_replication_lag_seconds", series, lag)

        for site in self.targets["sites"]:
            if site.get("storage_capacity_bytes") is not None:
                add(
                    "dr_site_storage_capacity_bytes",
                    {"site": site["site"]},
                    site["storage_capacity_bytes"],
                )
        for target in repositories:
            labels = {"repository": target["repository"], "site": target["site"]}
            catalog = catalogs[target["repository"]]
            add("dr_repository_size_bytes", labels, _get(catalog, "size_bytes"))
            add("dr_repository_snapshots", labels, _get(catalog, "snapshot_count"))
            add("dr_catalog_last_success_timestamp_seconds", labels,
                _get(catalog, "last_success_at", 0.0))  # fmt: skip
            add("dr_catalog_last_result", labels, _result(catalog))
            check = _read(self.state / "verify" / f"{target['repository']}.json")
            add("dr_verification_last_run_timestamp_seconds", labels,
                _get(check, "checked_at", 0.0))  # fmt: skip
            add("dr_verification_last_success_timestamp_seconds", labels,
                _get(check, "last_success_at", 0.0))  # fmt: skip
            add("dr_verification_last_result", labels, _result(check))
            coverage = (
                min(check["subset"] / check["subsets"], 1.0) if check and check["subsets"] else 0.0
            )
            add("dr_verification_coverage_ratio", labels, coverage)
            add("dr_verification_last_full_cycle_timestamp_seconds", labels,
                _get(check, "last_full_cycle_at", 0.0))  # fmt: skip

        sites = {r["repository"]: r["site"] for r in repositories}
        pairs = dict.fromkeys(
            (target["dataset"], repository)
            for target in self.targets["datasets"]
            for repository in target["repositories"]
        )
        for dataset, repository in pairs:
            test = _read(self.state / "restore" / f"{dataset}@{repository}.json")
            labels = {"dataset": dataset, "repository": repository, "site": sites[repository]}
            add("dr_restore_test_last_run_timestamp_seconds", labels,
                _get(test, "tested_at", 0.0))  # fmt: skip
            add("dr_restore_test_last_success_timestamp_seconds", labels,
                _get(test, "last_success_at", 0.0))  # fmt: skip
            add("dr_restore_test_last_result", labels, _result(test))
            add("dr_restore_test_duration_seconds", labels, _get(test, "duration_seconds"))

        services = [s["dr_service"] for s in self.targets["services"]]
        for service in self.targets["services"]:
            labels = {"dr_service": service["dr_service"]}
            add("dr_drill_rto_target_seconds", labels, service["rto_seconds"])
            add("dr_drill_rpo_target_seconds", labels, service["rpo_seconds"])
        drills = self.state / "drills"
        present = [path.stem for path in drills.glob("*.json")] if drills.is_dir() else []
        for scenario in dict.fromkeys([*self.targets["scenarios"], *sorted(present)]):
            drill = _read(drills / f"{scenario}.json")
            labels = {"scenario": scenario}
            add("dr_drill_last_run_timestamp_seconds", labels, _get(drill, "finished_at", 0.0))
            add("dr_drill_last_success_timestamp_seconds", labels,
                _get(drill, "last_success_at", 0.0))  # fmt: skip
            add("dr_drill_last_result", labels, _result(drill))
            add("dr_drill_info", {**labels, "mode": drill["mode"] if drill else ""}, 1.0)
            rto = drill.get("rto_seconds", {}) if drill else {}
            rpo = drill.get("rpo_seconds", {}) if drill else {}
            for measured in sorted({*services, *rto}):
                series = {**labels, "dr_service": measured}
                add("dr_drill_last_rto_seconds", series, float(rto.get(measured, NAN)))
                add("dr_drill_last_rpo_seconds", series, float(rpo.get(measured, NAN)))

        add("dr_exporter_up", {}, up)
        add("dr_exporter_scrape_duration_seconds", {}, time.perf_counter() - started)
        return list(families.values())


def make_plain_registry(targets: Record, state_dir: Path) -> CollectorRegistry:
    """A registry holding only the plain collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlainCollector(targets, state_dir))
    return registry
