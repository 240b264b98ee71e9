"""Drills on the lab: readiness, the quarterly test failover, a failing and a killed drill,
a replica cut off its WAL stream and a stale file copy (each must fail its verdict), and the
loss of the primary site with its failback, all with the lab's real faults.

Order matters and is kept by the file: the failover/failback test comes last and leaves
the estate as it found it (db-01 leading, db-02 and site 2 streaming from it).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from egov.drills.journal import GENESIS, hash_entry, read_journal
from egov.drills.silences import is_drill_silence
from egov.lab.paths import get_state_dir
from egov.monitoring.alertmanager_api import AlertmanagerClient, Silence
from tests.lab.conftest import INVENTORY, Lab, get_journal

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("deployed")]

EGOV = str(Path(sys.executable).parent / "egov")
SHIPPED = Path(__file__).resolve().parents[2] / "egov" / "drills" / "scenarios"
SERVICES = ("portal", "motcua")
LAB_RTO_SECONDS = 180
LAB_RPO_SECONDS = 5
# the lab's drill signing key lives and goes with the lab, not in the host's /etc/egov/secrets
LAB_DRILL_KEY = get_state_dir() / "drill-signing.key"
MONITORING_HOSTS = ("primary-mon-01", "site2-mon-01")


def egov(*arguments: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EGOV, *arguments, "-i", str(INVENTORY)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "EGOV_DRILL_KEY": str(LAB_DRILL_KEY)},
    )


def drill(drills: Path, scenario: str, mode: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = egov(
        "drill", "run", scenario, "--mode", mode, "--drill-dir", str(drills), "-o", "json", *extra
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        report = {}
    return result.returncode, report, result.stderr


def health(address: str, service: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{address}/{service}/health", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def last_record(address: str, service: str) -> int | None:
    with urllib.request.urlopen(f"http://{address}/{service}/records/last", timeout=5) as response:
        seq = json.loads(response.read())["seq"]
    return int(seq) if seq is not None else None


def _held(lab: Lab, machine: str, journal: Path) -> list[Silence]:
    """The silences ``machine``'s Alertmanager holds for the drill run of ``journal``."""
    client = AlertmanagerClient([f"http://{lab.address(machine)}:9093"])
    return [s for s in client.list_silences().value if is_drill_silence(s, journal.parent.name)]


def drill_silences(lab: Lab, journal: Path) -> dict[str, list[str]]:
    """The Alertmanagers' silences set by the drill of ``journal``: each one's state, by id,
    as every monitoring host sees it (the cluster gossips them)."""
    seen: dict[str, list[str]] = {}
    for machine in MONITORING_HOSTS:
        for silence in _held(lab, machine, journal):
            seen.setdefault(silence.id, []).append(silence.state)
    return seen


def silence_ends(lab: Lab, journal: Path) -> dict[str, float]:
    """When each silence of the drill of ``journal`` ends (epoch seconds), as site 2 says."""
    held = _held(lab, "site2-mon-01", journal)
    return {s.id: s.ends_at.timestamp() for s in held if s.ends_at is not None}


def settled_silences(lab: Lab, journal: Path, state: str) -> dict[str, list[str]]:
    """``drill_silences`` once every host shows every one of them ``state`` (the gossip takes
    a moment), or as they are after 30 s, for the assertion to show."""
    deadline = time.monotonic() + 30
    while True:
        seen = drill_silences(lab, journal)
        settled = all(states == [state] * len(MONITORING_HOSTS) for states in seen.values())
        if (seen and settled) or time.monotonic() > deadline:
            return seen
        time.sleep(2)


def psql(lab: Lab, machine: str, sql: str) -> str:
    result = lab.exec(machine, "runuser", "-u", "postgres", "--", "psql", "-XtAc", sql)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def drills(tmp_path_factory: pytest.TempPathFactory, lab: Lab) -> Iterator[Path]:
    """A drill directory, and a replicated snapshot of the file stores at site 2 to recover."""
    result = egov("backup", "run", "--dataset", "files")
    assert result.returncode == 0, result.stderr
    replicate = egov("backup", "replicate")
    assert replicate.returncode == 0, replicate.stderr
    yield tmp_path_factory.mktemp("drills")


