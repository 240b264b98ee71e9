"""Benchmark: the streamed manifest against the in-memory one it replaced, as files grow.

Generates, once per size, a tree of tiny files (a few bytes each, 1,000 to a directory, as
scanned dossiers sit in folders) in a temporary directory: 20,000, 200,000 and 1,000,000
files by default. Then, per repetition, each side does what the agent and the restore test
do with a manifest, each phase in a process of its own so that its peak RSS (``VmHWM``) is
that side's alone:

- full: the first manifest, every file hashed, written to the side's state file;
- incremental: 1 % of the files got a new mtime since (the same files for both sides), the
  last manifest is read back from the state file, merged with the walk, the changed files
  hashed, the new one written over it: the nightly run;
- verify: the manifest read back from its file and the tree compared with it, every file
  hashed again (``/`` as the restored root: the tree is its own restore): the restore test.

The two sides:

- **old**: the in-memory implementation this one replaced, copied below as it was in
  ``egov/backup/manifest.py`` at commit c7a2832 (a pydantic model per file in a dict, one
  JSON document, ``os.walk``; its exclusion test and file hashing are unchanged, so both
  sides import egov's), with its agent and restore-test glue (``load_manifest``,
  ``serialize_manifest`` + ``save_manifest``; ``model_validate_json`` + ``compare_manifest``);
- **new**: ``egov.backup.manifest`` (``make_manifest`` merging the walk with the state file,
  ``read_manifest`` + ``compare_manifest`` reading it as a stream).

Both children import the same modules (pydantic included, as egov's agent process does), so
the fixed part of their RSS is the same. The side going first alternates per repetition.
Prints per size and phase the medians, the ratio new/old, each side's peak RSS, the manifest
file's bytes per file, and the growth from one size to the next.

    .venv/bin/python bench/manifest_scale.py [--sizes 20000 200000 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from egov.backup.manifest import compare_manifest, get_file_digest, is_excluded, make_manifest
from egov.backup.manifestformat import ManifestHeader, read_manifest

FILES_PER_DIRECTORY = 1000
CHANGED_FRACTION = 0.01
SIDES = ("old", "new")
PHASES = ("full", "incremental", "verify")
DATASET = "bench-files"
HOST = "bench-files-01"


# --- baseline: the in-memory manifest as it was at c7a2832 (egov/backup/manifest.py) ---------
# (``is_excluded`` and ``get_file_digest`` are unchanged since, so both sides import them)


class OldManifestEntry(BaseModel):
    """One regular file: ``[size, mtime_ns, digest]`` would be shorter; names help readers."""

    model_config = ConfigDict(frozen=True)

    size: int
    mtime_ns: int | None = Field(default=None, description="None for a stream (a dump).")
    blake3: str = ""
    sha256: str = Field(default="", description="Entries written before BLAKE3 only.")
    inode: int = 0

    @model_validator(mode="after")
    def _has_a_digest(self) -> OldManifestEntry:
        if not self.blake3 and not self.sha256:
            raise ValueError("a manifest entry needs its blake3 (or an older sha256) digest")
        return self

    def matches(self, path: str | Path) -> bool:
        if self.blake3:
            return get_file_digest(str(path)) == self.blake3
        return get_file_digest(str(path), "sha256") == self.sha256


class OldManifest(BaseModel):
    """Absolute path → entry, for one dataset on one host at one backup."""

    dataset: str
    host: str
    created_at: float
    snapshot_id: str | None = None
    files: dict[str, OldManifestEntry] = Field(default_factory=dict)


def _old_walk(
    roots: Sequence[str], excludes: Sequence[str]
) -> Iterator[tuple[str, os.stat_result]]:
    for root in roots:
        for directory, subdirectories, names in os.walk(root):
            subdirectories[:] = [
                name for name in subdirectories if not is_excluded(f"{directory}/{name}", excludes)
            ]
            for name in names:
                path = f"{directory}/{name}"
                if is_excluded(path, excludes):
                    continue
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    yield path, info


def old_make_manifest(
    dataset: str,
    host: str,
    roots: Sequence[str],
    excludes: Sequence[str],
    created_at: float,
    previous: OldManifest | None = None,
) -> OldManifest:
    known = previous.files if previous is not None else {}
    files: dict[str, OldManifestEntry] = {}
    for path, info in _old_walk(roots, excludes):
        old = known.get(path)
        if (
            old is not None
            and old.size == info.st_size
            and old.mtime_ns == info.st_mtime_ns
            and old.inode == info.st_ino
        ):
            files[path] = old
            continue
        try:
            digest = get_file_digest(path)
        except OSError:
            continue
        files[path] = OldManifestEntry.model_construct(
            size=info.st_size, mtime_ns=info.st_mtime_ns, blake3=digest, inode=info.st_ino
        )
    return OldManifest(dataset=dataset, host=host, created_at=created_at, files=files)


def old_load_manifest(path: Path) -> OldManifest | None:
    try:
        return OldManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def old_save_manifest(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def old_serialize_manifest(manifest: OldManifest) -> str:
    return manifest.model_dump_json(exclude={"snapshot_id"}, exclude_defaults=True)


@dataclass
class OldManifestComparison:
    checked: int = 0
    changed_during_backup: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)


def old_compare_manifest(manifest: OldManifest, restored_root: Path) -> OldManifestComparison:
    comparison = OldManifestComparison()
    for path, entry in sorted(manifest.files.items()):
        restored = restored_root / path.lstrip("/")
        try:
            info = restored.lstat()
        except OSError:
            comparison.missing.append(path)
            continue
        moved = entry.mtime_ns is not None and info.st_mtime_ns // 1000 != entry.mtime_ns // 1000
        if info.st_size != entry.size or moved:
            comparison.changed_during_backup += 1
            continue
        comparison.checked += 1
        if not entry.matches(restored):
            comparison.mismatched.append(path)
    return comparison


# --- end of the baseline ----------------------------------------------------------------------


def run_phase(side: str, phase: str, tree: Path, state: Path) -> dict[str, float]:
    """One side's phase, in this (child) process; what it printed for the parent."""
    roots = [str(tree)]
    started = time.perf_counter()
    if side == "old" and phase in ("full", "incremental"):
        previous = old_load_manifest(state) if phase == "incremental" else None
        made = old_make_manifest(DATASET, HOST, roots, [], time.time(), previous)
        old_save_manifest(old_serialize_manifest(made), state)
        entries = len(made.files)
    elif side == "new" and phase in ("full", "incremental"):
        header = ManifestHeader(DATASET, HOST, time.time())
        entries = make_manifest(state, header, roots, [], state if phase == "incremental" else None)
    elif side == "old":
        manifest = OldManifest.model_validate_json(state.read_text(encoding="utf-8"))
        result = old_compare_manifest(manifest, Path("/"))
        assert not result.missing and not result.mismatched
        entries = result.checked
    else:
        with state.open("rb") as handle:
            comparison = compare_manifest(read_manifest(handle), Path("/"))
        assert comparison.ok, comparison.describe()
        entries = comparison.checked
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_kib": get_peak_rss_kib(), "entries": entries}


