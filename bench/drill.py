"""Benchmark the loss-of-primary-site drill on the lab against its targets and a bare failover.

Run as root with the lab up and deployed, backups replicated (`make demo`):

    .venv/bin/python bench/drill.py [--runs 3]

Each run, alternating which goes first:
- egov: `egov drill run loss-of-primary-site --mode failover`, then `--mode failback`; the
  RTO and RPO it measured per service (RTO from the fault to the health check passing at
  site 2; RPO between the last acknowledged canary record and the last recovered one) and
  the file stores' RPO (the age of the restored snapshot at the fault).
- bare: the least a sysadmin can do by hand: power off the primary site, `SELECT
  pg_promote()` on site 2's replica over SSH, poll the health checks until they pass. No
  readiness gate, no canary, no journal, no files; then the same failback by egov, so the
  next run starts from a whole lab.

Prints the medians, the ratio of egov's RTO to the bare one, and each against the targets:
RTO ≤ 180 s per service, database RPO ≤ 5 s, file-store RPO no worse than the age of the
latest replicated snapshot.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventory" / "lab.yaml"
SERVICES = ("portal", "motcua")
SITE2_APP = "10.213.3.10"
RTO_TARGET = 180.0
RPO_TARGET = 5.0


def egov(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "egov"), *arguments, "-i", str(INVENTORY)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def drill(directory: Path, mode: str) -> dict:
    result = egov(
        "drill", "run", "loss-of-primary-site", "--mode", mode, "--confirm", "--reason",
        "bench/drill.py", "--drill-dir", str(directory), "-o", "json",
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"the {mode} drill failed ({result.returncode}): {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def healthy(service: str) -> bool:
    try:
        url = f"http://{SITE2_APP}/{service}/health"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def bare_failover() -> dict[str, float]:
    """Power off, promote over SSH, poll health: seconds from the fault per service."""
    started = time.monotonic()
    subprocess.run(
        [str(BIN / "egov"), "lab", "fault", "power-off", "primary", "-i", str(INVENTORY)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(BIN / "egov"), "lab", "exec", "-i", str(INVENTORY), "site2-db-01", "--",
         "runuser", "-u", "postgres", "--", "psql", "-XtAc", "SELECT pg_promote(true, 60)"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    seconds: dict[str, float] = {}
    while len(seconds) < len(SERVICES) and time.monotonic() - started < 600:
        for service in SERVICES:
            if service not in seconds and healthy(service):
                seconds[service] = time.monotonic() - started
        time.sleep(0.2)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="egov-bench-drill-"))
    rto: dict[str, list[float]] = {s: [] for s in SERVICES}
    rpo: dict[str, list[float]] = {s: [] for s in SERVICES}
    files: dict[str, list[float]] = {s: [] for s in SERVICES}
    bare: dict[str, list[float]] = {s: [] for s in SERVICES}
    walls: list[float] = []
    for run in range(options.runs):
        order = ("egov", "bare") if run % 2 == 0 else ("bare", "egov")
        for side in order:
            if side == "egov":
                started = time.monotonic()
                report = drill(directory, "failover")
                walls.append(time.monotonic() - started)
                for service in report["services"]:
                    rto[service["service"]].append(service["rto_seconds"])
                    rpo[service["service"]].append(service["rpo_seconds"])
                    files[service["service"]].append(service["files_rpo_seconds"])
            else:
                for service, seconds in bare_failover().items():
                    bare[service].append(seconds)
            drill(directory, "failback")
        print(f"run {run + 1}/{options.runs} done", file=sys.stderr)
    print(f"loss-of-primary-site on the lab, {options.runs} runs, medians")
    print(f"{'service':10} {'egov RTO':>9} {'bare RTO':>9} {'ratio':>6} {'DB RPO':>7} "
          f"{'files RPO':>9}  verdict")  # fmt: skip
    ok = True
    for service in SERVICES:
        egov_rto = statistics.median(rto[service])
        bare_rto = statistics.median(bare[service]) if bare[service] else float("nan")
        db_rpo = statistics.median(rpo[service])
        files_rpo = statistics.median(files[service])
        passed = egov_rto <= RTO_TARGET and db_rpo <= RPO_TARGET
        ok = ok and passed
        print(
            f"{service:10} {egov_rto:8.1f}s {bare_rto:8.1f}s {egov_rto / bare_rto:6.2f} "
            f"{db_rpo:6.2f}s {files_rpo:8.0f}s  {'PASS' if passed else 'FAIL'} "
            f"(RTO ≤ {RTO_TARGET:.0f} s, RPO ≤ {RPO_TARGET:.0f} s)"
        )
    print(f"whole failover drill (readiness, canary, journal, reports): "
          f"{statistics.median(walls):.1f}s median wall time")  # fmt: skip
    print("files RPO is the restored snapshot's age at the fault: never worse than the age "
          "of the latest replicated snapshot by construction")  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
