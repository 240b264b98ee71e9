"""Benchmark: egov's backup and verified restore vs bare restic, at growing numbers of files.

For each size (20,000, 200,000 and 1,000,000 files by default) the bench generates, once, a
tree of small incompressible files (log-normal sizes, 4 KiB mean, so 80 MiB, 800 MiB and
3.9 GiB: small files, as scanned dossiers are; each file a random slice of a 64 MiB pool of
``os.urandom`` bytes, fast to write and distinct for restic). One empty repository is made
once (``restic init``, the password in a 0600 file given as ``RESTIC_PASSWORD_FILE``); each
repetition copies it into two fresh repositories (same key and chunker: the same work for both
sides), each with its own cache, and times, the side going first alternating from phase to
phase and from run to run:

- the initial full backup: ``restic backup --json <tree>`` against ``python
  bench/egov_side.py backup`` (``run_agent_backup``, what ``egov agent backup`` runs: the lock,
  the streamed BLAKE3 manifest beside restic, its snapshot, the record and the metrics);
- a nightly incremental backup after 1 % of the files got new content of the same size;
- a restore of the latest snapshot, checked: ``restic restore latest --target <scratch>`` then
  ``python bench/checksum_pass.py`` (a BLAKE3 pass over every restored file, compared with the
  source's digests: the bare equivalent of a check) against ``python bench/egov_side.py
  restore`` (``restore_dataset(verify=True)``, what ``egov backup restore --verify`` runs).

egov's side runs in a process of its own, timed whole (interpreter and imports included, as
the CLI pays them), which reports its own peak RSS (``VmHWM``); every restic below this
process is sampled from /proc (``RssSampler``) and told apart as bare or egov's. Prints a row
per size and phase, the growth from each size to the next, and a PASS/FAIL per target of issue
17 (the time targets are judged at 1,000,000 files, RSS at every size).

    .venv/bin/python bench/backup_overhead.py [--files 20000,200000,1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from blake3 import blake3

BENCH = Path(__file__).resolve().parent
MEAN_FILE_BYTES = 4096
POOL_BYTES = 64 << 20
CHANGED_FRACTION = 0.01  # of the files, between the full and the incremental backup
SEED = 20240601
FILES_PER_DIRECTORY = 100
JUDGED_FILES = 1_000_000  # the size the time targets are judged at
BACKUP_TARGET = 1.05
RESTORE_TARGET = 1.10
RSS_TARGET = 0.5  # egov's Python process against restic's peak
FLAT_FROM, FLAT_TOLERANCE = 200_000, 1.10  # "flat": ≤ 10 % growth from 200,000 to 1,000,000
PHASES = ("full backup", "incremental (1 %)", "restore --verify")


@dataclass
class Phase:
    """One size and phase: seconds of each run per side, and the peak RSS seen (KiB)."""

    bare: list[float] = field(default_factory=list)
    egov: list[float] = field(default_factory=list)
    egov_python_kib: int = 0
    egov_restic_kib: int = 0
    bare_restic_kib: int = 0

    def ratio(self) -> float:
        return statistics.median(self.egov) / statistics.median(self.bare)


def make_sizes(files: int, rng: random.Random) -> list[int]:
    """``files`` log-normal sizes averaging ``MEAN_FILE_BYTES``, none over the pool."""
    weights = [rng.lognormvariate(0.0, 1.5) for _ in range(files)]
    scale = MEAN_FILE_BYTES * files / sum(weights)
    return [min(int(weight * scale) + 1, POOL_BYTES) for weight in weights]


def write_file(path: str, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


@dataclass
class Tree:
    """The generated files, their absolute paths and the BLAKE3 digest of their content."""

    root: Path
    paths: list[str]
    digests: list[str]
    total_bytes: int


def make_tree(root: Path, files: int, seed: int, pool: bytes) -> Tree:
    """Random files under ``root``, 100 per directory; the same bytes for the same seed."""
    rng = random.Random(seed)
    paths, digests, total = [], [], 0
    for index, size in enumerate(make_sizes(files, rng)):
        directory = root / f"d{index // (FILES_PER_DIRECTORY * 10):04d}"
        directory = directory / f"e{index // FILES_PER_DIRECTORY % 10}"
        if index % FILES_PER_DIRECTORY == 0:
            directory.mkdir(parents=True, exist_ok=True)
        offset = rng.randrange(POOL_BYTES - size + 1)
        data = pool[offset : offset + size]
        path = f"{directory}/f{index:07d}.bin"
        write_file(path, data)
        paths.append(path)
        digests.append(blake3(data).hexdigest())
        total += size
    return Tree(root, paths, digests, total)


def change_tree(tree: Tree, rng: random.Random, pool: bytes) -> int:
    """Give ``CHANGED_FRACTION`` of the files new content of the same size (a night's
    changes); return how many."""
    chosen = rng.sample(range(len(tree.paths)), max(1, int(len(tree.paths) * CHANGED_FRACTION)))
    for index in chosen:
        size = Path(tree.paths[index]).stat().st_size
        offset = rng.randrange(POOL_BYTES - size + 1)
        data = pool[offset : offset + size]
        write_file(tree.paths[index], data)
        tree.digests[index] = blake3(data).hexdigest()
    return len(chosen)


def write_password(directory: Path) -> Path:
    """A random restic password in a 0600 file inside the 0700 ``directory``."""
    directory.mkdir(mode=0o700)
    path = directory / "restic-password"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(24) + "\n")
    return path


def make_environment(password_file: Path, cache: Path, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "RESTIC_PASSWORD_FILE": str(password_file),
        "RESTIC_CACHE_DIR": str(cache),
    }


def _start_ticks(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _children(pid: int) -> set[int]:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        return {int(c) for t in tasks for c in (t / "children").read_text().split()}
    except OSError:
        return set()


class RssSampler:
    """Peak RSS (KiB) of each restic process below this one (children and their children,
    so egov's restics too), read from /proc while it runs.

    ``wait4`` and ``RUSAGE_CHILDREN`` cannot tell them apart: at exec, Linux carries the
    parent's high-water mark into the child's ``ru_maxrss``. ``VmHWM`` in /proc/<pid>/status
    is the high-water mark of the process's own memory since exec. Sampled every 10 ms, it
    can miss growth in a child's last 10 ms. Processes are keyed by PID and start time, so a
    reused PID is another process; bare ones are marked by ``mark_bare``.
    """

    def __init__(self) -> None:
        self.peaks: dict[tuple[int, int], int] = {}
        self.bare: set[tuple[int, int]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start sampling the descendants of this process."""
        self._thread.start()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.01):
            pending, seen = [me], set()
            while pending:
                for child in _children(pending.pop()) - seen:
                    seen.add(child)
                    pending.append(child)
                    self.sample(child)

    def sample(self, pid: int) -> None:
        """Record ``pid``'s current VmHWM if it is a restic."""
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ticks = _start_ticks(pid)
        if fields.get("Name", "").strip() != "restic" or ticks is None or "VmHWM" not in fields:
            return
        with self._lock:
            key = (pid, ticks)
            self.peaks[key] = max(self.peaks.get(key, 0), int(fields["VmHWM"].split()[0]))

    def mark_bare(self, pid: int) -> None:
        """Count ``pid`` (a running bare restic) as the baseline's."""
        ticks = _start_ticks(pid)
        if ticks is not None:
            with self._lock:
                self.bare.add((pid, ticks))

    def drain(self) -> tuple[int, int]:
        """The largest peak (KiB) of egov's restics and of bare ones since the last drain."""
        with self._lock:
            egov = [peak for key, peak in self.peaks.items() if key not in self.bare]
            bare = [peak for key, peak in self.peaks.items() if key in self.bare]
            self.peaks.clear()
            self.bare.clear()
        return max(egov, default=0), max(bare, default=0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


SAMPLER = RssSampler()


def run_process(
    argv: list[str], environment: dict[str, str], scratch: Path, bare: bool
) -> tuple[float, str]:
    """Run ``argv`` to completion; return its wall seconds and its stdout. Output goes to
    files, not pipes, so that ``wait4`` reaps it without a reader thread."""
    with (scratch / "stdout").open("w+") as out, (scratch / "stderr").open("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=environment
        )
        if bare:
            SAMPLER.mark_bare(process.pid)
        _, status, _ = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"{' '.join(argv[:4])} failed: {err.read()[-2000:]}")
        out.seek(0)
        return seconds, out.read()


