"""Benchmark: an orchestrated backup and restore (egov's agent code path) vs bare restic.

Generates, once, a tree of incompressible random files (1 GiB in 20,000 files by default,
log-normal sizes, fixed seed) in a temporary directory, and one empty repository (``restic
init``, the password in a 0600 file given as ``RESTIC_PASSWORD_FILE``). Each repetition copies
it into two fresh local repositories (same key and chunker: the same work for both sides),
each with its own cache, and times, bare and egov alternating which goes first:

- backup, the initial full one (the expensive case): ``restic backup --json <tree>`` against
  ``run_agent_backup`` with a one-dataset ``AgentConfig`` whose repository is a local
  directory: the dataset lock, the manifest hashed (BLAKE3) beside restic on CPU it leaves
  idle, the manifest's restic opened early and fed the manifest before the backup ends, the
  manifest snapshot, the record and the textfile metrics, i.e. ``egov agent backup``;
- a nightly incremental backup, after 1 % of the files got new content (same sizes): the
  same two commands again, each side against its own repository (egov re-hashes only the
  files whose size, mtime or inode changed);
- restore: ``restic restore latest --target <scratch>`` against ``restore_dataset`` (what
  ``egov backup restore`` runs, without ``--verify``).

Every restored tree is counted against the source (untimed); dirty pages are synced before each
timed run. Prints the medians, the ratio egov/bare per phase, what one restic process pays to
open the repository (egov runs more of them) and the peak RSS of egov's Python process, of
the largest restic egov ran and of the largest bare restic, told apart (``RssSampler``).
Target: overhead ≤ 5 % for backup and for restore.

    .venv/bin/python bench/backup_overhead.py [--size-mib 1024] [--files 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
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

from egov.backup.agent import AgentSettings
from egov.backup.agentconfig import AgentConfig
from egov.backup.datasetbackup import run_agent_backup
from egov.backup.datasetrestore import restore_dataset
from egov.backup.datasets import BackupJob, make_dataset_tags
from egov.backup.repositories import AccessKind, RepositoryConfig
from egov.errors import EgovError
from egov.inventory.backup import DatasetKind

OVERHEAD_TARGET = 0.05
CHANGED_FRACTION = 0.01  # of the files, between the full and the incremental backup
SEED = 20240601
CHUNK_BYTES = 1 << 20
FILES_PER_DIRECTORY = 100
DATASET = "bench-files"
SITE = "bench"
HOST = "bench-files-01"


@dataclass
class Timings:
    """Seconds of each run of one phase, per side."""

    bare: list[float] = field(default_factory=list)
    egov: list[float] = field(default_factory=list)


def make_sizes(total_bytes: int, files: int, rng: random.Random) -> list[int]:
    """``files`` log-normal sizes (a few bytes to a few MiB) summing to ``total_bytes``."""
    weights = [rng.lognormvariate(0.0, 1.5) for _ in range(files)]
    scale = total_bytes / sum(weights)
    sizes = [int(weight * scale) for weight in weights]
    for index in range(total_bytes - sum(sizes)):
        sizes[index % files] += 1
    return sizes


def make_tree(root: Path, total_bytes: int, files: int, seed: int) -> None:
    """Random (incompressible) files under ``root``, 100 per directory, same bytes per seed."""
    rng = random.Random(seed)
    for index, size in enumerate(make_sizes(total_bytes, files, rng)):
        directory = root / f"d{index // (FILES_PER_DIRECTORY * 10):03d}"
        directory = directory / f"e{index // FILES_PER_DIRECTORY % 10}"
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / f"f{index:05d}.bin").open("wb") as handle:
            remaining = size
            while remaining > 0:
                handle.write(rng.randbytes(min(remaining, CHUNK_BYTES)))
                remaining -= CHUNK_BYTES


def change_tree(root: Path, fraction: float, rng: random.Random) -> int:
    """Give ``fraction`` of the files under ``root`` new random content of the same size (a
    night's changes); return how many."""
    paths = sorted(path for path in root.rglob("*.bin"))
    chosen = rng.sample(paths, max(1, int(len(paths) * fraction)))
    for path in chosen:
        path.write_bytes(rng.randbytes(path.stat().st_size))
    return len(chosen)


def count_tree(root: Path) -> tuple[int, int]:
    """(regular files, bytes) under ``root``."""
    files = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            files += 1
            size += (Path(directory) / name).stat().st_size
    return files, size


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


class RssSampler:
    """Peak RSS (KiB) of each restic process this process starts, read from /proc while it runs.

    ``wait4`` and ``RUSAGE_CHILDREN`` cannot tell them apart: at exec, Linux carries the
    parent's high-water mark into the child's ``ru_maxrss`` (its memory before exec was the
    parent's), so every restic "peaked" at least at this Python process's RSS. ``VmHWM`` in
    /proc/<pid>/status is the high-water mark of the process's own memory since exec. Sampled
    every 10 ms, it can miss growth in a child's last 10 ms (restic lives ≥ 0.5 s here).
    Processes are keyed by PID and start time, so a reused PID is another process.
    """

    def __init__(self) -> None:
        self.peaks: dict[tuple[int, int], int] = {}
        self.bare: set[tuple[int, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start sampling the children of this process."""
        self._thread.start()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.01):
            try:
                tasks = list(Path(f"/proc/{me}/task").iterdir())
                children = {int(c) for t in tasks for c in (t / "children").read_text().split()}
            except OSError:
                continue
            for pid in children:
                self.sample(pid)

    def sample(self, pid: int) -> tuple[int, int] | None:
        """Record ``pid``'s current VmHWM if it is a restic; return its key."""
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ticks = _start_ticks(pid)
        if fields.get("Name", "").strip() != "restic" or ticks is None or "VmHWM" not in fields:
            return None
        key = (pid, ticks)
        self.peaks[key] = max(self.peaks.get(key, 0), int(fields["VmHWM"].split()[0]))
        return key

    def mark_bare(self, pid: int) -> None:
        """Count ``pid`` (a running bare restic) as the baseline's."""
        ticks = _start_ticks(pid)
        if ticks is not None:
            self.bare.add((pid, ticks))

    def stop(self) -> tuple[int, int]:
        """Stop sampling; return the largest peak (KiB) of egov's restics and of bare ones."""
        self._stop.set()
        self._thread.join()
        egov = [peak for key, peak in self.peaks.items() if key not in self.bare]
        bare = [peak for key, peak in self.peaks.items() if key in self.bare]
        return max(egov, default=0), max(bare, default=0)


SAMPLER = RssSampler()


def run_restic(argv: list[str], environment: dict[str, str], scratch: Path) -> tuple[float, int]:
    """Run restic to completion; return its wall seconds and ``ru_maxrss`` (KiB, from wait4;
    inflated to this process's own peak, see ``RssSampler``).

    Output goes to files, not pipes, so that ``wait4`` can reap it without a reader thread.
    A bare restic is marked as such for the sampler.
    """
    with (scratch / "stdout").open("w+") as out, (scratch / "stderr").open("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=environment
        )
        SAMPLER.mark_bare(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(argv[:4])} failed ({process.returncode}): {err.read()[-2000:]}")
    return seconds, usage.ru_maxrss


def settle() -> None:
    """Write back the dirty pages of the previous run so that they do not land in the next."""
    os.sync()


def make_agent_config(repository: Path, password_file: Path, tree: Path) -> AgentConfig:
    """The smallest honest agent configuration: one files dataset, one local repository."""
    config = RepositoryConfig(
        name="local",
        site=SITE,
        kind=AccessKind.LOCAL,
        location=str(repository),
        password=f"file:{password_file}",
    )
    job = BackupJob(
        dataset=DATASET,
        kind=DatasetKind.FILES,
        host=HOST,
        site=SITE,
        repository=config.name,
        paths=[str(tree)],
        tags=make_dataset_tags(DATASET, SITE),
    )
    return AgentConfig(
        estate="bench", site=SITE, host=HOST, jobs=[job], repositories={config.name: config}
    )


def check_restored(target: Path, expected: tuple[int, int], side: str) -> None:
    found = count_tree(target)
    if found != expected:
        sys.exit(f"{side} restore holds {found[0]} files, {found[1]} bytes; expected {expected}")
    shutil.rmtree(target)


@dataclass
class Repetition:
    """One fresh pair of repositories (copies of one empty template) and egov's state."""

    directory: Path
    tree: Path
    expected: tuple[int, int]
    bare_environment: dict[str, str]
    config: AgentConfig
    settings: AgentSettings

    @property
    def bare_repository(self) -> Path:
        return self.directory / "bare-repo"

    @property
    def target(self) -> Path:
        return self.directory / "restored"

    def backup_bare(self) -> float:
        argv = ["restic", "-r", str(self.bare_repository), "backup", "--json", str(self.tree)]
        return run_restic(argv, self.bare_environment, self.directory)[0]

    def backup_egov(self) -> float:
        started = time.monotonic()
        try:
            [record] = run_agent_backup(self.config, self.settings)
        except EgovError as error:
            sys.exit(f"egov backup failed: {error.message}")
        seconds = time.monotonic() - started
        if record.files_processed != self.expected[0]:
            sys.exit(f"egov backed up {record.files_processed} files, not {self.expected[0]}")
        return seconds

    def incremental_bare(self) -> float:
        return self.backup_bare()

    def incremental_egov(self) -> float:
        return self.backup_egov()

    def restore_bare(self) -> float:
        argv = ["restic", "-r", str(self.bare_repository), "restore", "latest", "--target"]
        seconds = run_restic([*argv, str(self.target)], self.bare_environment, self.directory)[0]
        check_restored(self.target, self.expected, "bare")
        return seconds

    def restore_egov(self) -> float:
        started = time.monotonic()
        try:
            restore_dataset(
                self.config.repositories["local"],
                DATASET,
                self.target,
                self.settings,
                kind=DatasetKind.FILES,
            )
        except EgovError as error:
            sys.exit(f"egov restore failed: {error.message}")
        seconds = time.monotonic() - started
        check_restored(self.target, self.expected, "egov")
        return seconds


def make_repetition(
    directory: Path, tree: Path, expected: tuple[int, int], template: Path, password_file: Path
) -> Repetition:
    """Copy the empty template repository twice: a fresh ``init`` each would calibrate
    scrypt anew (its cost differs from repository to repository, more under load) and pick
    another chunker polynomial, so both sides would not do the same work."""
    directory.mkdir()
    for name in ("bare-repo", "egov-repo"):
        shutil.copytree(template, directory / name)
    textfile_directory = directory / "egov-textfile"
    textfile_directory.mkdir()  # node_exporter's directory exists on every host
    settings = AgentSettings(
        state_dir=directory / "egov-state",
        cache_dir=directory / "egov-cache",
        textfile_directory=textfile_directory,
    )
    return Repetition(
        directory,
        tree,
        expected,
        make_environment(password_file, directory / "bare-cache", directory),
        make_agent_config(directory / "egov-repo", password_file, tree),
        settings,
    )


def run_repetition(
    repetition: Repetition, bare_first: bool, rng: random.Random
) -> tuple[Timings, Timings, Timings]:
    """One full backup, the night's changes, one incremental backup, then one restore, per
    side; the order of the sides as given."""
    backup, incremental, restore = Timings(), Timings(), Timings()
    for phase, timings in (("backup", backup), ("incremental", incremental), ("restore", restore)):
        if phase == "incremental":
            change_tree(repetition.tree, CHANGED_FRACTION, rng)
        sides = ("bare", "egov") if bare_first else ("egov", "bare")
        for side in sides:
            settle()
            seconds = getattr(repetition, f"{phase}_{side}")()
            getattr(timings, side).append(seconds)
    shutil.rmtree(repetition.directory)
    return backup, incremental, restore


def time_repository_open(template: Path, environment: dict[str, str], scratch: Path) -> float:
    """Median seconds of ``restic cat config``: what every restic process pays to open the
    repository (mostly scrypt), whatever it then does."""
    argv = ["restic", "-r", str(template), "cat", "config"]
    return statistics.median(run_restic(argv, environment, scratch)[0] for _ in range(3))


def report(phase: str, timings: Timings) -> float:
    """Print the phase's medians and runs; return the overhead (egov/bare - 1)."""
    bare, egov = statistics.median(timings.bare), statistics.median(timings.egov)
    overhead = egov / bare - 1
    print(f"{phase}, {len(timings.bare)} runs each, medians:")
    for label, median, times in (("egov", egov, timings.egov), ("bare restic", bare, timings.bare)):
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"  {label:<12} {median:7.2f} s   (runs: {runs})")
    verdict = "within" if overhead <= OVERHEAD_TARGET else "OVER"
    print(
        f"  ratio egov/bare {egov / bare:.3f}, overhead {overhead * 100:+.1f} % "
        f"({verdict} the {OVERHEAD_TARGET * 100:.0f} % target)"
    )
    return overhead


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the tree")
    parser.add_argument("--files", type=int, default=20_000, help="files in the tree")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side per phase")
    parser.add_argument("--seed", type=int, default=SEED)
    arguments = parser.parse_args()
    backup, incremental, restore = Timings(), Timings(), Timings()
    rng = random.Random(arguments.seed + 1)
    with tempfile.TemporaryDirectory(prefix="egov-bench-") as scratch:
        directory = Path(scratch)
        tree = directory / "tree"
        started = time.monotonic()
        make_tree(tree, arguments.size_mib << 20, arguments.files, arguments.seed)
        expected = count_tree(tree)
        print(
            f"tree: {expected[1] / 2**20:.0f} MiB in {expected[0]:,} random files "
            f"(seed {arguments.seed}), made in {time.monotonic() - started:.0f} s"
        )
        password_file = write_password(directory / "secrets")
        template = directory / "template-repo"
        environment = make_environment(password_file, directory / "template-cache", directory)
        run_restic(["restic", "-r", str(template), "init"], environment, directory)
        open_seconds = time_repository_open(template, environment, directory)
        SAMPLER.start()
        for index in range(arguments.repeat):
            repetition = make_repetition(
                directory / f"run-{index}", tree, expected, template, password_file
            )
            one_backup, one_incremental, one_restore = run_repetition(
                repetition, index % 2 == 0, rng
            )
            for total, one in (
                (backup, one_backup),
                (incremental, one_incremental),
                (restore, one_restore),
            ):
                total.bare += one.bare
                total.egov += one.egov
            print(
                f"run {index + 1} ({'bare' if index % 2 == 0 else 'egov'} first): backup bare "
                f"{one_backup.bare[0]:.2f} s, egov {one_backup.egov[0]:.2f} s; incremental "
                f"bare {one_incremental.bare[0]:.2f} s, egov {one_incremental.egov[0]:.2f} s; "
                f"restore bare {one_restore.bare[0]:.2f} s, egov {one_restore.egov[0]:.2f} s",
                flush=True,
            )
    overheads = [
        report("initial full backup", backup),
        report(f"incremental backup ({CHANGED_FRACTION:.0%} of the files changed)", incremental),
        report("restore of the latest snapshot", restore),
    ]
    phases = (backup, incremental, restore)
    extra = [statistics.median(t.egov) - statistics.median(t.bare) for t in phases]
    print(
        f"each restic process spends {open_seconds:.2f} s opening the repository (scrypt; "
        f"median of 3 `restic cat config`); egov's extra seconds in those units: "
        f"backup {extra[0] / open_seconds:.1f}, incremental {extra[1] / open_seconds:.1f}, "
        f"restore {extra[2] / open_seconds:.1f}"
    )
    egov_restic, bare_restic = SAMPLER.stop()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"peak RSS: egov's Python process {own / 1024:.0f} MiB (this process: egov's agent "
        f"and restore code plus the bench); largest restic egov ran {egov_restic / 1024:.0f} "
        f"MiB; largest bare restic {bare_restic / 1024:.0f} MiB (VmHWM, sampled every 10 ms)"
    )
    passed = all(overhead <= OVERHEAD_TARGET for overhead in overheads)
    print(
        f"{'PASS' if passed else 'FAIL'}: overhead ≤ {OVERHEAD_TARGET * 100:.0f} % "
        f"(backup {overheads[0] * 100:+.1f} %, incremental {overheads[1] * 100:+.1f} %, "
        f"restore {overheads[2] * 100:+.1f} %)"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
