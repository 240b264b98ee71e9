"""Benchmark: a base backup and a point-in-time restore of a 5 GB pgbench database, egov against
Barman's own commands run bare, in the same run.

Target (issue 16): egov's overhead ≤ 1.05 on each (median time, egov / bare).

Run as root with the bench's lab up and deployed; the bench refuses (exit 2) otherwise:

    .venv/bin/egov lab up -i inventory/pitr-bench-lab.yaml
    .venv/bin/egov deploy -i inventory/pitr-bench-lab.yaml
    .venv/bin/python bench/pitr_overhead.py [--scale 340] [--repeat 3]

Set-up, not timed: the database ``bench`` on ``pg-1`` is filled by ``pgbench -i -s SCALE``
(scale 340 is about 5.1 GB) unless it already holds that scale; then the bench waits until the
archive host's Barman has filed every WAL segment the load wrote, so that neither side's first
run waits on the load's WAL.

**Base backup**, ``--repeat`` runs a side, the side going first alternating:

- egov: ``systemctl start egov-barman-backup.service`` on the archive host, the unit egov
  deploys and its timer starts: it waits for Barman's WAL archive check, then runs
  ``barman -q backup --wait all`` (as barman, Nice=10, idle-class I/O priority 7).
- bare: ``barman backup --wait SERVER`` as the barman user, what a sysadmin types.

Same work: one ``pg_basebackup`` of the cluster through Barman (a spread checkpoint, Barman's
default), waiting for the WAL that makes it consistent; an untimed ``CHECKPOINT`` before every
run leaves both sides the same few dirty buffers (the first try of this bench had egov's first
backup pace a spread checkpoint over 270 s of the fill's dirty buffers, and the bare one after
it none). Both run over the same SSH connection setup from the control node. After every
run but the last the new backup is deleted, so the disk holds two at most.

**Point-in-time restore**: T is the primary's clock after 20 s of pgbench's TPC-B load, which
then runs 10 s more (so T lies inside the WAL, not at its end); the segment holding the load's
end is closed and filed before the restores, so both sides recover the same base backup and WAL.

- egov: ``egov backup restore --dataset databases --to-time T --target DIR --verify``, from the
  control node as an operator runs it: over SSH the agent closes the current segment, picks the
  base backup, runs ``barman recover`` to T, replays it in a throwaway postmaster, runs the
  dataset's sanity query on the database and stops it.
- bare: over SSH, as barman: ``barman recover --target-time T --target-action promote SERVER
  latest DIR``, ``pg_ctl start`` on a Unix socket, ``pg_is_in_recovery()`` polled each second
  until false, the same sanity query, ``pg_ctl stop -m fast``: the least that shows the copy is
  a database at T.

DIR is removed after each run. Prints each run (with the load average: the machine may be
shared), the medians and ratios, and PASS/FAIL per target.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventory" / "pitr-bench-lab.yaml"
DATABASE_HOST = "10.213.31.20"
ARCHIVE_HOST = "10.213.31.30"
SERVER = "databases-bench-pg-1"
SLOT = "egov_archive_bench_bk_1"
SANITY_QUERY = "SELECT 1 FROM pgbench_branches LIMIT 1"
PG_BIN = "/usr/lib/postgresql/15/bin"
SSH_KEY = "/var/lib/egov/lab/ssh/id_ed25519"
KNOWN_HOSTS = "/var/lib/egov/lab/ssh/known_hosts"
RESTORE_ROOT = "/var/lib/egov-bench"
TARGET = 1.05
PHASES = ("base backup", "point-in-time restore")


def refuse(message: str, hint: str = "") -> NoReturn:
    """Bad input or a lab that is not ready: one message and the fix on stderr, exit 2."""
    print(f"pitr_overhead: {message}", file=sys.stderr)
    if hint:
        print(f"  {hint}", file=sys.stderr)
    sys.exit(2)


def make_ssh_argv(address: str, command: str) -> list[str]:
    """``ssh`` to a lab host as root with the lab's key and strict host keys."""
    return ["ssh", "-i", SSH_KEY, "-o", f"UserKnownHostsFile={KNOWN_HOSTS}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            f"root@{address}", command]  # fmt: skip


def run(argv: Sequence[str], timeout: float = 7200.0) -> str:
    """Run ``argv``; its stdout. Exit 1 with the tail of its output when it fails."""
    done = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        print(f"pitr_overhead: failed ({done.returncode}): {shlex.join(argv)}", file=sys.stderr)
        print((done.stdout + done.stderr)[-2000:], file=sys.stderr)
        sys.exit(1)
    return done.stdout


def on(address: str, command: str, timeout: float = 7200.0) -> str:
    """Run a shell command on a lab host; its stdout."""
    return run(make_ssh_argv(address, command), timeout)


def as_barman(command: str) -> str:
    return f"runuser -u barman -- {command}"


def psql(database: str, query: str) -> str:
    """A query on the primary as postgres (over its socket), the answer's text."""
    command = f"cd / && runuser -u postgres -- psql -XtAq -d {database} -c {shlex.quote(query)}"
    return on(DATABASE_HOST, command).strip()


def get_side_order(run_index: int) -> tuple[str, str]:
    """egov first on even runs, bare first on odd ones."""
    return ("egov", "bare") if run_index % 2 == 0 else ("bare", "egov")


@dataclass
class Phase:
    """The times of one phase, per side."""

    name: str
    egov: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        return statistics.median(self.egov) / statistics.median(self.bare)


def format_row(phase: Phase) -> str:
    egov, bare = statistics.median(phase.egov), statistics.median(phase.bare)
    return (
        f"| {phase.name} | {egov:.2f} s | {bare:.2f} s | {phase.ratio():.3f} | {len(phase.egov)} |"
    )


def judge(phases: Sequence[Phase]) -> list[tuple[bool, str]]:
    """PASS/FAIL per phase against the 1.05 target."""
    return [
        (
            phase.ratio() <= TARGET,
            f"{phase.name}: egov / bare = {phase.ratio():.3f} (target ≤ {TARGET:.2f})",
        )
        for phase in phases
    ]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def check_lab_ready() -> None:
    """Exit 2 unless both hosts answer and the archive host runs the Barman server."""
    for address in (DATABASE_HOST, ARCHIVE_HOST):
        done = subprocess.run(
            make_ssh_argv(address, "true"), capture_output=True, timeout=30, check=False
        )
        if done.returncode != 0:
            refuse(
                f"lab host {address} does not answer SSH",
                f"bring the lab up and deploy it: egov lab up -i {INVENTORY} && "
                f"egov deploy -i {INVENTORY} (as root)",
            )
    servers = on(ARCHIVE_HOST, as_barman("barman list-servers --minimal"))
    if SERVER not in servers.split():
        refuse(f"the archive host has no Barman server {SERVER}", f"egov deploy -i {INVENTORY}")


def fill(scale: int) -> None:
    """Create and fill the database unless it already holds ``scale``; not timed."""
    exists = psql("postgres", "SELECT 1 FROM pg_database WHERE datname = 'bench'")
    if not exists:
        psql("postgres", "CREATE DATABASE bench")
    have = 0
    if psql("bench", "SELECT to_regclass('pgbench_branches') IS NOT NULL") == "t":
        have = int(psql("bench", "SELECT count(*) FROM pgbench_branches"))
    if have != scale:
        started = time.monotonic()
        on(DATABASE_HOST, f"cd / && runuser -u postgres -- {PG_BIN}/pgbench -i -q -s {scale} bench")
        print(f"  filled: pgbench -i -s {scale} in {time.monotonic() - started:.0f} s")
    size = psql("bench", "SELECT pg_size_pretty(pg_database_size('bench'))")
    print(f"  database bench: scale {scale}, {size}")


def wait_archived(timeout: float = 3600.0) -> None:
    """Close the current segment and wait until Barman filed everything up to it."""
    started = time.monotonic()
    segment = psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())")
    path = f"/var/lib/barman/{SERVER}/wals/{segment[:16]}/{segment}"
    while True:
        on(ARCHIVE_HOST, as_barman(f"barman -q archive-wal {SERVER}") + " || true")
        if on(ARCHIVE_HOST, f"test -e {path} && echo yes || true").strip() == "yes":
            break
        if time.monotonic() - started > timeout:
            sys.exit(f"pitr_overhead: segment {segment} not filed within {timeout:.0f} s")
        time.sleep(2.0)
    print(f"  archived up to {segment} ({time.monotonic() - started:.0f} s)")


