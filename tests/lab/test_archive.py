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
from pathlib import Path
from typing import Any

import pytest

from egov.drills.journal import read_journal
from tests.lab.conftest import DeployRun, Lab, egov
from tests.lab.test_drill import drill

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
    DELETE without its WHERE and a DROP TABLE; yields T (the primary's clock).

    Right after T the primary closes its segment: a segment filed after T whose records all
    precede it, as a busy database's often is. Barman 3.4 copies WAL up to the first segment
    filed after the target, so it leaves out the next, which holds the first commit after T
    that the replay must reach (``egov/backup/waltail.py``): without egov completing the
    copy, the restores to T fail ("recovery ended before configured recovery target was
    reached")."""
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
    # T and the switch in one statement: a commit between them (autovacuum's, say) would
    # put a transaction after T into the closed segment, and Barman's copy would suffice
    answer = _sql(
        lab,
        "motcua",
        "SELECT to_char(clock_timestamp(), 'YYYY-MM-DD\"T\"HH24:MI:SS.USOF'), pg_switch_wal()",
    )
    moment = datetime.fromisoformat(answer.split("|")[0] + ":00")
    time.sleep(2)
    _sql(lab, "motcua", f"DELETE FROM {TABLE}")
    _sql(lab, "motcua", f"INSERT INTO {TABLE} VALUES (9999, 'after the mistake')")
    _sql(lab, "motcua", f"DROP TABLE {TABLE}")
    yield moment


def _count_recovered(lab: Lab, machine: str, directory: str) -> str:
    """Start the recovered cluster as the restore left it, count the probe's rows, stop it."""
    return query_recovered(
        lab, machine, directory, "motcua",
        f"SELECT count(*), count(*) FILTER (WHERE id = 9999) FROM {TABLE}",
    )  # fmt: skip


def query_recovered(lab: Lab, machine: str, directory: str, database: str, sql: str) -> str:
    """Start the recovered cluster in ``directory`` on ``machine`` as the restore left it,
    run ``sql`` in ``database``, stop it; the answer, unaligned."""
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
            "-U", "postgres", "-d", database, "-XtAc", sql,
        )  # fmt: skip
        assert count.returncode == 0, count.stderr
        return count.stdout.strip()
    finally:
        lab.exec(machine, *REPLAY, "-D", directory, "-m", "fast", "-w", "stop", timeout=120)


# Site 2's archive is restored from by the operator-error drill below (to just before a DELETE
# and a DROP, as here), by the gap test and by the monitoring test's restore inside a cut.
@pytest.mark.parametrize(("site", "machine"), [("primary", "primary-store-01")])
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
    assert report["added_segments"], report  # Barman's copy stopped at the segment closed at T
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


# --- the operator-error drill: refused on a stale archive, then the error undone --------------

ARCHIVE_CUT_TABLE = "egov_test_archive_cut"


def _site2_archive(lab: Lab) -> dict[str, Any] | None:
    """Site 2's row of ``egov backup status --archives`` (None: no answer)."""
    status = egov("backup", "status", "--archives", "-o", "json")
    if status.returncode not in (0, 1) or not status.stdout.strip():
        return None
    rows = [row for row in json.loads(status.stdout)["archives"] if row["site"] == "site2"]
    return rows[0] if rows else None


def _wait_site2_archive(lab: Lab, fresh: bool, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = _site2_archive(lab)
        if row is not None and row["error"] is None and row["wal_fresh"] is fresh:
            return row
        if time.monotonic() > deadline:
            pytest.fail(f"site 2's archive never became {'fresh' if fresh else 'stale'}: {row}")
        time.sleep(5)


def _cut_site2_archive(lab: Lab) -> None:
    """Site 2's archive host unreachable from the primary's database (both directions of
    PostgreSQL's port dropped on the archive host); the control node still reaches it."""
    primary = lab.address("primary-db-01")
    script = (
        f"nft add table inet {ARCHIVE_CUT_TABLE} && "
        f"nft add chain inet {ARCHIVE_CUT_TABLE} input "
        "'{ type filter hook input priority -10 ; policy accept ; }' && "
        f"nft add chain inet {ARCHIVE_CUT_TABLE} output "
        "'{ type filter hook output priority -10 ; policy accept ; }' && "
        f"nft add rule inet {ARCHIVE_CUT_TABLE} input ip saddr {primary} tcp sport 5432 drop && "
        f"nft add rule inet {ARCHIVE_CUT_TABLE} output ip daddr {primary} tcp dport 5432 drop"
    )
    result = lab.exec("site2-store-01", "sh", "-ec", script)
    assert result.returncode == 0, result.stderr


def _mend_site2_archive(lab: Lab) -> None:
    """The rule gone, and the primary's stalled sender to it ended: the stream reconnects in
    seconds instead of waiting out its TCP retries. The primary then closes its segment, so
    the archive is fresh again as soon as it has filed it, not at the next archive_timeout
    (up to 60 s later)."""
    lab.exec(
        "site2-store-01", "sh", "-c",
        f"nft delete table inet {ARCHIVE_CUT_TABLE} 2>/dev/null || true",
    )  # fmt: skip
    store = lab.address("site2-store-01")
    _sql(
        lab,
        "postgres",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication "
        f"WHERE client_addr = '{store}'",
    )
    _sql(lab, "postgres", "SELECT pg_switch_wal()")


def _active(lab: Lab, machine: str, unit: str) -> bool:
    return lab.exec(machine, "systemctl", "is-active", unit).stdout.strip() == "active"


def _operator_error_leftovers(lab: Lab) -> list[str]:
    """What the drill could leave: the copy on site 2's archive host, its service path, the
    drill's table on the primary."""
    found = []
    machine = "site2-store-01"
    if lab.exec(machine, "test", "-e", "/var/lib/egov-drill").returncode == 0:
        found.append(f"{machine}:/var/lib/egov-drill")
    if (
        lab.exec(machine, "systemctl", "is-active", "egov-drill-postgres").stdout.strip()
        == "active"
    ):
        found.append(f"egov-drill-postgres running on {machine}")
    for host in (machine, "site2-app-01"):
        if "egov-drill-test" in lab.exec(host, "nft", "list", "ruleset").stdout:
            found.append(f"{host}: a firewall opening of the test")
    if _active(lab, "site2-app-01", "egov-drill-canary"):
        found.append("egov-drill-canary running")
    for database in ("portal", "motcua"):
        if _sql(lab, database, "SELECT to_regclass('egov_drill_dossiers') IS NOT NULL") == "t":
            found.append(f"egov_drill_dossiers left in {database}")
    return found


def test_the_operator_error_drill_is_refused_while_site2s_archive_is_stale(
    lab: Lab, mistake: datetime, tmp_path: Path
) -> None:
    """Site 2's archive host cut off from the primary for longer than the archive's target:
    the drill, which would recover there, refuses to start and names the stale archive."""
    _cut_site2_archive(lab)
    try:
        stale = _wait_site2_archive(lab, fresh=False, timeout=240)
        code, report, stderr = drill(tmp_path, "operator-error", "test")
    finally:
        _mend_site2_archive(lab)
    assert code == 1, stderr
    assert report["status"] == "refused", report
    probes = {p["name"]: p for p in report["probes"]}
    assert not probes["recovery-site-archive-is-current"]["ok"], probes
    assert probes["every-host-answers"]["ok"], probes  # refused for the archive alone
    assert f"the WAL archive {SERVER} on site2-store-01 is stale" in stderr, stderr
    assert stale["wal_age_seconds"] > stale["wal_limit_seconds"], stale
    assert _operator_error_leftovers(lab) == []
    _wait_site2_archive(lab, fresh=True, timeout=240)


def test_the_operator_error_drill_recovers_to_just_before_the_error(
    lab: Lab, mistake: datetime, tmp_path: Path
) -> None:
    """At T the drill's canary records are deleted and its table dropped on the primary; site
    2's archive recovers the databases to just before T into an isolated copy that site 2's
    balancer serves: every record acknowledged before T is there, none written after, the
    table with all its rows; and everything is removed."""
    code, report, stderr = drill(tmp_path, "operator-error", "test")
    assert code == 0, stderr + json.dumps(report.get("failures"))
    assert report["status"] == "succeeded"
    for service in report["services"]:
        assert service["rto_ok"] and service["rpo_ok"], service
        assert service["rpo_target_seconds"] == 60, service  # the archive's, not the replicas'
        assert service["lost_records"] == 0 and service["failed_writes"] == 0, service
    journal = read_journal(Path(report["journal_path"]))
    steps = {e["name"]: e for e in journal if e.get("event") == "step-end"}
    error = steps["delete-and-drop"]["output"]
    assert "canary records from" in error and "egov_drill_dossiers dropped" in error, error
    recovered = steps["recover-to-before-the-error"]["output"]
    assert "from site2/store-01's archive" in recovered and "stopped before" in recovered
    rpos = [e for e in journal if e.get("event") == "measure" and e.get("metric") == "rpo"]
    assert len(rpos) == 2 and all(e["error_ended_at"] for e in rpos), rpos
    assert all(e["written_after"] == [] and e["acknowledged"] > 0 for e in rpos), rpos
    assert _operator_error_leftovers(lab) == []