@dataclass
class Repetition:
    """One fresh pair of repositories (copies of one empty template) for one size."""

    directory: Path
    tree: Tree
    password_file: Path

    @property
    def target(self) -> Path:
        return self.directory / "restored"

    def bare_environment(self) -> dict[str, str]:
        return make_environment(self.password_file, self.directory / "bare-cache", self.directory)

    def run_bare_restic(self, *arguments: str) -> float:
        argv = ["restic", "-r", str(self.directory / "bare-repo"), *arguments]
        return run_process(argv, self.bare_environment(), self.directory, bare=True)[0]

    def run_egov(self, phase: str) -> tuple[float, dict[str, int]]:
        spec = self.directory / "egov-spec.json"
        spec.write_text(
            json.dumps(
                {
                    "directory": str(self.directory),
                    "repository": str(self.directory / "egov-repo"),
                    "password_file": str(self.password_file),
                    "tree": str(self.tree.root),
                    "target": str(self.target),
                }
            )
        )
        environment = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        argv = [sys.executable, str(BENCH / "egov_side.py"), phase, str(spec)]
        seconds, out = run_process(argv, environment, self.directory, bare=False)
        return seconds, json.loads(out.splitlines()[-1])

    def backup(self, side: str, phase: Phase) -> float:
        if side == "bare":
            return self.run_bare_restic("backup", "--json", str(self.tree.root))
        seconds, result = self.run_egov("backup")
        if result["files"] != len(self.tree.paths):
            sys.exit(f"egov backed up {result['files']} files, not {len(self.tree.paths)}")
        phase.egov_python_kib = max(phase.egov_python_kib, result["vmhwm_kib"])
        return seconds

    def restore(self, side: str, phase: Phase) -> float:
        if side == "bare":
            digests = self.directory / "digests"
            with digests.open("w", encoding="utf-8") as handle:
                for digest, path in zip(self.tree.digests, self.tree.paths, strict=True):
                    handle.write(f"{digest} {path}\n")
            settle()
            seconds = self.run_bare_restic("restore", "latest", "--target", str(self.target))
            argv = [sys.executable, str(BENCH / "checksum_pass.py"), str(digests)]
            seconds += run_process(
                [*argv, str(self.target)], dict(os.environ), self.directory, bare=False
            )[0]
        else:
            seconds, result = self.run_egov("restore")
            phase.egov_python_kib = max(phase.egov_python_kib, result["vmhwm_kib"])
        shutil.rmtree(self.target)
        return seconds