def production_state(lab: Lab) -> dict[str, str]:
    """What a test failover must not change (the canary's own table aside)."""
    files = lab.exec(
        "primary-store-01", "sh", "-c", "find /srv/files -type f -exec sha256sum {} + | sort"
    )
    return {
        "databases": psql(
            lab, "primary-db-01", "SELECT string_agg(datname, ',' ORDER BY 1) FROM pg_database"
        ),
        "primary-leads": psql(lab, "primary-db-01", "SELECT pg_is_in_recovery()"),
        "slots": psql(
            lab,
            "primary-db-01",
            "SELECT string_agg(slot_name || ':' || active, ',' ORDER BY 1)"
            " FROM pg_replication_slots",
        ),
        "site2-replica": psql(lab, "site2-db-01", "SELECT pg_is_in_recovery()"),
        "site2-databases": psql(
            lab, "site2-db-01", "SELECT string_agg(datname, ',' ORDER BY 1) FROM pg_database"
        ),
        "files": files.stdout,
    }


def leftovers(lab: Lab) -> list[str]:
    """What a test failover could leave at site 2."""
    found = []
    for machine in ("site2-db-01", "site2-store-01"):
        if lab.exec(machine, "test", "-e", "/var/lib/egov-drill").returncode == 0:
            found.append(f"{machine}:/var/lib/egov-drill")
    unit = lab.exec("site2-db-01", "systemctl", "is-active", "egov-drill-postgres")
    if unit.stdout.strip() == "active":
        found.append("egov-drill-postgres running")
    # the service path of the test: its app instance, nginx server and firewall openings
    unit = lab.exec("site2-app-01", "systemctl", "is-active", "egov-drill-canary")
    if unit.stdout.strip() == "active":
        found.append("egov-drill-canary running")
    if lab.exec("site2-app-01", "test", "-e", "/etc/nginx/conf.d/egov-drill.conf").returncode == 0:
        found.append("site2-app-01:/etc/nginx/conf.d/egov-drill.conf")
    for machine in ("site2-app-01", "site2-db-01"):
        rules = lab.exec(machine, "nft", "list", "chain", "inet", "egov", "input")
        if "egov-drill-test" in rules.stdout:
            found.append(f"{machine}: a firewall opening of the test")
    return found


def test_readiness_passes_and_changes_nothing(lab: Lab, drills: Path) -> None:
    before = production_state(lab)
    code, report, stderr = drill(drills, "quarterly-test-failover", "readiness")
    assert code == 0, stderr
    assert report["status"] == "succeeded"
    assert {p["name"] for p in report["probes"] if p["ok"]} >= {
        "every-host-answers",
        "recovery-replica-is-current",
        "recovery-site-files-are-fresh",
    }
    assert production_state(lab) == before