def wait_idle() -> None:
    """Wait for a base backup in progress (the deploy starts one on a new archive) to end."""
    unit = "egov-barman-backup.service"
    while on(ARCHIVE_HOST, f"systemctl is-active {unit} || true").strip() == "activating":
        time.sleep(2.0)


def list_backup_ids() -> list[str]:
    text = on(ARCHIVE_HOST, as_barman(f"barman list-backups --minimal {SERVER}"))
    return sorted(text.split())


def timed(step: Callable[[], None]) -> float:
    """Seconds ``step`` took, from the same state for either side: the primary's dirty buffers
    written by an untimed checkpoint (or a side's spread checkpoint would pace its backup by
    what the run before it left dirty), and the machine's dirty pages written back."""
    psql("postgres", "CHECKPOINT")
    os.sync()
    started = time.monotonic()
    step()
    return time.monotonic() - started


def base_backup(side: str) -> None:
    if side == "egov":
        on(ARCHIVE_HOST, "systemctl start egov-barman-backup.service")
    else:
        on(ARCHIVE_HOST, as_barman(f"barman backup --wait {SERVER}"))


def choose_target() -> datetime:
    """T: the primary's clock inside 30 s of TPC-B load, 20 s in; then the load's end filed."""
    load = make_ssh_argv(
        DATABASE_HOST, f"cd / && runuser -u postgres -- {PG_BIN}/pgbench -n -c 4 -T 30 bench"
    )
    with subprocess.Popen(load, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as pgbench:
        time.sleep(20.0)
        moment = datetime.fromisoformat(psql("postgres", "SELECT clock_timestamp()"))
        if pgbench.wait(timeout=120) != 0:
            sys.exit("pitr_overhead: the pgbench load failed")
    wait_archived()
    return moment


def restore(side: str, moment: datetime, directory: str) -> None:
    if side == "egov":
        egov = str(BIN / "egov")
        run([egov, "backup", "restore", "--dataset", "databases", "--to-time", moment.isoformat(),
             "--target", directory, "--verify", "-i", str(INVENTORY)])  # fmt: skip
        return
    socket = f"-h {directory} -p 5499"
    script = " && ".join(
        [
            f"install -d -o barman -g barman {directory}",
            as_barman(
                f"barman recover --target-time {shlex.quote(moment.isoformat())} "
                f"--target-action promote {SERVER} latest {directory}"
            ),
            # Debian keeps these outside PGDATA: a base backup has neither
            f"printf \"listen_addresses = ''\\nhba_file = '{directory}/pg_hba.conf'\\n\" "
            f"> {directory}/postgresql.conf",
            f"echo 'local all all trust' > {directory}/pg_hba.conf",
            f"chown barman:barman {directory}/postgresql.conf {directory}/pg_hba.conf",
            as_barman(
                f"{PG_BIN}/pg_ctl -D {directory} -o '-p 5499 -k {directory}' "
                f"-l {directory}/replay.log -w -t 3600 start"
            ),
            # egov's agent polls each second too, for an hour at most; a postmaster that
            # stopped (a replay that failed) ends the wait at once
            "{ n=0; until [ \"$(" + as_barman(f"psql {socket} -U postgres -XtAc "
            "'SELECT pg_is_in_recovery()' postgres") + ")\" = f ]; do "
            f"[ -f {directory}/postmaster.pid ] || exit 1; "
            "n=$((n+1)); [ $n -lt 3600 ] || exit 1; sleep 1; done; }",
            as_barman(f"psql {socket} -U postgres -XtA -v ON_ERROR_STOP=1 "
                      f"-c {shlex.quote(SANITY_QUERY)} bench") + " | grep -q 1",
            as_barman(f"{PG_BIN}/pg_ctl -D {directory} -m fast -w stop"),
        ]
    )  # fmt: skip
    on(ARCHIVE_HOST, script)


def check_restored(side: str, directory: str) -> None:
    """Both sides must have left a cluster stopped after recovering to T (not at the end)."""
    log = "egov-replay.log" if side == "egov" else "replay.log"
    text = on(ARCHIVE_HOST, f"cat {directory}/{log}")
    if not re.search(r"recovery stopping before .*time", text):
        sys.exit(f"pitr_overhead: {side}'s restore did not stop at the target:\n{text[-1500:]}")


def run_phases(repeat: int, moment_after_backups: Callable[[], datetime]) -> list[Phase]:
    backups, restores = Phase(PHASES[0]), Phase(PHASES[1])
    for index in range(repeat):
        for side in get_side_order(index):
            before = set(list_backup_ids())
            seconds = timed(functools.partial(base_backup, side))
            new = sorted(set(list_backup_ids()) - before)
            if len(new) != 1:
                sys.exit(f"pitr_overhead: {side}'s base backup made {len(new)} backups: {new}")
            getattr(backups, side).append(seconds)
            print(f"  base backup {index + 1} {side}: {seconds:.2f} s (load {load_average()})")
            last = index == repeat - 1 and side == get_side_order(index)[1]
            if not last:
                on(ARCHIVE_HOST, as_barman(f"barman delete {SERVER} {new[0]}"))
    moment = moment_after_backups()
    print(f"  T = {moment.isoformat()}")
    on(ARCHIVE_HOST, f"rm -rf {RESTORE_ROOT} && install -d -o barman -g barman {RESTORE_ROOT}")
    for index in range(repeat):
        for side in get_side_order(index):
            directory = f"{RESTORE_ROOT}/{side}-{index}"
            seconds = timed(functools.partial(restore, side, moment, directory))
            check_restored(side, directory)
            on(ARCHIVE_HOST, f"rm -rf {directory}")
            getattr(restores, side).append(seconds)
            print(f"  restore {index + 1} {side}: {seconds:.2f} s (load {load_average()})")
    return [backups, restores]


def parse_positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10000:
        raise argparse.ArgumentTypeError(f"{value} is not from 1 to 10000")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=parse_positive, default=340, help="pgbench's scale")
    parser.add_argument("--repeat", type=parse_positive, default=3, help="runs per side")
    arguments = parser.parse_args(argv)
    if os.geteuid() != 0:
        refuse("run as root: the lab's SSH key is root's")
    check_lab_ready()
    print(f"set-up (not timed), load {load_average()}")
    wait_idle()
    fill(arguments.scale)
    wait_archived()
    phases = run_phases(arguments.repeat, choose_target)
    print("\n| phase | egov (median) | bare Barman (median) | ratio | runs a side |")
    print("|---|---:|---:|---:|---:|")
    for phase in phases:
        print(format_row(phase))
    verdicts = judge(phases)
    for passed, text in verdicts:
        print(f"{'PASS' if passed else 'FAIL'} {text}")
    on(ARCHIVE_HOST, f"rm -rf {RESTORE_ROOT}")
    return 0 if all(passed for passed, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