def settle() -> None:
    """Write back the dirty pages of the previous run so that they do not land in the next."""
    os.sync()


def run_size(
    directory: Path, tree: Tree, template: Path, password_file: Path, rounds: int, pool: bytes
) -> list[Phase]:
    """``rounds`` repetitions of the three phases at one size, sides alternating."""
    phases = [Phase() for _ in PHASES]
    rng = random.Random(SEED + 1)
    for index in range(rounds):
        run = Repetition(directory / f"run-{index}", tree, password_file)
        run.directory.mkdir()
        for name in ("bare-repo", "egov-repo"):
            shutil.copytree(template, run.directory / name)
        (run.directory / "egov-textfile").mkdir()  # node_exporter's directory exists on hosts
        for number, (name, phase) in enumerate(zip(PHASES, phases, strict=True)):
            if number == 1:
                change_tree(tree, rng, pool)
            sides = ("bare", "egov") if (index + number) % 2 == 0 else ("egov", "bare")
            for side in sides:
                settle()
                SAMPLER.drain()
                step = run.restore if number == 2 else run.backup
                getattr(phase, side).append(step(side, phase))
                egov_restic, bare_restic = SAMPLER.drain()
                phase.egov_restic_kib = max(phase.egov_restic_kib, egov_restic)
                phase.bare_restic_kib = max(phase.bare_restic_kib, bare_restic)
            print(
                f"  {len(tree.paths):,} files, run {index + 1}, {name} ({sides[0]} first): "
                f"egov {phase.egov[-1]:.2f} s, baseline {phase.bare[-1]:.2f} s "
                f"(load average {os.getloadavg()[0]:.1f}: the machine may be shared)",
                flush=True,
            )
        shutil.rmtree(run.directory)
    return phases


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def print_rows(files: int, phases: list[Phase]) -> None:
    for name, phase in zip(PHASES, phases, strict=True):
        print(
            f"| {files:,} | {name} | {statistics.median(phase.egov):.2f} s | "
            f"{statistics.median(phase.bare):.2f} s | {phase.ratio():.3f} | "
            f"{mib(phase.egov_python_kib)} | {mib(phase.egov_restic_kib)} | "
            f"{mib(phase.bare_restic_kib)} |",
            flush=True,
        )


def python_peak(phases: list[Phase]) -> int:
    return max(phase.egov_python_kib for phase in phases)


def restic_peak(phases: list[Phase]) -> int:
    return max(phase.bare_restic_kib for phase in phases)