def test_the_test_failover_leaves_production_untouched_and_cleans_up(
    lab: Lab, drills: Path
) -> None:
    before = production_state(lab)
    code, report, stderr = drill(drills, "quarterly-test-failover", "test")
    assert code == 0, stderr + json.dumps(report.get("failures"))
    assert report["status"] == "succeeded"
    measured = {s["service"]: s for s in report["services"]}
    assert set(measured) == set(SERVICES)
    for service in measured.values():
        assert service["rto_seconds"] is not None and service["rto_seconds"] <= LAB_RTO_SECONDS
        assert service["rpo_seconds"] is not None and service["rpo_seconds"] <= LAB_RPO_SECONDS
        assert service["lost_records"] == 0 and service["failed_writes"] == 0, service
        assert service["files_rpo_seconds"] is not None and service["files_rpo_ok"], service
    assert {r["name"] for r in report["rollbacks"] if r["status"] == "succeeded"} == {
        "copy-the-database",
        "restore-the-files",
        "serve-from-the-copy",
    }
    assert production_state(lab) == before
    assert leftovers(lab) == []
    # the drill's alerts were silenced in its name at site 2, and the silences are lifted
    journal = Path(report["journal_path"])
    events = [e for e in read_journal(journal) if e["event"] in {"silence", "silence-end"}]
    assert [e["event"] for e in events].count("silence") >= 1, events
    # ... and end a settle time after the drill (HostDown's 30 s + 2 scrapes in the lab), so
    # what its last steps caused clears without paging, and nothing is hidden after that
    ended = next(e["epoch"] for e in read_journal(journal) if e["event"] == "end")
    held = {e["new_id"]: e for e in events if e["event"] == "silence-end"}
    assert held and all(e["status"] == "ending" for e in held.values()), events
    for silence_id, ends_at in silence_ends(lab, journal).items():
        if silence_id in held:
            assert ends_at - ended <= 65, (silence_id, ends_at, ended)
    # the RTO is the service answering through site 2's balancer, not the database alone
    rtos = [
        entry
        for entry in read_journal(Path(report["journal_path"]))
        if entry.get("event") == "measure" and entry.get("metric") == "rto"
    ]
    assert len(rtos) == len(SERVICES)
    assert all("site2/app-01's balancer" in entry["detail"] for entry in rtos), rtos
    reports = [Path(p) for p in report["reports"]]
    assert {p.name for p in reports} == {
        "report.vi.html",
        "report.en.html",
        "report.vi.md",
        "report.en.md",
    }
    html = Path(report["journal_path"]).with_name("report.vi.html").read_text("utf-8")
    assert html.count("<svg") >= 2 and "<script" not in html
    record = lab.exec(
        "primary-mon-01", "cat", "/var/lib/egov/state/drills/quarterly-test-failover.json"
    )
    assert json.loads(record.stdout)["result"] == "success"


def test_the_closing_hash_reaches_both_monitoring_sites_and_a_rewritten_journal_is_refused(
    lab: Lab, drills: Path, tmp_path: Path
) -> None:
    """After the quarterly test failover above: its journal verifies, both monitoring hosts
    hold its closing hash, and a copy re-hashed after an edit, or cut, is refused."""
    journal = sorted(drills.glob("*-quarterly-test-failover-test/journal.jsonl"))[-1]
    result = egov("drill", "verify", str(journal), "-o", "json")
    assert result.returncode == 0, result.stderr
    verified = json.loads(result.stdout)
    for machine in MONITORING_HOSTS:
        record = lab.exec(machine, "cat", "/var/lib/egov/state/drills/quarterly-test-failover.json")
        published = json.loads(record.stdout)
        assert published["journal_closing_hash"] == verified["closing_hash"], machine
        assert published["journal_key"] == verified["key"], machine
    lines = journal.read_text("utf-8").splitlines(keepends=True)
    edited = json.loads(lines[1])
    edited["operator"] = "someone-else"
    rehashed = tmp_path / "rehashed.jsonl"
    rehashed.write_text("".join(_rehash([lines[0], json.dumps(edited) + "\n", *lines[2:]])))
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:-3]), "utf-8")
    for path, line, words in (
        (rehashed, len(lines), "signature does not match"),
        (cut, len(lines) - 3, "without its closing entry"),
    ):
        for command in ("verify", "report"):
            result = egov("drill", command, str(path))
            # verify judges the journal (1); report refuses it as bad input (2)
            assert result.returncode == (1 if command == "verify" else 2), result.stderr
            assert result.stderr.startswith(f"egov: {path}:{line}: "), result.stderr
            assert words in result.stderr


