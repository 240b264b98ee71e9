"""Benchmark: ``egov backup status`` (records only) vs listing the repositories with restic.

Generates the state of 3 sites × 20 datasets × N snapshots per repository in a temporary
directory: an inventory (the lab's, with 20 datasets), catalog, backup and verification
records as the jobs write them, and — for the baseline — one local restic repository with
N tiny snapshots (``--stdin``), copied to make three. Then it times ``egov backup status``
(a fresh process, as a user runs it) against ``restic snapshots --json`` on the three
repositories, and prints both and the ratio. Target: status ≤ 1 s.

    .venv/bin/python bench/backup_status.py --snapshots 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from egov.inventory import load_estate
from egov.records import (
    BackupRecord,
    CatalogRecord,
    LatestSnapshot,
    Result,
    VerificationRecord,
    write_record,
)

ROOT = Path(__file__).resolve().parents[1]
DATASETS = 20


def make_inventory(directory: Path) -> Path:
    data = yaml.safe_load((ROOT / "inventory" / "lab.yaml").read_text())
    datasets = data["backup"]["datasets"]
    for index in range(DATASETS - len(datasets)):
        datasets[f"extra-{index:02d}"] = {
            "kind": "files",
            "hosts": ["*"],
            "paths": [f"/srv/{index}"],
        }
    path = directory / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def make_records(inventory: Path, state: Path, snapshots: int) -> None:
    estate = load_estate(inventory).estate
    now = time.time()
    hosts = [ref.qualified_name for ref in estate.iter_hosts()]
    for name, repository in estate.backup.repositories.items():
        latest = {
            dataset: {host: LatestSnapshot(id="ab" * 32, time=now - 3600) for host in hosts}
            for dataset in estate.backup.datasets
        }
        write_record(
            CatalogRecord(
                repository=name, site=repository.site, refreshed_at=now, result=Result.SUCCESS,
                snapshot_count=snapshots * DATASETS, size_bytes=10**12, latest=latest,
                last_success_at=now,
            ),
            state,
        )  # fmt: skip
        write_record(
            VerificationRecord(
                repository=name, site=repository.site, checked_at=now, result=Result.SUCCESS,
                subset=1, subsets=estate.backup.verify_days, last_success_at=now,
            ),
            state,
        )  # fmt: skip
    for dataset in estate.backup.datasets:
        for host in hosts:
            write_record(
                BackupRecord(
                    dataset=dataset, host=host, site=host.split("-")[0], repository="primary",
                    started_at=now - 3700, finished_at=now - 3600, result=Result.SUCCESS,
                    last_success_at=now - 3600,
                ),
                state,
            )  # fmt: skip


def make_repositories(directory: Path, snapshots: int) -> tuple[list[Path], dict[str, str]]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(directory),
        "RESTIC_PASSWORD": "bench",
        "RESTIC_CACHE_DIR": str(directory / "cache"),
    }
    first = directory / "repo-0"
    subprocess.run(["restic", "-r", str(first), "init", "-q"], env=environment, check=True)

    def one(index: int) -> None:
        subprocess.run(
            ["restic", "-r", str(first), "backup", "-q", "--stdin", "--stdin-filename",
             f"d{index % DATASETS}", "--tag", f"dataset:d{index % DATASETS}", "--host", "h"],
            input=str(index).encode(), env=environment, check=True,
        )  # fmt: skip

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(one, range(snapshots)))
    print(f"built a repository of {snapshots} snapshots in {time.monotonic() - started:.0f} s")
    repositories = [first]
    for index in (1, 2):
        copy = directory / f"repo-{index}"
        shutil.copytree(first, copy)
        repositories.append(copy)
    return repositories, environment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=1000, help="per repository")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each side")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="egov-bench-") as scratch:
        directory = Path(scratch)
        inventory = make_inventory(directory)
        state = directory / "state"
        make_records(inventory, state, arguments.snapshots)
        # the console script of this interpreter's environment, as a user runs it
        egov = Path(sys.executable).parent / "egov"
        command = [str(egov), "backup", "status", "-i", str(inventory), "--state-dir", str(state),
                   "-o", "json"]  # fmt: skip
        timings = []
        for _ in range(arguments.repeat):
            started = time.monotonic()
            shown = subprocess.run(command, check=True, capture_output=True, text=True)
            timings.append(time.monotonic() - started)
            rows = json.loads(shown.stdout)
            if (
                len(rows) != DATASETS * 3
            ):  # every dataset at every repository, or it measured nothing
                raise SystemExit(f"status printed {len(rows)} rows, not {DATASETS * 3}")
        status_seconds = statistics.median(timings)
        repositories, environment = make_repositories(directory, arguments.snapshots)
        baselines = []
        for _ in range(arguments.repeat):
            started = time.monotonic()
            for repository in repositories:
                subprocess.run(
                    ["restic", "-r", str(repository), "snapshots", "--json", "--no-lock"],
                    env=environment, check=True, stdout=subprocess.DEVNULL,
                )  # fmt: skip
            baselines.append(time.monotonic() - started)
        baseline_seconds = statistics.median(baselines)
    print(f"3 sites × {DATASETS} datasets × {arguments.snapshots} snapshots per repository")
    print(f"egov backup status (records):       {status_seconds:.3f} s (median, new process)")
    print(f"restic snapshots --json × 3 (local): {baseline_seconds:.3f} s (median)")
    print(f"ratio status / baseline: {status_seconds / baseline_seconds:.2f}; target ≤ 1 s: "
          + ("met" if status_seconds <= 1.0 else "NOT met"))  # fmt: skip
    return 0 if status_seconds <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