def print_growth(results: dict[int, list[Phase]]) -> None:
    sizes = sorted(results)
    for small, large in itertools.pairwise(sizes):
        parts = []
        for name, before, after in zip(PHASES, results[small], results[large], strict=True):
            parts.append(
                f"{name} egov ×{statistics.median(after.egov) / statistics.median(before.egov):.2f}"
                f" baseline ×{statistics.median(after.bare) / statistics.median(before.bare):.2f}"
            )
        python = python_peak(results[large]) / python_peak(results[small])
        restic = restic_peak(results[large]) / restic_peak(results[small])
        print(
            f"growth {small:,} → {large:,} files (×{large / small:g}): time "
            f"{'; '.join(parts)}; peak RSS egov's Python ×{python:.2f}, bare restic "
            f"×{restic:.2f}"
        )


def judge(results: dict[int, list[Phase]]) -> bool:
    """Print PASS/FAIL per target of issue 17; True when all that could be judged passed."""
    verdicts = []

    def verdict(passed: bool | None, text: str) -> None:
        label = "NOT RUN" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{label}: {text}")
        verdicts.append(passed is not False)

    judged = results.get(JUDGED_FILES)
    for number, target in ((0, BACKUP_TARGET), (1, BACKUP_TARGET), (2, RESTORE_TARGET)):
        what = f"{PHASES[number]} at {JUDGED_FILES:,} files ≤ {target:.2f} × baseline"
        if judged is None:
            verdict(None, what)
        else:
            ratio = judged[number].ratio()
            verdict(ratio <= target, f"{what}: {ratio:.3f}")
    for files, phases in sorted(results.items()):
        ratio = python_peak(phases) / restic_peak(phases)
        verdict(
            ratio <= RSS_TARGET,
            f"peak RSS of egov's Python process ≤ {RSS_TARGET} × bare restic's at {files:,} "
            f"files: {mib(python_peak(phases))} / {mib(restic_peak(phases))} = {ratio:.2f}",
        )
    what = f"egov's Python peak RSS flat (≤ ×{FLAT_TOLERANCE}) from {FLAT_FROM:,} to "
    what += f"{JUDGED_FILES:,} files"
    if judged is None or FLAT_FROM not in results:
        verdict(None, what)
    else:
        growth = python_peak(judged) / python_peak(results[FLAT_FROM])
        verdict(growth <= FLAT_TOLERANCE, f"{what}: ×{growth:.2f}")
    return all(verdicts)


def parse_sizes(text: str) -> list[int]:
    """``20000,200000`` → the sizes, ascending; argparse turns the ValueError into exit 2."""
    sizes = sorted(int(part) for part in text.split(","))
    if min(sizes) < 100:
        raise ValueError(text)
    return sizes


def parse_repeat(text: str) -> int:
    if int(text) < 1:
        raise ValueError(text)
    return int(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files",
        type=parse_sizes,
        default="20000,200000,1000000",
        help="file counts ≥ 100, comma-separated",
    )
    parser.add_argument(
        "--repeat", type=parse_repeat, default=1, help="runs of each side per phase, ≥ 1"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    arguments = parser.parse_args()
    sizes = arguments.files
    results: dict[int, list[Phase]] = {}
    pool = os.urandom(POOL_BYTES)
    with tempfile.TemporaryDirectory(prefix="egov-bench-", dir="/var/tmp") as scratch:
        directory = Path(scratch)
        password_file = write_password(directory / "secrets")
        template = directory / "template-repo"
        environment = make_environment(password_file, directory / "template-cache", directory)
        run_process(["restic", "-r", str(template), "init"], environment, directory, bare=True)
        SAMPLER.start()
        for files in sizes:
            size_directory = directory / f"files-{files}"
            size_directory.mkdir()
            started = time.monotonic()
            tree = make_tree(size_directory / "tree", files, arguments.seed, pool)
            print(
                f"tree: {files:,} random files, {tree.total_bytes / 2**20:.0f} MiB "
                f"(mean {tree.total_bytes / files:.0f} bytes), made in "
                f"{time.monotonic() - started:.0f} s",
                flush=True,
            )
            results[files] = run_size(
                size_directory, tree, template, password_file, arguments.repeat, pool
            )
            print_rows(files, results[files])
            shutil.rmtree(size_directory)
        SAMPLER.stop()
    print(
        f"\n{arguments.repeat} run(s) per side, size and phase, medians; baseline: bare restic "
        "(restore: `restic restore` + a BLAKE3 pass over the restored files); egov timed as a "
        "process of its own\n"
        "| files | phase | egov | baseline | ratio | egov's Python peak RSS "
        "| egov's restic peak | bare restic peak |\n|---:|---|---:|---:|---:|---:|---:|---:|"
    )
    for files, phases in sorted(results.items()):
        print_rows(files, phases)
    print_growth(results)
    return 0 if judge(results) else 1


if __name__ == "__main__":
    sys.exit(main())