def get_peak_rss_kib() -> float:
    """This process's own high-water RSS (``VmHWM``: per address space, reset at exec,
    unlike ``ru_maxrss`` which carries the parent's over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return float("nan")


def make_tree(root: Path, files: int) -> float:
    """``files`` tiny files, ``FILES_PER_DIRECTORY`` to a directory; seconds taken."""
    started = time.perf_counter()
    for index in range(files):
        directory = root / f"d{index // FILES_PER_DIRECTORY:05}"
        if index % FILES_PER_DIRECTORY == 0:
            directory.mkdir(parents=True)
        (directory / f"dossier-{index % FILES_PER_DIRECTORY:04}.pdf").write_bytes(
            f"{index}\n".encode()
        )
    return time.perf_counter() - started


def touch_some(root: Path, files: int, round_number: int) -> None:
    """Give ``CHANGED_FRACTION`` of the files a new mtime (different ones each round)."""
    step = int(1 / CHANGED_FRACTION)
    for index in range(round_number % step, files, step):
        path = (
            root
            / f"d{index // FILES_PER_DIRECTORY:05}"
            / f"dossier-{index % FILES_PER_DIRECTORY:04}.pdf"
        )
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def run_child(side: str, phase: str, tree: Path, state: Path) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", side, phase, str(tree), str(state)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    if completed.returncode != 0:
        raise SystemExit(f"{side} {phase} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@dataclass
class Measured:
    """Per side and phase: seconds and peak RSS (KiB) of each run."""

    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    rss: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    manifest_bytes: dict[str, int] = field(default_factory=dict)

    def add(self, side: str, phase: str, result: dict[str, float]) -> None:
        self.seconds.setdefault((side, phase), []).append(result["seconds"])
        self.rss.setdefault((side, phase), []).append(result["peak_rss_kib"])

    def median_seconds(self, side: str, phase: str) -> float:
        return statistics.median(self.seconds[(side, phase)])

    def peak_rss_mib(self, side: str, phase: str) -> float:
        return max(self.rss[(side, phase)]) / 1024


def measure_size(files: int, repeat: int, directory: Path | None) -> Measured:
    work = Path(tempfile.mkdtemp(prefix=f"egov-bench-manifest-{files}-", dir=directory))
    try:
        tree = work / "tree"
        took = make_tree(tree, files)
        print(f"{files:,} files generated in {took:.1f} s under {tree}", flush=True)
        measured = Measured()
        states = {side: work / f"state-{side}.json" for side in SIDES}
        for round_number in range(repeat):
            order = SIDES if round_number % 2 == 0 else SIDES[::-1]
            for phase in PHASES:
                if phase == "incremental":
                    touch_some(tree, files, round_number)
                for side in order:
                    if phase == "full":
                        states[side].unlink(missing_ok=True)
                    result = run_child(side, phase, tree, states[side])
                    if result["entries"] != files:
                        raise SystemExit(f"{side} {phase}: {result['entries']} entries")
                    measured.add(side, phase, result)
            print(
                f"  round {round_number + 1}/{repeat}: "
                + ", ".join(
                    f"{phase} old {measured.seconds[('old', phase)][-1]:.2f} s "
                    f"new {measured.seconds[('new', phase)][-1]:.2f} s"
                    for phase in PHASES
                ),
                flush=True,
            )
        for side in SIDES:
            measured.manifest_bytes[side] = states[side].stat().st_size
        return measured
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict[int, Measured], repeat: int) -> None:
    print()
    print(f"{repeat} alternating runs per size and phase, medians; peak RSS = the largest VmHWM")
    print()
    print(
        "| files | phase | old | new | new / old | old peak RSS | new peak RSS "
        "| manifest bytes per file old / new |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for files, measured in results.items():
        per_file = " / ".join(f"{measured.manifest_bytes[side] / files:.0f}" for side in SIDES)
        for phase in PHASES:
            old = measured.median_seconds("old", phase)
            new = measured.median_seconds("new", phase)
            print(
                f"| {files:,} | {phase} | {old:.2f} s | {new:.2f} s | {new / old:.2f} "
                f"| {measured.peak_rss_mib('old', phase):.0f} MiB "
                f"| {measured.peak_rss_mib('new', phase):.0f} MiB | {per_file} |"
            )
    sizes = list(results)
    print()
    for smaller, larger in itertools.pairwise(sizes):
        parts = []
        for phase in PHASES:
            for side in SIDES:
                before, after = results[smaller], results[larger]
                time_growth = after.median_seconds(side, phase) / before.median_seconds(side, phase)
                rss_growth = after.peak_rss_mib(side, phase) / before.peak_rss_mib(side, phase)
                parts.append(f"{side} {phase} time ×{time_growth:.2f} RSS ×{rss_growth:.2f}")
        print(f"growth {smaller:,} → {larger:,} files: " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--directory", type=Path, default=None, help="where to make the trees")
    parser.add_argument("--child", nargs=4, metavar=("SIDE", "PHASE", "TREE", "STATE"))
    arguments = parser.parse_args()
    if arguments.child:
        side, phase, tree, state = arguments.child
        print(json.dumps(run_phase(side, phase, Path(tree), Path(state))))
        return
    results = {}
    for files in arguments.sizes:
        results[files] = measure_size(files, arguments.repeat, arguments.directory)
    report(results, arguments.repeat)


if __name__ == "__main__":
    main()
