"""Benchmark the lab lifecycle: up (cold and warm), idle memory, down; optionally first build.

Run as root with the lab down:  .venv/bin/python bench/lab_up.py [--runs 3] [--first-build]

Targets (issue 3): 14 hosts up and answering SSH ≤ 60 s from the cached image, down ≤ 20 s,
idle memory ≤ 2 GiB, first build (image + apt repository) ≤ 8 min. Figures are printed with
their ratio to the target (< 1.0 is within target). ``--first-build`` builds the image into a
temporary cache (the real cache is left alone) to time a build from nothing.

Baseline, same work: ``bare_lab.py`` boots the same 14 hosts from the same disks with plain
commands (bridges, the same nftables ruleset, loop and overlay mounts, ``systemd-nspawn``
with the same flags, waiting for every SSH banner) and takes them down again. After egov's
first ``up`` (which makes the disks) and ``down``, ``--runs`` rounds each time an egov
``up``/``down`` and a bare one on the existing disks, the side going first alternating;
medians and the ratios egov / bare are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from egov.lab import check_host_prerequisites, image_build, lab_down, lab_status, lab_up
from egov.lab.paths import CGROUP_ROOTS
from egov.lab.state import load_state
from tests.lab.topology import make_lab_spec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bare_lab import bare_down, bare_up

UP_TARGET_SECONDS = 60
DOWN_TARGET_SECONDS = 20
MEMORY_TARGET_BYTES = 2 * 1024**3
BUILD_TARGET_SECONDS = 8 * 60
IDLE_SECONDS = 20


def used_memory_bytes() -> int:
    """Return MemTotal - MemAvailable (what the machine cannot give to a new process)."""
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, value = line.split(":", 1)
        info[key] = int(value.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


def lab_pss_bytes() -> int:
    """Return the summed PSS of every process in the lab's cgroups."""
    pids: set[int] = set()
    for root in CGROUP_ROOTS:
        for procs in root.rglob("cgroup.procs") if root.is_dir() else ():
            pids.update(int(p) for p in procs.read_text().split())
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def report(name: str, value: float, target: float, unit: str) -> None:
    ratio = value / target
    print(f"{name:<44} {value:10.1f} {unit:<4} target {target:8.0f} {unit:<4} ratio {ratio:5.2f}")


def bench_first_build() -> None:
    cache = tempfile.mkdtemp(prefix="egov-lab-bench-cache-")
    os.environ["EGOV_LAB_CACHE"] = cache
    try:
        started = time.monotonic()
        image_build()
        report(
            "first build (debootstrap + apt repository)",
            time.monotonic() - started,
            BUILD_TARGET_SECONDS,
            "s",
        )
    finally:
        shutil.rmtree(cache)
        del os.environ["EGOV_LAB_CACHE"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--first-build", action="store_true", help="also time an image build from nothing"
    )
    parser.add_argument("--runs", type=int, default=3, help="alternating egov/bare rounds")
    arguments = parser.parse_args()
    check_host_prerequisites()
    spec = make_lab_spec()
    if load_state(spec.name) is not None:
        sys.exit("the lab is up: run `egov lab down` first")
    if arguments.first_build:
        bench_first_build()
    image_build()
    baseline = used_memory_bytes()

    started = time.monotonic()
    lab_up(spec)
    report(
        "up, 14 hosts, new disks, SSH answering", time.monotonic() - started, UP_TARGET_SECONDS, "s"
    )
    started = time.monotonic()
    status = lab_status(spec)
    elapsed = time.monotonic() - started
    print(f"{'status with 14 SSH logins':<44} {elapsed:10.1f} s    all ok: {status.is_up}")
    time.sleep(IDLE_SECONDS)
    mib = 1024**2
    report(
        f"idle memory after {IDLE_SECONDS} s (used delta)",
        (used_memory_bytes() - baseline) / mib,
        MEMORY_TARGET_BYTES / mib,
        "MiB",
    )
    report(
        "idle memory (PSS of lab processes)",
        lab_pss_bytes() / mib,
        MEMORY_TARGET_BYTES / mib,
        "MiB",
    )

    started = time.monotonic()
    lab_down(spec)
    report("down (disks kept)", time.monotonic() - started, DOWN_TARGET_SECONDS, "s")

    image = image_build()
    timings: dict[str, list[float]] = {
        "egov up": [],
        "egov down": [],
        "bare up": [],
        "bare down": [],
    }
    for run in range(arguments.runs):
        for side in ("egov", "bare") if run % 2 == 0 else ("bare", "egov"):
            started = time.monotonic()
            if side == "egov":
                lab_up(spec)
                timings["egov up"].append(time.monotonic() - started)
                started = time.monotonic()
                lab_down(spec)
            else:
                bare = bare_up(spec, image)
                timings["bare up"].append(time.monotonic() - started)
                started = time.monotonic()
                bare_down(bare)
            timings[f"{side} down"].append(time.monotonic() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    print(f"existing disks, {arguments.runs} alternating rounds, medians (runs in brackets):")
    for name, values in timings.items():
        runs = ", ".join(f"{value:.1f}" for value in values)
        print(f"  {name:<10} {medians[name]:6.1f} s  ({runs})")
    for phase in ("up", "down"):
        ratio = medians[f"egov {phase}"] / medians[f"bare {phase}"]
        print(f"  ratio egov / bare, {phase}: {ratio:.2f}")
    report(
        "up again, existing disks (egov median)",
        medians["egov up"],
        UP_TARGET_SECONDS,
        "s",
    )
    lab_up(spec)
    started = time.monotonic()
    lab_down(spec, purge=True)
    report("down --purge", time.monotonic() - started, DOWN_TARGET_SECONDS, "s")


if __name__ == "__main__":
    main()
