"""Benchmark `egov deploy` against the plain pyinfra CLI running the same deploy code.

Run as root with the lab up and deployed once (`make demo`):

    .venv/bin/python bench/deploy.py [--runs 5] [--first]

- No-op re-deploy of the whole lab: median wall time of `egov deploy` and of
  `pyinfra -y egov/deploys/pyinfra_inventory.py egov/deploys/site.py` (same inventory, same
  wheelhouse, same operations) in the same run, the side going first alternating, and their
  ratio. Target: overhead ≤ 10 %.
- `--first`: purge the lab, bring it up fresh and time the first full deploy, printing where
  the time goes (the slowest operations, from the deploy's own report).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventory" / "lab.yaml"
OVERHEAD_TARGET = 1.10


def timed(
    argv: list[str], environment: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=environment, check=False)
    return time.monotonic() - started, result


def egov_deploy(environment: dict[str, str]) -> tuple[float, dict[str, Any]]:
    seconds, result = timed(
        [str(BIN / "egov"), "deploy", "-i", str(INVENTORY), "--output", "json"], environment
    )
    if result.returncode != 0:
        sys.exit(f"egov deploy failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--first", action="store_true", help="also time a first deploy")
    options = parser.parse_args()
    environment = {**os.environ, "EGOV_INVENTORY": str(INVENTORY), "PYINFRA_PROGRESS": "off"}

    if options.first:
        subprocess.run([str(BIN / "egov"), "lab", "down", "--purge"], check=True, env=environment)
        subprocess.run(
            [str(BIN / "egov"), "lab", "up"], check=True, env=environment, stdout=subprocess.DEVNULL
        )
        seconds, report = egov_deploy(environment)
        print(f"first full deploy of {len(report['hosts'])} hosts: {seconds:.1f} s wall")
        print("slowest operations (lockstep: each runs on every host that has it):")
        for item in report["slowest_operations"]:
            print(f"  {item['seconds']:7.1f} s  {item['operation']}")

    sys.path.insert(0, str(ROOT))
    from egov.deploys.wheelhouse import build_wheelhouse

    environment["EGOV_WHEELHOUSE"] = str(build_wheelhouse())
    egov_deploy(environment)  # settle: the runs below must all be no-ops
    egov_times, pyinfra_times = [], []
    pyinfra_argv = [
        str(BIN / "pyinfra"),
        "-y",
        str(ROOT / "egov/deploys/pyinfra_inventory.py"),
        str(ROOT / "egov/deploys/site.py"),
    ]
    for run in range(options.runs):  # the side going first alternates
        for side in ("egov", "pyinfra") if run % 2 == 0 else ("pyinfra", "egov"):
            if side == "egov":
                seconds, report = egov_deploy(environment)
                assert report["changes"] == 0, report["changes"]
                egov_times.append(seconds)
            else:
                seconds, result = timed(pyinfra_argv, environment)
                if result.returncode != 0:
                    sys.exit(f"pyinfra failed: {result.stderr[-2000:]}")
                pyinfra_times.append(seconds)
    egov_median = statistics.median(egov_times)
    pyinfra_median = statistics.median(pyinfra_times)
    ratio = egov_median / pyinfra_median
    print(f"no-op re-deploy of 14 hosts, {options.runs} alternating runs each, medians:")
    for label, median, times in (
        ("egov deploy", egov_median, egov_times),
        ("plain pyinfra", pyinfra_median, pyinfra_times),
    ):
        runs = ", ".join(f"{t:.1f}" for t in times)
        print(f"  {label:<16} {median:6.1f} s   (runs: {runs})")
    verdict = "within" if ratio <= OVERHEAD_TARGET else "OVER"
    print(f"  ratio egov/pyinfra {ratio:.3f} ({verdict} the {OVERHEAD_TARGET:.2f} target)")


if __name__ == "__main__":
    main()
