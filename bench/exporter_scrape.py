"""Benchmark one scrape of the egov exporter against a plain exporter of the same series.

Run:  .venv/bin/python bench/exporter_scrape.py [--runs 31] [--sizes 100,1000,10000]

State, per size: three real restic repositories (primary, vnpt, site2) holding 100, 1,000
and 10,000 snapshots of the bench estate (the lab's inventory with 20 datasets, 254
dataset × host pairs; see ``restic_state.py`` for how they are generated and cached), and
the state directory egov's own ``refresh_catalog`` writes from them, as the replication job
does. No verification, restore-test or drill record is written (none depends on the
number of snapshots); both exporters export those series as "never ran".

Same work: the baseline (``plain_exporter.py``) is a plain prometheus-client collector that
reads the same targets and the same state directory on every scrape and exports the same
families, label sets and values; the bench checks that the two scrapes' samples are equal
(all but the scrape's own duration) at every size before timing. Each timed pair scrapes
both through ``generate_latest`` in the same process, the side going first alternating.
"egov warm" is egov's collector as the running exporter keeps it (unchanged files are not
parsed again); "egov cold" is a new collector per scrape (every file parsed).

Also printed, not part of the ratio: the catalog refresh of the three repositories (two
restic processes each, ``snapshots`` and ``stats``): the listing egov pays once per
replication so that no scrape lists. Target: egov cold scrape median ≤ 50 ms at 1,000.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from plain_exporter import make_plain_registry
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from restic_state import (
    SIZES,
    get_repository,
    load_bench_estate,
    make_pairs,
    make_site_repositories,
    refresh_catalogs,
)

from egov.monitoring.exporter import make_registry
from egov.monitoring.targets import make_targets

TARGET_SECONDS = 0.050
OWN_DURATION = "dr_exporter_scrape_duration_seconds"


def make_samples(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...], str]]:
    """(name, labels, value) of every sample but the scrape's own duration."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items())),
         "NaN" if math.isnan(sample.value) else repr(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name != OWN_DURATION
    }  # fmt: skip


def time_pairs(sides: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Seconds of each side over ``runs`` rounds, the first side alternating."""
    names = list(sides)
    timings: dict[str, list[float]] = {name: [] for name in names}
    for run in range(runs):
        for name in names if run % 2 == 0 else reversed(names):
            started = time.perf_counter()
            sides[name]()
            timings[name].append(time.perf_counter() - started)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31, help="timed rounds per size")
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES))
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="egov-bench-") as scratch:
        directory = Path(scratch)
        _, estate = load_bench_estate(directory)
        targets = make_targets(estate)
        plain_targets = targets.model_dump(mode="json")
        pairs = make_pairs(estate)
        print(
            f"{len(estate.backup.repositories)} repositories × {len(estate.backup.datasets)} "
            f"datasets ({len(pairs)} dataset × host pairs); {arguments.runs} alternating "
            "rounds per size, medians"
        )
        rows = []
        for size in sizes:
            generated = get_repository(size, pairs)
            where = directory / f"size-{size}"
            repositories = make_site_repositories(estate, generated, where)
            state = where / "state"
            catalogs, refresh_seconds = refresh_catalogs(repositories, state, where / "cache")
            listed = {catalog.snapshot_count for catalog in catalogs}
            if listed != {size}:
                raise SystemExit(f"the catalogs count {listed} snapshots, not {size}")
            state_bytes = sum(path.stat().st_size for path in state.rglob("*.json"))
            warm = make_registry(targets, state)
            plain = make_plain_registry(plain_targets, state)
            ours, theirs = make_samples(warm), make_samples(plain)
            if ours != theirs:
                raise SystemExit(f"at {size}: the exporters differ: {sorted(ours ^ theirs)[:5]} …")
            timings = time_pairs(
                {
                    "egov warm": lambda: generate_latest(warm),  # noqa: B023
                    "egov cold": lambda: generate_latest(make_registry(targets, state)),  # noqa: B023
                    "plain": lambda: generate_latest(plain),  # noqa: B023
                },
                arguments.runs,
            )
            medians = {name: statistics.median(values) for name, values in timings.items()}
            rows.append((size, generated, state_bytes, len(ours) + 1, medians, refresh_seconds))
    print()
    print(
        "| snapshots per repository | generated in | catalog refresh, 3 repositories | state "
        "| samples | egov warm | egov cold | plain exporter | warm / plain | cold / plain |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, generated, state_bytes, samples, medians, refresh_seconds in rows:
        origin = "cached" if generated.cached else "now"
        print(
            f"| {size:,} | {generated.seconds:.0f} s ({origin}) | {refresh_seconds:.2f} s "
            f"| {state_bytes / 1024:.0f} KiB | {samples:,} "
            f"| {medians['egov warm'] * 1000:.1f} ms | {medians['egov cold'] * 1000:.1f} ms "
            f"| {medians['plain'] * 1000:.1f} ms "
            f"| {medians['egov warm'] / medians['plain']:.2f} "
            f"| {medians['egov cold'] / medians['plain']:.2f} |"
        )
    print()
    for (small, _, small_bytes, _, small_medians, small_refresh), (
        large,
        _,
        large_bytes,
        _,
        large_medians,
        large_refresh,
    ) in itertools.pairwise(rows):
        growth = ", ".join(
            f"{name} ×{large_medians[name] / small_medians[name]:.2f}" for name in small_medians
        )
        print(
            f"growth {small:,} → {large:,} snapshots: state ×{large_bytes / small_bytes:.2f}, "
            f"{growth}, catalog refresh ×{large_refresh / small_refresh:.2f}"
        )
    verdict = 0
    for size, _, _, _, medians, _ in rows:
        if size == 1_000:
            met = medians["egov cold"] <= TARGET_SECONDS
            verdict = 0 if met else 1
            print(
                f"target: egov cold scrape ≤ {TARGET_SECONDS * 1000:.0f} ms at 1,000 snapshots: "
                f"{medians['egov cold'] * 1000:.1f} ms, " + ("met" if met else "MISSED")
            )
    return verdict


if __name__ == "__main__":
    sys.exit(main())