def test_site2s_balancer_down_fails_the_test_failovers_rto(lab: Lab, drills: Path) -> None:
    """A test's RTO is each service answering its health check through site 2's load
    balancer, from the isolated copy: with nginx stopped there the services never answer, so
    the test fails its RTO, and its cleanup leaves production and site 2 as they were. (With
    nginx running, the test failover above passes with that RTO.)"""
    before = production_state(lab)
    lab.exec("site2-app-01", "systemctl", "stop", "nginx")
    try:
        code, report, stderr = drill(drills, "quarterly-test-failover", "test")
    finally:
        lab.exec("site2-app-01", "systemctl", "start", "nginx")
    assert code == 1, stderr
    assert report["status"] != "succeeded"
    measured = {s["service"]: s for s in report["services"]}
    assert set(measured) == set(SERVICES)
    for service in measured.values():
        assert service["rto_seconds"] is None and not service["rto_ok"], service
    assert production_state(lab) == before
    assert leftovers(lab) == []
    active = lab.exec("site2-app-01", "systemctl", "is-active", "nginx")
    assert active.stdout.strip() == "active"


def _rehash(lines: list[str]) -> list[str]:
    """A forger's chain: every entry hashed again, the close pointed at the new last hash."""
    entries = [json.loads(line) for line in lines]
    previous = GENESIS
    for entry in entries:
        if entry["event"] == "close":
            entry["last_hash"] = previous
        entry["prev"] = previous
        entry["hash"] = hash_entry(entry)
        previous = entry["hash"]
    return [json.dumps(entry, sort_keys=True) + "\n" for entry in entries]


def _failing_scenario(directory: Path) -> Path:
    """The quarterly test with a step that cannot pass after the copy was made."""
    text = (SHIPPED / "quarterly-test-failover.yaml").read_text("utf-8")
    text = text.replace("name: quarterly-test-failover", "name: failing-test-failover")
    text = text.replace(
        "      - group: verify\n        steps:\n",
        "      - group: verify\n        steps:\n"
        "          - name: the-replica-takes-writes\n"
        "            probe: database-writable\n"
        "            with: {site: site2}\n"
        "            timeout: 5s\n",
    )
    path = directory / "failing-test-failover.yaml"
    path.write_text(text, "utf-8")
    return path


def test_a_drill_whose_step_fails_rolls_back_and_the_estate_stays_ready(
    lab: Lab, drills: Path, tmp_path: Path
) -> None:
    scenario = _failing_scenario(tmp_path)
    try:
        code, report, stderr = drill(drills, str(scenario), "test")
    finally:  # the result went to the exporters: a failed scenario would page (DrillFailed)
        for machine in ("primary-mon-01", "site2-mon-01"):
            lab.exec(machine, "rm", "-f", "/var/lib/egov/state/drills/failing-test-failover.json")
    assert code == 1, stderr
    assert report["status"] == "failed"
    steps = {s["name"]: s["status"] for s in report["steps"]}
    assert steps["the-replica-takes-writes"] == "timed-out"
    assert "services-answer-at-recovery-site" not in steps  # after the failure nothing more ran
    assert {r["name"]: r["status"] for r in report["rollbacks"]} == {
        "serve-from-the-copy": "succeeded",
        "restore-the-files": "succeeded",
        "copy-the-database": "succeeded",
    }
    after = [p for p in report["probes"] if p["phase"] == "after"]
    assert after and all(p["ok"] for p in after)
    assert leftovers(lab) == []
    code, _, stderr = drill(drills, "quarterly-test-failover", "readiness")
    assert code == 0, stderr


