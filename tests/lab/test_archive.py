"""The WAL archive on the lab: a mistake on the primary undone by a point-in-time restore from
each site's archive, a target past the end of an archive refused, and the database host unable
to reach what it archived.

Barman runs on both storage hosts (``inventory/lab.yaml``: ``databases.archive``), pulling from
``primary/db-01``. The mistake is the one the issue names: rows deleted and a table dropped in
a database the services use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.lab.conftest import DeployRun, Lab, egov

SERVER = "databases-primary-db-01"
PSQL = ("runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1")
REPLAY = ("runuser", "-u", "barman", "--", "/usr/lib/postgresql/15/bin/pg_ctl")
TABLE = "pitr_probe"
KEPT_ROWS = 200


def _sql(lab: Lab, database: str, statement: str) -> str:
    result = lab.exec("primary-db-01", *PSQL, "-d", database, "-c", statement)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _barman(lab: Lab, machine: str, *argv: str, timeout: float = 300) -> str:
    result = lab.exec(machine, "runuser", "-u", "barman", "--", "barman", *argv, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _wait_archiving(lab: Lab, machine: str, timeout: float = 300) -> None:
    """Until ``receive-wal`` streams and a first segment is filed (Barman's "WAL archive"
    check); a new archive's first base backup may still be running (the deploy starts it)."""
    deadline = time.monotonic() + timeout
    while True:
        check = lab.exec(machine, "runuser", "-u", "barman", "--", "barman", "check", SERVER)
        # barman check names the "WAL archive" check only while it fails
        streaming = "receive-wal running: OK" in check.stdout
        if streaming and "WAL archive: FAILED" not in check.stdout:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{machine}'s archive never started archiving:\n{check.stdout}")
        time.sleep(3)


@pytest.fixture(scope="module")
def mistake(lab: Lab, deployed: tuple[DeployRun, DeployRun]) -> Iterator[datetime]:
    """A base backup on both archives, then rows the backup does not hold, then at T a
    DELETE without its WHERE and a DROP TABLE; yields T (the primary's clock)."""
    for machine in ("primary-store-01", "site2-store-01"):
        _wait_archiving(lab, machine)
    _sql(lab, "motcua", f"DROP TABLE IF EXISTS {TABLE}")
    _sql(lab, "motcua", f"CREATE TABLE {TABLE} (id int PRIMARY KEY, note text)")
    _sql(
        lab,
        "motcua",
        f"INSERT INTO {TABLE} SELECT g, 'before the backup' FROM generate_series(1, 100) g",
    )
    for machine in ("primary-store-01", "site2-store-01"):
        started = lab.exec(machine, "systemctl", "start", "egov-barman-backup.service", timeout=600)
        assert started.returncode == 0, started.stderr
    _sql(
        lab,
        "motcua",
        f"INSERT INTO {TABLE} SELECT g, 'after the backup' "
        f"FROM generate_series(101, {KEPT_ROWS}) g",
    )
    time.sleep(2)
    moment = datetime.fromisoformat(
        _sql(lab, "motcua", "SELECT to_char(clock_timestamp(), 'YYYY-MM-DD\"T\"HH24:MI:SS.USOF')")
        + ":00"
    )
    time.sleep(2)
    _sql(lab, "motcua", f"DELETE FROM {TABLE}")
    _sql(lab, "motcua", f"INSERT INTO {TABLE} VALUES (9999, 'after the mistake')")
    _sql(lab, "motcua", f"DROP TABLE {TABLE}")
    yield moment


def _count_recovered(lab: Lab, machine: str, directory: str) -> str:
    """Start the recovered cluster as the restore left it, count the probe's rows, stop it."""
    options = f"-p 5439 -k {directory}"
    start = lab.exec(
        machine,
        *REPLAY,
        "-D",
        directory,
        "-o",
        options,
        "-l",
        f"{directory}/check.log",
        "-w",
        "start",
        timeout=120,
    )
    assert start.returncode == 0, start.stdout + start.stderr
    try:
        count = lab.exec(
            machine, "runuser", "-u", "barman", "--", "psql", "-h", directory, "-p", "5439",
            "-U", "postgres", "-d", "motcua", "-XtAc",
            f"SELECT count(*), count(*) FILTER (WHERE id = 9999) FROM {TABLE}",
        )  # fmt: skip
        assert count.returncode == 0, count.stderr
        return count.stdout.strip()
    finally:
        lab.exec(machine, *REPLAY, "-D", directory, "-m", "fast", "-w", "stop", timeout=120)


