"""Benchmark ``egov backup status`` against the same answer computed straight from restic.

    .venv/bin/python bench/backup_status.py [--repeat 7] [--sizes 100,1000,10000]

State, per size: three real restic repositories (primary, vnpt, site2) holding 100, 1,000
and 10,000 snapshots of the bench estate (the lab's inventory with 20 datasets; see
``restic_state.py`` for how they are generated and cached), and the catalogs egov's own
``refresh_catalog`` writes from them, as the replication job does. No backup,
verification or restore-test record is written: those columns stay empty on both sides.

Same work: both sides answer, for each of the 60 dataset × repository rows, how many of the
dataset's hosts have a snapshot there, the newest snapshot, the stalest host's newest
snapshot and whether the dataset is fresh against its target. egov reads its catalogs
(``egov backup status -o json``, a new process as a user runs it); the baseline
(``plain_status.py``, a new process of the same interpreter) lists the three repositories
with ``restic snapshots --json``, as a script without egov's records must. The bench checks
that the two answers agree at every size, and alternates which side goes first.

Also printed: egov's catalog refresh of the three repositories, the listing it pays once
per replication (and ``restic stats`` for the size) instead of on every call.
Target: status ≤ 1 s at 1,000 snapshots.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from restic_state import (
    SIZES,
    SiteRepositories,
    get_repository,
    load_bench_estate,
    make_pairs,
    make_site_repositories,
    refresh_catalogs,
)

from egov.inventory.derive import get_backup_target, get_dataset_hosts, get_repository_order
from egov.inventory.model import Estate

TARGET_SECONDS = 1.0
DATASET_ROWS = 60  # 20 datasets × 3 repositories
COMPARED = ("hosts_present", "last_snapshot_at", "oldest_host_snapshot_at", "fresh")


def make_plan(estate: Estate, repositories: SiteRepositories, home: Path) -> dict[str, Any]:
    """The baseline's configuration: where the repositories are, and each row's hosts and
    freshness limit (the dataset's target, from the inventory as egov reads it)."""
    rows = []
    for name, dataset in estate.backup.datasets.items():
        target = get_backup_target(estate, name).target
        hosts = [ref.qualified_name for ref in get_dataset_hosts(estate, name)]
        for repository in get_repository_order(estate, dataset) if hosts else ():
            rows.append(
                {
                    "dataset": name,
                    "repository": repository,
                    "hosts": hosts,
                    "fresh_within_seconds": target.total_seconds(),
                }
            )
    return {
        "repositories": {
            name: {"environment": repositories.environment(name, home)}
            for name in repositories.configs
        },
        "rows": rows,
    }


def compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], size: int) -> None:
    """Exit when the two answers differ in a compared column (times to the millisecond)."""

    def key(row: dict[str, Any]) -> tuple[str, str]:
        return row["dataset"], row["repository"]

    mine = {key(row): row for row in ours}
    plain = {key(row): row for row in theirs}
    if set(mine) != set(plain):
        raise SystemExit(f"at {size}: rows differ: {sorted(set(mine) ^ set(plain))[:5]}")
    for row_key, row in mine.items():
        for column in COMPARED:
            a, b = row[column], plain[row_key][column]
            same = (a is None and b is None) or (
                a is not None and b is not None and abs(float(a) - float(b)) < 1e-3
            )
            if not same:
                raise SystemExit(f"at {size}: {row_key} {column}: egov {a}, plain {b}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each side")
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES))
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    # the console script of this interpreter's environment, as a user runs it
    egov = Path(sys.executable).parent / "egov"
    plain_script = Path(__file__).with_name("plain_status.py")
    # the egov of this checkout, whichever the environment has installed
    root = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "PYTHONPATH": str(root)}
    results = []
    with tempfile.TemporaryDirectory(prefix="egov-bench-") as scratch:
        directory = Path(scratch)
        inventory, estate = load_bench_estate(directory)
        pairs = make_pairs(estate)
        for size in sizes:
            generated = get_repository(size, pairs)
            where = directory / f"size-{size}"
            repositories = make_site_repositories(estate, generated, where)
            state = where / "state"
            _, refresh_seconds = refresh_catalogs(repositories, state, where / "cache")
            plan = where / "plan.json"
            plan.write_text(json.dumps(make_plan(estate, repositories, where)), encoding="utf-8")
            sides = {
                "egov": [str(egov), "backup", "status", "-i", str(inventory),
                         "--state-dir", str(state), "-o", "json"],
                "plain": [sys.executable, str(plain_script), str(plan)],
            }  # fmt: skip
            timings: dict[str, list[float]] = {name: [] for name in sides}
            for run in range(arguments.repeat):
                answers = {}
                for name in list(sides) if run % 2 == 0 else reversed(list(sides)):
                    started = time.monotonic()
                    shown = subprocess.run(
                        sides[name], check=True, capture_output=True, text=True, env=environment
                    )
                    timings[name].append(time.monotonic() - started)
                    answers[name] = json.loads(shown.stdout)
                if len(answers["egov"]) != DATASET_ROWS:
                    raise SystemExit(
                        f"status printed {len(answers['egov'])} rows, not {DATASET_ROWS}"
                    )
                compare(answers["egov"], answers["plain"], size)
            medians = {name: statistics.median(values) for name, values in timings.items()}
            results.append((size, generated, refresh_seconds, medians))
    print(
        f"{len(estate.backup.repositories)} repositories × {len(estate.backup.datasets)} "
        f"datasets ({DATASET_ROWS} rows); {arguments.repeat} alternating runs per size, medians"
    )
    print()
    print("| snapshots per repository | `egov backup status` | plain script over restic "
          "| ratio | catalog refresh (once per replication) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|")
    for size, _, refresh_seconds, medians in results:
        print(
            f"| {size:,} | {medians['egov']:.3f} s | {medians['plain']:.3f} s "
            f"| {medians['egov'] / medians['plain']:.2f} | {refresh_seconds:.2f} s |"
        )
    print()
    for (small, _, small_refresh, small_medians), (
        large, _, large_refresh, large_medians
    ) in itertools.pairwise(results):  # fmt: skip
        print(
            f"growth {small:,} → {large:,} snapshots: egov ×"
            f"{large_medians['egov'] / small_medians['egov']:.2f}, plain ×"
            f"{large_medians['plain'] / small_medians['plain']:.2f}, catalog refresh ×"
            f"{large_refresh / small_refresh:.2f}"
        )
    verdict = 0
    for size, _, _, medians in results:
        if size == 1_000:
            met = medians["egov"] <= TARGET_SECONDS
            verdict = 0 if met else 1
            print(
                f"target: status ≤ {TARGET_SECONDS:.0f} s at 1,000 snapshots: "
                f"{medians['egov']:.3f} s, " + ("met" if met else "MISSED")
            )
    return verdict


if __name__ == "__main__":
    sys.exit(main())