def test_a_killed_drill_blocks_new_ones_until_recovered(lab: Lab, drills: Path) -> None:
    process = subprocess.Popen(
        [
            EGOV,
            "drill",
            "run",
            "quarterly-test-failover",
            "--mode",
            "test",
            "-i",
            str(INVENTORY),
            "--drill-dir",
            str(drills),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        journal = _wait_for_step_end(drills, "copy-the-database", timeout=300)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert lab.exec("site2-db-01", "test", "-d", "/var/lib/egov-drill/pg").returncode == 0
    # the killed drill's silences outlive it (until their own end), lifted only by recover
    silences = settled_silences(lab, journal, "active")
    assert silences and all("active" in states for states in silences.values()), silences
    code, _, stderr = drill(drills, "quarterly-test-failover", "readiness")
    assert code == 1 and "egov drill recover" in stderr, stderr
    result = egov("drill", "recover", "--drill-dir", str(drills))
    assert result.returncode == 0, result.stderr
    entries = read_journal(journal)
    assert entries[-2]["event"] == "end" and entries[-2]["status"] == "recovered"
    assert entries[-1]["event"] == "close"  # recover closes the journal it finished
    assert egov("drill", "verify", str(journal)).returncode == 0
    assert any(e["event"] == "rollback-end" and e["name"] == "copy-the-database" for e in entries)
    assert leftovers(lab) == []
    silences = settled_silences(lab, journal, "expired")
    assert all(set(states) == {"expired"} for states in silences.values()), silences
    code, _, stderr = drill(drills, "quarterly-test-failover", "readiness")
    assert code == 0, stderr


def _wait_for_step_end(drills: Path, step: str, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for journal in sorted(drills.glob("*-test/journal.jsonl")):
            entries = read_journal(journal, torn_tail_ok=True)  # it is being written
            if not entries or entries[-1]["event"] in {"end", "close"}:
                continue
            if any(e["event"] == "step-end" and e["name"] == step for e in entries):
                return journal
        time.sleep(0.5)
    raise AssertionError(f"step {step} did not end within {timeout} s")


WAL_CUT_TABLE = "egov_test_wal_cut"
#: The quarterly test's last readiness probe: once it is journalled the canary starts writing.
LAST_READINESS_PROBE = "credentials-are-readable"


def cut_off_the_wal_stream(lab: Lab) -> None:
    """A firewall rule inside site 2's replica dropping every packet from the primary's
    PostgreSQL port: the replica stops receiving WAL (it still replays what it received, and
    it still answers locally: not a paused replay, a lost stream)."""
    primary = lab.address("primary-db-01")
    script = (
        f"nft add table inet {WAL_CUT_TABLE} && "
        f"nft add chain inet {WAL_CUT_TABLE} input "
        "'{ type filter hook input priority -10 ; policy accept ; }' && "
        f"nft add rule inet {WAL_CUT_TABLE} input ip saddr {primary} tcp sport 5432 drop"
    )
    result = lab.exec("site2-db-01", "sh", "-ec", script)
    assert result.returncode == 0, result.stderr


def reconnect_the_wal_stream(lab: Lab, timeout: float = 300) -> None:
    """Remove the rule, end the primary's stalled sender (the replica reconnects in seconds
    instead of waiting out its TCP retries) and wait until site 2 has replayed everything the
    primary had written by then."""
    lab.exec(
        "site2-db-01", "sh", "-c", f"nft delete table inet {WAL_CUT_TABLE} 2>/dev/null || true"
    )
    site2 = lab.address("site2-db-01")
    psql(
        lab,
        "primary-db-01",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication "
        f"WHERE client_addr = '{site2}'",
    )
    written = psql(lab, "primary-db-01", "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout
    while psql(lab, "site2-db-01", f"SELECT pg_last_wal_replay_lsn() >= '{written}'") != "t":
        assert time.monotonic() < deadline, "site 2's replica did not catch up"
        time.sleep(1)


def refresh_the_file_copies(lab: Lab) -> None:
    """A file snapshot taken and replicated now: a drill meant to pass restores a fresh one.
    A failure says why in the units' own words (the CLI points at the journal)."""
    for command, machine, unit in (
        (("backup", "run", "--dataset", "files"), "primary-store-01", "egov-backup@files"),
        (("backup", "replicate"), "primary-mon-01", "egov-replicate"),
    ):
        result = egov(*command)
        assert result.returncode == 0, result.stderr + get_journal(lab, machine, unit)


def _wait_for_probe(drills: Path, probe: str, timeout: float) -> None:
    """Until the test drill in progress has journalled ``probe`` (read line by line, as a
    journal being written may end in half a line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for journal in drills.glob("*-test/journal.jsonl"):
            entries = []
            for line in journal.read_text("utf-8").splitlines():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
            running = bool(entries) and entries[-1].get("event") != "end"
            if running and any(
                e.get("event") == "probe" and e.get("name") == probe for e in entries
            ):
                return
        time.sleep(0.1)
    raise AssertionError(f"probe {probe} was not journalled within {timeout} s")


def test_a_replica_cut_off_its_wal_stream_fails_the_rpo_then_passes_once_caught_up(
    lab: Lab, drills: Path
) -> None:
    # the cut lands while the canary writes (its warm-up, before the copy is taken): what
    # site 2 never received is lost, record by record, and the verdict must say which
    process = subprocess.Popen(
        [
            EGOV, "drill", "run", "quarterly-test-failover", "--mode", "test",
            "-i", str(INVENTORY), "--drill-dir", str(drills), "-o", "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        _wait_for_probe(drills, LAST_READINESS_PROBE, timeout=300)
        cut_off_the_wal_stream(lab)
        stdout, stderr = process.communicate(timeout=900)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        reconnect_the_wal_stream(lab)
    report = json.loads(stdout) if stdout.strip() else {}
    assert process.returncode == 1, stderr + stdout[-3000:]
    assert report["status"] == "failed"
    failures = " ".join(report["failures"])
    for service in report["services"]:
        assert not service["rpo_ok"], service
        assert service["lost_records"] > 0, service
        assert service["rto_ok"], service  # the copy answered: the loss alone fails it
        # the lost records are named by number in the verdict and in the journalled failures
        assert any(re.search(r"records \d{13}", p) for p in service["problems"]), service
        assert f"{service['service']}: " in failures
    assert re.search(r"records \d{13}", failures), failures
    assert leftovers(lab) == []  # the cleanup ran all the same
    # reconnected and caught up: the same drill passes, nothing lost
    refresh_the_file_copies(lab)
    code, report, stderr = drill(drills, "quarterly-test-failover", "test")
    assert code == 0, stderr + json.dumps(report.get("failures"))
    for service in report["services"]:
        assert service["rpo_ok"] and service["lost_records"] == 0, service
        assert service["failed_writes"] == 0, service


STALE_FILES_TARGET_SECONDS = 60
STALE_FOR_SECONDS = 90


def _stale_files_scenario(directory: Path, *, gate: bool) -> Path:
    """The quarterly test with a file-store target of 60 s, with or without its readiness
    gate on the copy's age (without it, the verdict alone must catch the stale copy)."""
    text = (SHIPPED / "quarterly-test-failover.yaml").read_text("utf-8")
    name = "stale-files-gated" if gate else "stale-files-test-failover"
    text = text.replace("name: quarterly-test-failover", f"name: {name}")
    text = text.replace(
        "\nreadiness:\n", f"\ntargets:\n  files_rpo: {STALE_FILES_TARGET_SECONDS}s\n\nreadiness:\n"
    )
    if not gate:
        gate_probe = (
            "  - name: recovery-site-files-are-fresh\n"
            "    probe: backup-within-target\n"
            "    with: {dataset: $files_dataset, repository: $recovery_repository}\n"
        )
        assert gate_probe in text
        text = text.replace(gate_probe, "")
    path = directory / f"{name}.yaml"
    path.write_text(text, "utf-8")
    return path


def test_a_file_copy_older_than_its_target_fails_the_file_store_verdict(
    lab: Lab, drills: Path, tmp_path: Path
) -> None:
    from tests.lab.test_backup_faults import _timer_paused

    gated = _stale_files_scenario(tmp_path, gate=True)
    ungated = _stale_files_scenario(tmp_path, gate=False)
    # replication stopped: site 2's newest file snapshot ages while the primary's backups go on
    with _timer_paused(lab, "primary-mon-01", "egov-replicate"):
        refresh_the_file_copies(lab)
        time.sleep(STALE_FOR_SECONDS)
        try:
            code, refused, stderr = drill(drills, str(gated), "readiness")
            assert code == 1, stderr
            probes = {p["name"]: p for p in refused["probes"]}
            assert not probes["recovery-site-files-are-fresh"]["ok"], probes
            code, report, stderr = drill(drills, str(ungated), "test")
        finally:  # the results went to the exporters: a failed scenario would page
            for machine in ("primary-mon-01", "site2-mon-01"):
                lab.exec(
                    machine, "sh", "-c",
                    "rm -f /var/lib/egov/state/drills/stale-files-test-failover.json"
                    " /var/lib/egov/state/drills/stale-files-gated.json",
                )  # fmt: skip
    assert code == 1, stderr
    assert report["status"] == "failed"
    for service in report["services"]:
        assert service["files_rpo_seconds"] >= STALE_FOR_SECONDS, service
        assert service["files_rpo_target_seconds"] == STALE_FILES_TARGET_SECONDS, service
        assert not service["files_rpo_ok"], service
        assert service["rto_ok"] and service["rpo_ok"], service  # the file store alone fails
    assert "file-store RPO" in " ".join(report["failures"])
    assert leftovers(lab) == []


def test_a_vnpt_link_cut_mid_replication_fails_cleanly_and_the_next_run_completes(
    lab: Lab, drills: Path
) -> None:
    # A snapshot newer than the last replication, as the lab's 5-minute file backups often
    # leave: the next run will copy it, so readiness must not count it as missing.
    result = egov("backup", "run", "--dataset", "files")
    assert result.returncode == 0, result.stderr
    code, report, stderr = drill(drills, "vnpt-link-cut-during-replication", "test")
    assert code == 0, stderr + json.dumps(report.get("failures"))
    steps = {s["name"]: s for s in report["steps"]}
    failed_at = steps["the-run-fails-cleanly"]
    assert failed_at["status"] == "succeeded"  # the cut run failed, and within its bounds
    assert failed_at["finished_at"] - steps["cut-the-offsite-link"]["started_at"] < 300
    for name in ("nothing-missing-offsite", "nothing-missing-at-recovery", "no-lock-left-offsite"):
        assert steps[name]["status"] == "succeeded", steps[name]
    assert all(r["status"] == "succeeded" for r in report["rollbacks"]), report["rollbacks"]
    assert "0 faults in force" in egov("lab", "status").stdout


def _make_whole(lab: Lab, drills: Path, scenario: str) -> None:
    """After a failed failover test: power everything back and fail back if another host
    leads, so the rest of the suite starts from a whole lab (as the drill itself would)."""
    for site in ("primary", "site2"):
        lab.api.power_on_site(lab.spec, site)
    for machine in ("primary-db-01", "primary-db-02"):
        if machine in {f.target for f in lab.api.lab_status(lab.spec).faults}:
            lab.api.power_on_host(lab.spec, machine)
    leads = lab.exec(
        "primary-db-01", "runuser", "-u", "postgres", "--", "psql", "-XtAc",
        "SELECT pg_is_in_recovery()",
    )  # fmt: skip
    if leads.stdout.strip() != "f":
        drill(drills, scenario, "failback", "--confirm", "--reason", "repair after a failed test")


def _files_checksums(lab: Lab) -> str:
    listing = lab.exec(
        "primary-store-01",
        "sh",
        "-c",
        "cd /srv/files && find . -type f -exec sha256sum {} + | sort",
    )
    assert listing.returncode == 0, listing.stderr
    return listing.stdout


def test_ransomware_recovery_restores_the_files_from_before_the_attack(
    lab: Lab, drills: Path
) -> None:
    # The file stores as the latest VNPT snapshot has them: a file of this test's own, backed up
    # and replicated now (earlier tests' files may have been removed since their last backup, and
    # a restore brings back what the snapshot holds).
    written = lab.exec(
        "primary-store-01", "sh", "-c",
        "mkdir -p /srv/files/portal"
        " && head -c 65536 /dev/urandom > /srv/files/portal/ransom-test.bin",
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    for command in (("backup", "run", "--dataset", "files"), ("backup", "replicate")):
        result = egov(*command)
        assert result.returncode == 0, result.stderr
    before = _files_checksums(lab)
    assert "ransom-test.bin" in before
    try:
        code, report, stderr = drill(
            drills, "ransomware-recovery", "failover", "--confirm", "--reason", "lab test"
        )
        assert code == 0, stderr + json.dumps(report.get("failures"))
        assert _files_checksums(lab) == before  # byte-exact, no *.locked, no ransom note
        kept = lab.exec("primary-store-01", "sh", "-c", "ls -d /srv/files.egov-damaged-*")
        assert kept.returncode == 0  # the damaged tree is kept as evidence
        steps = {s["name"]: s for s in report["steps"]}
        assert "encrypted" in steps["encrypt-the-file-stores"]["output"]
        assert report["rollbacks"] == []  # it succeeded: nothing to undo
    finally:
        lab.exec("primary-store-01", "sh", "-c", "rm -rf /srv/files.egov-damaged-*")


def _fail_back(lab: Lab, drills: Path, scenario: str) -> None:
    """Run ``scenario``'s failback and check what every failback promises: no acknowledged
    record lost, db-01 leading again, both replicas streaming from it."""
    code, failback, stderr = drill(
        drills, scenario, "failback", "--confirm", "--reason", "lab test"
    )
    assert code == 0, stderr + json.dumps(failback.get("failures"))
    for measured in failback["services"]:
        assert "0 acknowledged records lost" in measured["detail"]
        assert measured["lost_records"] == 0 and measured["rpo_ok"], measured
    assert psql(lab, "primary-db-01", "SELECT pg_is_in_recovery()") == "f"
    for replica in ("primary-db-02", "site2-db-01"):
        assert psql(lab, replica, "SELECT status FROM pg_stat_wal_receiver") == "streaming"


def test_loss_of_the_primary_database_host_fails_over_locally_and_back(
    lab: Lab, drills: Path
) -> None:
    whole = False
    try:
        lb = lab.address("primary-lb-01")
        code, failover, stderr = drill(
            drills, "loss-of-primary-database", "failover", "--confirm", "--reason", "lab test"
        )
        assert code == 0, stderr + json.dumps(failover.get("failures"))
        for service in failover["services"]:
            assert service["rto_seconds"] <= LAB_RTO_SECONDS, service
            assert service["rpo_seconds"] <= LAB_RPO_SECONDS, service
            assert service["lost_records"] == 0 and service["failed_writes"] == 0, service
            assert health(lb, service["service"]) == 200  # the apps found db-02 by themselves
        assert psql(lab, "primary-db-02", "SELECT pg_is_in_recovery()") == "f"
        _fail_back(lab, drills, "loss-of-primary-database")
        whole = True
    finally:
        if not whole:
            _make_whole(lab, drills, "loss-of-primary-database")


def test_loss_of_the_primary_site_fails_over_to_site2_and_back(lab: Lab, drills: Path) -> None:
    whole = False
    try:
        lb, app2 = lab.address("primary-lb-01"), lab.address("site2-app-01")
        code, failover, stderr = drill(
            drills, "loss-of-primary-site", "failover", "--confirm", "--reason", "lab test"
        )
        assert code == 0, stderr + json.dumps(failover.get("failures"))
        for service in failover["services"]:
            assert service["rto_seconds"] <= LAB_RTO_SECONDS, service
            assert service["rpo_seconds"] <= LAB_RPO_SECONDS, service
            assert service["lost_records"] == 0 and service["failed_writes"] == 0, service
            assert health(app2, service["service"]) == 200
        canary = next(
            e for e in read_journal(Path(failover["journal_path"])) if e["event"] == "canary"
        )["services"]

        _fail_back(lab, drills, "loss-of-primary-site")
        for service in SERVICES:
            assert health(lb, service) == 200
            # every record acknowledged at site 2 since the failover is at the primary again
            assert (last_record(lb, service) or 0) >= canary[service]["last_acknowledged"]
        whole = True
    finally:
        if not whole:
            _make_whole(lab, drills, "loss-of-primary-site")