@pytest.mark.parametrize(
    ("site", "machine"), [("primary", "primary-store-01"), ("site2", "site2-store-01")]
)
def test_a_point_in_time_restore_undoes_a_delete_and_a_drop(
    lab: Lab, mistake: datetime, site: str, machine: str
) -> None:
    directory = f"/var/tmp/egov-pitr-{site}"
    lab.exec(machine, "rm", "-rf", directory)
    result = egov(
        "backup", "restore", "--dataset", "databases", "--to-time", mistake.isoformat(),
        "--from-site", site, "--target", directory, "--verify", "--output", "json",
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["archive_host"] == f"{site}/store-01"
    assert report["replayed"] is True and report["segment_closed"] is True
    assert report["queries_checked"] == 2  # one sanity query on portal and on motcua
    assert report["stopped_before"] is not None  # it stopped at T, before the DELETE's commit
    # every row acknowledged before T is back, and nothing written after it
    assert _count_recovered(lab, machine, directory) == f"{KEPT_ROWS}|0"


def test_a_target_before_every_base_backup_is_refused_by_name(lab: Lab, mistake: datetime) -> None:
    result = egov(
        "backup", "restore", "--dataset", "databases", "--to-time", "2020-01-01T00:00:00+07:00",
        "--target", "/var/tmp/egov-pitr-too-old",
    )  # fmt: skip
    assert result.returncode != 0
    assert "no base backup ended before 2020-01-01" in result.stderr


def test_the_database_host_cannot_reach_its_archives(
    lab: Lab, deployed: tuple[DeployRun, DeployRun]
) -> None:
    """db-01 holds no account on the archive hosts, and their SSH is closed to it: what it
    archived is out of its reach (Barman pulls; nothing is pushed)."""
    for address in (lab.address("primary-store-01"), lab.address("site2-store-01")):
        probe = lab.exec(
            "primary-db-01",
            "timeout",
            "5",
            "bash",
            "-c",
            f"exec 3<>/dev/tcp/{address}/22",
            timeout=30,
        )
        assert probe.returncode != 0, f"db-01 reaches ssh on {address}"
    listing = lab.exec("primary-store-01", "stat", "-c", "%U %a", "/var/lib/barman")
    assert listing.stdout.split() == ["barman", "750"] or listing.stdout.split()[0] == "barman"
    keys = lab.exec(
        "primary-db-01",
        "bash",
        "-c",
        "ls /root/.ssh /var/lib/postgresql/.ssh 2>/dev/null | grep -v authorized_keys || true",
    )
    assert keys.stdout.strip() in ("", "/root/.ssh:", "/root/.ssh:\n"), keys.stdout


def test_a_gap_in_an_archive_fails_the_restore_to_latest_until_mended(
    lab: Lab, mistake: datetime
) -> None:
    """One WAL segment taken out of site 2's archive (a damaged disk, say): a restore to the
    end of that archive fails, naming the gap, instead of quietly ending before it; with the
    segment put back it succeeds."""
    machine = "site2-store-01"
    wals = f"/var/lib/barman/{SERVER}/wals"
    listing = lab.exec(machine, "bash", "-c", f"ls {wals}/*/ | grep -E '^[0-9A-F]{{24}}$' | sort")
    segments = listing.stdout.split()
    assert len(segments) >= 3, listing.stdout
    held = segments[-2]  # after the base backup, before the newest
    source = f"{wals}/{held[:16]}/{held}"
    lab.exec(machine, "rm", "-rf", "/var/tmp/egov-pitr-gap")
    moved = lab.exec(machine, "mv", source, f"/var/tmp/{held}")
    assert moved.returncode == 0, moved.stderr
    try:
        broken = egov(
            "backup", "restore", "--dataset", "databases", "--to-latest", "--from-site", "site2",
            "--target", "/var/tmp/egov-pitr-gap", "--verify", timeout=900,
        )  # fmt: skip
        assert broken.returncode != 0, broken.stdout
        assert "site2/store-01" in broken.stderr
        assert "gap" in broken.stderr or held in broken.stderr, broken.stderr
    finally:
        lab.exec(machine, "mv", f"/var/tmp/{held}", source)
        lab.exec(machine, "rm", "-rf", "/var/tmp/egov-pitr-gap")
    lab.exec(machine, "rm", "-rf", "/var/tmp/egov-pitr-latest")
    mended = egov(
        "backup", "restore", "--dataset", "databases", "--to-latest", "--from-site", "site2",
        "--target", "/var/tmp/egov-pitr-latest", "--verify", "--output", "json", timeout=900,
    )  # fmt: skip
    assert mended.returncode == 0, mended.stdout + mended.stderr
    report = json.loads(mended.stdout)
    assert report["replayed_segment"][8:] == report["newest_segment"][8:]
