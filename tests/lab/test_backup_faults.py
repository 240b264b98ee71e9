"""Backups under faults on the lab: a corrupted pack, a link cut mid-copy, a backup killed
halfway, a full repository disk, a thief with the replication keys, and secrets that must
never show.

Each test makes its own small change on the file store (so that there is something new to
back up and copy), injects its fault and clears it in ``finally``: the lab is left as found.
Repositories are reached from here with egov's own access (``open_repository``: secrets in
private files, never in an argv).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from egov.backup.bucket import get_bucket_name, make_s3_client
from egov.backup.ondemand import make_run_now_command
from egov.backup.repositories import make_repository_config, open_repository
from egov.backup.restic import Snapshot, parse_snapshots
from egov.backup.resticexec import Restic
from egov.backup.undelete import get_object_versions
from egov.errors import LabError
from egov.inventory import load_estate
from egov.lab.disk import run_fill
from egov.lab.paths import get_host_dir
from tests.lab.conftest import (
    EGOV,
    INVENTORY,
    Lab,
    egov,
    get_journal,
    read_backup_record,
    replicate,
)

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("deployed")]

CACHE = Path("/var/cache/egov/restic-test")
SECRETS = Path("/var/lib/egov/lab/secrets")
STORE = "primary-store-01"
MONITOR = "primary-mon-01"
FILES = "/srv/files/portal"
#: inventory/lab.yaml's replication_timeout, and the grace after the interrupt
COPY_BOUND_SECONDS = 30 + 10


@contextmanager
def lab_repository(name: str) -> Iterator[Restic]:
    """restic bound to the lab's repository ``name`` with the inventory's credentials."""
    estate = load_estate(INVENTORY).estate
    with open_repository(make_repository_config(estate, name), cache_dir=CACHE) as restic:
        yield restic


def list_snapshots(restic: Restic, *tags: str) -> list[Snapshot]:
    """The snapshots carrying every one of ``tags`` (all of them, manifests too, for none)."""
    options = ("--tag", ",".join(tags)) if tags else ()
    result = restic.run(("restic", "snapshots", "--json", *options))
    assert result.returncode == 0, result.stderr
    return parse_snapshots(result.stdout)


def _wait_until_inactive(lab: Lab, machine: str, unit: str, timeout: float = 300) -> None:
    """Until ``unit`` on ``machine`` is not running (a timer-started run in flight ends)."""
    deadline = time.monotonic() + timeout
    while lab.exec(machine, "systemctl", "is-active", unit).stdout.strip() in (
        "activating",
        "active",
        "deactivating",
    ):
        assert time.monotonic() < deadline, f"{unit} on {machine} did not end"
        time.sleep(1)


@contextmanager
def _timer_paused(lab: Lab, machine: str, unit: str) -> Iterator[None]:
    """``unit``'s timer stopped and a run it started already waited for; the timer is
    started again at the end."""
    lab.api.stop_service(lab.spec, machine, f"{unit}.timer")
    try:
        _wait_until_inactive(lab, machine, f"{unit}.service")
        yield
    finally:
        lab.api.start_service(lab.spec, machine, f"{unit}.timer")


@pytest.fixture
def replication_paused(lab: Lab) -> Iterator[None]:
    """Only the test starts replication: its timer (every few minutes in the lab, to keep
    the file store's copies fresh) is stopped, and a run in progress is waited for."""
    with _timer_paused(lab, MONITOR, "egov-replicate"):
        yield


def write_on_store(name: str, content: bytes) -> str:
    """Write ``content`` as ``FILES/name`` on the file store (through its disk); its path."""
    (get_host_dir("camau-lab", STORE) / "root" / FILES.lstrip("/") / name).write_bytes(content)
    return f"{FILES}/{name}"


def back_up_files() -> None:
    result = egov("backup", "run", "--dataset", "files", "--host", "primary/store-01")
    assert result.returncode == 0, result.stderr


@pytest.mark.usefixtures("replication_paused")
def test_the_restore_test_names_the_dataset_and_site_of_a_corrupted_pack(
    lab: Lab, tmp_path: Path
) -> None:
    """Flip bytes inside one blob of site 2's copy: the restore test of that dataset from
    that site fails and says so; the other datasets there and the other sites still restore."""
    content = os.urandom(64 * 1024)  # under restic's smallest chunk: one blob, id = SHA-256
    name = f"corrupt-{time.time_ns()}.bin"
    write_on_store(name, content)
    back_up_files()
    assert replicate(lab).returncode == 0, get_journal(lab, MONITOR, "egov-replicate")
    with lab_repository("site2") as restic:
        found = restic.run(
            ("restic", "find", "--blob", hashlib.sha256(content).hexdigest(), "--show-pack-id")
        )
    pack = re.search(r"belongs to pack ([0-9a-f]{64})", found.stdout)
    where = re.search(r"offset (\d+), length (\d+)", found.stdout)
    assert pack and where, found.stdout + found.stderr
    path = f"/srv/restic/site2/data/{pack[1][:2]}/{pack[1]}"
    lab.api.corrupt_file(lab.spec, "site2-store-01", path, int(where[1]) + int(where[2]) // 2)
    try:
        state = tmp_path / "state"
        verify = egov(
            "backup", "verify", "--restore-test", "--repository", "site2", "--state-dir", str(state)
        )
    finally:
        lab.api.repair_file(lab.spec, "site2-store-01", path)
    stored = get_host_dir("camau-lab", "site2-store-01") / "root" / path.lstrip("/")
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == pack[1]  # repaired byte-exact
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "restore test of files from site2: failure" in verify.stdout
    for dataset in ("databases", "etc"):
        assert f"restore test of {dataset} from site2: success" in verify.stdout
    message = verify.stderr
    assert "restore test of dataset files from repository site2 (site site2) failed" in message
    assert f"{FILES}/{name}" in message and "(corrupted, exit 1)" in message
    assert "dataset databases" not in message and "dataset etc" not in message
    record = json.loads((state / "restore" / "files@site2.json").read_text())
    assert (record["result"], record["site"]) == ("failure", "site2")
    for repository in ("primary", "vnpt"):
        target = tmp_path / repository
        restored = egov(
            "backup",
            "restore",
            "--dataset",
            "files",
            "--repository",
            repository,
            "--target",
            str(target),
            "--verify",
        )
        assert restored.returncode == 0, restored.stderr
        assert (target / FILES.lstrip("/") / name).read_bytes() == content


def _restore_files_from_site2(target: Path) -> tuple[str, str]:
    """``egov backup restore --verify`` of the file store from site 2: stdout and stderr,
    each on one line (rich wraps long lines)."""
    result = egov(
        "backup", "restore", "--dataset", "files", "--repository", "site2",
        "--target", str(target), "--verify",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return " ".join(result.stdout.split()), " ".join(result.stderr.split())


@pytest.mark.usefixtures("replication_paused")
def test_a_snapshot_copied_before_its_manifest_is_restored_and_said_unchecked(
    lab: Lab, tmp_path: Path
) -> None:
    """A replication that lists the primary between a backup's snapshot and its manifest
    (stored a moment later) copies the one without the other. That made a failover drill
    restore the snapshot before the newest; now the newest is restored, the user is told
    it could not be compared, and the next replication brings the manifest."""
    # the store's 5-minute backup could add a snapshot while the test looks
    with _timer_paused(lab, STORE, "egov-backup@files"):
        _copy_a_snapshot_before_its_manifest_and_restore(lab, tmp_path)


def _copy_a_snapshot_before_its_manifest_and_restore(lab: Lab, tmp_path: Path) -> None:
    content = os.urandom(4096)
    name = f"unmanifested-{time.time_ns()}.bin"
    write_on_store(name, content)
    back_up_files()
    estate = load_estate(INVENTORY).estate
    with lab_repository("primary") as restic:
        newest = list_snapshots(restic, "egov", "dataset:files")[-1]
    source, site2 = (make_repository_config(estate, repo) for repo in ("primary", "site2"))
    with open_repository(site2, cache_dir=CACHE, source=source) as restic:
        copied = restic.run(("restic", "copy", newest.id))  # the data snapshot alone
        assert copied.returncode == 0, copied.stderr
        copy = next(s for s in list_snapshots(restic, "egov") if s.is_copy_of(newest.id))

    stdout, stderr = _restore_files_from_site2(tmp_path / "early")
    assert f"snapshot {copy.short_id} from site2" in stdout and "read back by restic" in stdout
    assert f"warning: snapshot {copy.short_id} has no manifest in site2" in stderr
    assert (tmp_path / "early" / FILES.lstrip("/") / name).read_bytes() == content

    assert replicate(lab).returncode == 0, get_journal(lab, MONITOR, "egov-replicate")
    stdout, stderr = _restore_files_from_site2(tmp_path / "after")
    assert f"snapshot {copy.short_id} from site2" in stdout
    assert "verified against the manifest taken at backup time" in stdout
    assert "warning" not in stderr
    assert (tmp_path / "after" / FILES.lstrip("/") / name).read_bytes() == content


def _replication_journal(lab: Lab, since: float) -> str:
    argv = ("journalctl", "-u", "egov-replicate", f"--since=@{since:.0f}", "-o", "cat")
    return lab.exec(MONITOR, *argv, "--no-pager").stdout


def _wait_for_line(lab: Lab, text: str, since: float, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in _replication_journal(lab, since):
        assert time.monotonic() < deadline, f"no {text!r} in the replication's journal"
        time.sleep(0.5)


def _lock_hosts(restic: Restic) -> list[str]:
    """The host of each lock in the repository (``--no-lock``: listing takes none)."""
    listed = restic.run(("restic", "--no-lock", "list", "locks"))
    assert listed.returncode == 0, listed.stderr
    hosts = []
    for lock in listed.stdout.split():
        shown = restic.run(("restic", "--no-lock", "cat", "lock", lock))
        if shown.returncode == 0:  # a live lock may go between the two calls
            hosts.append(str(json.loads(shown.stdout)["hostname"]))
    return hosts


@pytest.mark.usefixtures("replication_paused")
def test_a_link_cut_during_replication_fails_in_bounded_time_and_the_next_run_completes(
    lab: Lab,
) -> None:
    """The VNPT link is slowed so that the copy takes seconds, then cut in the middle of it;
    site 2's copy, made at the same time (``backup.parallel_copies``), is not held up."""
    write_on_store(f"cut-{time.time_ns()}.bin", os.urandom(1024 * 1024))
    back_up_files()
    since = time.time() - 1
    lab.api.shape_link(lab.spec, "vnpt", 800)  # 100 kB/s: the MiB takes about 10 s
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            first = pool.submit(replicate, lab)
            _wait_for_line(lab, "copying primary → vnpt", since)
            # backup.parallel_copies: site 2's copy starts beside VNPT's, not after it
            _wait_for_line(lab, "copying primary → site2", since, timeout=5)
            time.sleep(5)  # the copy is uploading now
            cut_at = datetime.now(UTC)
            lab.api.cut_link(lab.spec, "vnpt")
            cut = first.result(timeout=600)
            cut_seconds = time.monotonic() - started
    finally:
        lab.api.restore_link(lab.spec, "vnpt")
        lab.api.unshape_link(lab.spec, "vnpt")
    journal = _replication_journal(lab, since)
    assert cut.returncode != 0, journal
    # the copy in flight was stopped at its bound, the catalog saw the cut at once, site 2
    # got its copy all the same
    assert "vnpt: copy from primary on repository vnpt (site vnpt) failed" in journal
    assert "timed out after 30.0 s" in journal
    assert "catalog of vnpt: repository vnpt (site vnpt) is unreachable" in journal
    assert "site2:" not in journal.partition("replication incomplete")[2], journal
    assert cut_seconds < 5 + COPY_BOUND_SECONDS + 60, journal
    second_started = datetime.now(UTC)
    second = replicate(lab)
    assert second.returncode == 0, get_journal(lab, MONITOR, "egov-replicate")
    with lab_repository("primary") as primary:
        wanted = {
            s.id
            for s in list_snapshots(primary)
            if {"egov", "egov-manifest"} & set(s.tags) and s.time < second_started
        }  # every backup and manifest taken before the second run
        assert not [h for h in _lock_hosts(primary) if h == MONITOR]
    with lab_repository("vnpt") as vnpt:
        copied = {s.original or s.id for s in list_snapshots(vnpt)}
        assert wanted <= copied, wanted - copied
        assert _lock_hosts(vnpt) == []
    # the stopped copy could not remove its lock at VNPT; the next run did, before copying
    # (the bucket's versions keep the history)
    vnpt_config = make_repository_config(load_estate(INVENTORY).estate, "vnpt")
    bucket = get_bucket_name(vnpt_config)
    locks = get_object_versions(make_s3_client(vnpt_config), bucket, "locks/")
    written = {v.key for v in locks if not v.delete_marker and v.modified < cut_at}
    removed = {v.key for v in locks if v.delete_marker and v.modified >= second_started}
    assert written & removed, "no lock of the stopped copy was left and cleared"


KILLED = "site2-mon-01"  # its /etc goes to the primary repository over site 2's link
PAYLOAD = get_host_dir("camau-lab", KILLED) / "root/etc/egov-kill-test/payload.bin"


@contextmanager
def _uploading(lab: Lab, unit: str) -> Iterator[bytes]:
    """Start ``unit`` on KILLED with 3 MiB of new data in /etc and site 2's link slowed to
    50 kB/s (the upload takes a minute); yield the data once restic is uploading it."""
    content = os.urandom(3 * 1024 * 1024)
    PAYLOAD.parent.mkdir(exist_ok=True)
    PAYLOAD.write_bytes(content)
    lab.api.shape_link(lab.spec, "site2", 400)
    try:
        started = lab.exec(KILLED, "systemctl", "start", "--no-block", unit)
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + 90
        with lab_repository("primary") as primary:
            while KILLED not in _lock_hosts(primary):  # restic has opened the repository
                assert time.monotonic() < deadline, get_journal(lab, KILLED, unit)
                time.sleep(0.5)
        time.sleep(3)  # uploading now
        yield content
    finally:
        lab.api.unshape_link(lab.spec, "site2")


@pytest.mark.usefixtures("replication_paused")
def test_a_backup_killed_halfway_loses_nothing_and_the_next_run_completes(
    lab: Lab, tmp_path: Path
) -> None:
    """SIGKILL to the whole unit (agent and restic) in the middle of an upload: no snapshot
    appears half-made, the last good record stands, and the next run backs everything up,
    clears the lock the killed restic could not remove, and restores verified."""
    unit = "egov-backup@etc.service"
    record_before = read_backup_record(lab, KILLED, f"etc@{KILLED}")
    with lab_repository("primary") as primary:
        before = {s.id for s in list_snapshots(primary, "dataset:etc")}
    try:
        with _uploading(lab, unit) as content:
            killed = lab.exec(KILLED, "systemctl", "kill", "--signal=SIGKILL", unit)
            assert killed.returncode == 0, killed.stderr
            deadline = time.monotonic() + 30
            while lab.exec(KILLED, "systemctl", "is-active", unit).stdout.strip() != "failed":
                assert time.monotonic() < deadline, get_journal(lab, KILLED, unit)
                time.sleep(0.5)
        assert read_backup_record(lab, KILLED, f"etc@{KILLED}") == record_before
        with lab_repository("primary") as primary:
            assert {s.id for s in list_snapshots(primary, "dataset:etc")} == before
            assert KILLED in _lock_hosts(primary)  # what SIGKILL left
        again = egov("backup", "run", "--dataset", "etc", "--host", f"site2/{KILLED[6:]}")
        assert again.returncode == 0, again.stderr + get_journal(lab, KILLED, unit)
        assert "was killed: clearing its lock" in get_journal(lab, KILLED, unit)
        with lab_repository("primary") as primary:
            after = {s.id for s in list_snapshots(primary, "dataset:etc")}
            assert before < after  # nothing lost, one more
            assert KILLED not in _lock_hosts(primary)
        target = tmp_path / "etc"
        restored = egov(
            "backup", "restore", "--dataset", "etc", "--repository", "primary",
            "--host", KILLED, "--target", str(target), "--verify",
        )  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        assert (target / "etc/egov-kill-test/payload.bin").read_bytes() == content
    finally:
        lab.exec(KILLED, "rm", "-rf", "/etc/egov-kill-test")
        lab.exec(KILLED, "systemctl", "reset-failed", unit)


@pytest.mark.usefixtures("replication_paused")
def test_a_backup_stopped_halfway_records_the_stop_and_leaves_no_lock(lab: Lab) -> None:
    """``systemctl stop`` (a shutdown does the same) in the middle of an upload: the agent
    alone gets SIGTERM, interrupts restic, which removes its own lock, records the stop with
    its metrics, and the next run completes without anything to clear."""
    unit = "egov-backup@etc.service"
    with lab_repository("primary") as primary:
        before = {s.id for s in list_snapshots(primary, "dataset:etc")}
    try:
        with _uploading(lab, unit):
            started = time.monotonic()
            stopped = lab.exec(KILLED, "systemctl", "stop", unit)  # returns once it has ended
            assert stopped.returncode == 0, stopped.stderr
            assert time.monotonic() - started < 30, get_journal(lab, KILLED, unit)
        record = read_backup_record(lab, KILLED, f"etc@{KILLED}")
        assert record is not None and record["result"] == "failure"
        assert "stopped by SIGTERM" in str(record["error"]), record
        metrics = lab.exec(KILLED, "cat", "/var/lib/prometheus/node-exporter/egov_backup_etc.prom")
        result = [
            line
            for line in metrics.stdout.splitlines()
            if line.startswith("dr_backup_last_result{")
        ]
        assert result and result[0].endswith(" 0.0"), metrics.stdout
        with lab_repository("primary") as primary:
            assert {s.id for s in list_snapshots(primary, "dataset:etc")} == before
            assert KILLED not in _lock_hosts(primary)  # restic removed its own lock
        # a clean end: the dataset lock names no run, so the next has nothing to clear
        assert lab.exec(KILLED, "cat", "/var/lib/egov/state/locks/etc.lock").stdout == ""
        again = egov("backup", "run", "--dataset", "etc", "--host", f"site2/{KILLED[6:]}")
        assert again.returncode == 0, again.stderr + get_journal(lab, KILLED, unit)
    finally:
        lab.exec(KILLED, "rm", "-rf", "/etc/egov-kill-test")
        lab.exec(KILLED, "systemctl", "reset-failed", unit)


@contextmanager
def _stream_stopped(lab: Lab, machine: str, unit: str) -> Iterator[None]:
    """``unit`` (always on) stopped, and started again at the end."""
    lab.api.stop_service(lab.spec, machine, unit)
    try:
        yield
    finally:
        lab.api.start_service(lab.spec, machine, unit)


@contextmanager
def _kept_full(lab: Lab, machine: str, path: str) -> Iterator[None]:
    """The disk holding ``path`` on ``machine`` full, and kept full: what anything frees on
    it meanwhile is taken again within a fifth of a second.

    Filling once was not enough (seen in a rehearsal: the backup stored its 3 KiB). Whatever
    deletes a file on the host frees room, and journald is one such: its first write to a
    full disk makes it delete its archived files. The test stops what it can (Barman, the
    store's own backup, the journal's archived files vacuumed first); this catches the rest.
    """
    lab.api.fill_filesystem(lab.spec, machine, path)
    done = threading.Event()
    errors: list[Exception] = []

    def top_up() -> None:
        root = get_host_dir(lab.spec.name, machine) / "root"
        while not done.wait(0.2):
            try:
                run_fill(root, path)
            except (LabError, OSError) as error:  # reported when the test ends
                errors.append(error)
                return

    keeper = threading.Thread(target=top_up, daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join(timeout=30)
        lab.api.unfill_filesystem(lab.spec, machine, path)
    assert not errors, f"the disk was not kept full: {errors[0]}"


@pytest.mark.usefixtures("replication_paused")
def test_a_full_repository_disk_fails_the_backup_clearly_and_the_next_run_completes(
    lab: Lab,
) -> None:
    """The primary repository's disk is full: the databases' backup fails once restic has
    retried (about a minute), naming the likely cause; the last good record and every stored
    snapshot stand; with space freed the next run completes."""
    machine, key = "primary-db-01", "databases@primary-db-01"
    record_before = read_backup_record(lab, machine, key)
    assert record_before is not None and record_before["result"] == "success"
    with lab_repository("primary") as primary:
        before = {s.id for s in list_snapshots(primary, "dataset:databases")}
    # the store's own 5-minute backup keeps its records on the disk being filled; a run in
    # flight is waited for, or what it frees on that disk would let the backup through. The
    # databases' own 5-minute timer is paused too: a run it started while the disk was being
    # filled could store its few KiB before the last byte went, and the test's run would
    # only wait for it and report its success. Barman on the same disk files and deletes
    # WAL every 20 s: its cron and its stream are stopped too (the slot keeps the WAL on
    # db-01 meanwhile), and journald's archived files are vacuumed before the fill.
    with (
        _timer_paused(lab, STORE, "egov-backup@files"),
        _timer_paused(lab, machine, "egov-backup@databases"),
        _timer_paused(lab, STORE, "egov-barman-cron"),
        _stream_stopped(lab, STORE, "egov-barman-receive-wal@databases-primary-db-01.service"),
    ):
        vacuumed = lab.exec(STORE, "journalctl", "--vacuum-size=1")
        assert vacuumed.returncode == 0, vacuumed.stderr
        with _kept_full(lab, STORE, "/srv/restic"):
            started = time.monotonic()
            failed = egov("backup", "run", "--dataset", "databases")
            seconds = time.monotonic() - started
    message = failed.stdout + failed.stderr + get_journal(lab, machine, "egov-backup@databases")
    assert failed.returncode == 1, message
    assert "server-error" in message and "a full disk is the usual cause" in message, message
    assert "github.com/restic" not in message  # restic's words, not its stack
    assert seconds < 180, message
    record = read_backup_record(lab, machine, key)
    assert record is not None and record["result"] == "failure"
    assert record["last_success_at"] == record_before["last_success_at"]
    again = egov("backup", "run", "--dataset", "databases")
    assert again.returncode == 0, again.stderr + get_journal(lab, machine, "egov-backup@databases")
    with lab_repository("primary") as primary:
        assert before < {s.id for s in list_snapshots(primary, "dataset:databases")}


def _digest(secret: str) -> str:
    """What a failed assertion may show of a secret: never the secret."""
    return hashlib.sha256(secret.strip().encode()).hexdigest()


@pytest.mark.usefixtures("replication_paused")
def test_the_replication_keys_cannot_destroy_snapshots_at_vnpt(lab: Lab) -> None:
    """COMPLIANCE object lock: forget --prune with the job's keys only hides objects behind
    delete markers; no version can be deleted, not even with the governance bypass header,
    and egov backup undelete brings everything back."""
    estate = load_estate(INVENTORY).estate
    vnpt = make_repository_config(estate, "vnpt")
    job_secrets = get_host_dir("camau-lab", MONITOR) / "root/etc/egov/secrets"
    for key in ("access-key", "secret-key"):  # the very keys the replication job holds
        held = _digest((job_secrets / f"s3-vnpt-{key}").read_text())
        assert held == _digest((SECRETS / f"s3-{key}").read_text()), key
    client, bucket = make_s3_client(vnpt), get_bucket_name(vnpt)
    lock = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled", "recreate the bucket: restart its moto"
    # moto changes the default retention of an empty bucket only: a bucket made GOVERNANCE
    # by an older egov stays so until its moto is restarted (emptied) and replication reruns
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE", (
        "the bucket predates compliance: restart egov-objectstore on vnpt-s3-01, replicate"
    )
    kept = {
        (v.key, v.version_id)
        for v in get_object_versions(client, bucket)
        if not v.delete_marker and not v.key.startswith("locks/")
    }
    since = datetime.now(UTC) - timedelta(seconds=2)
    with lab_repository("vnpt") as restic:
        before = {s.id for s in list_snapshots(restic)}
        attack = restic.run(("restic", "forget", "--group-by", "", "--keep-last", "1", "--prune"))
        assert attack.returncode == 0, attack.stderr  # the deletes "succeed"…
        assert len(list_snapshots(restic)) == 1 < len(before)  # …and hide the snapshots
    versions = get_object_versions(client, bucket)
    assert kept <= {(v.key, v.version_id) for v in versions if not v.delete_marker}
    hidden = next(
        v for v in versions if v.key.startswith("snapshots/") and not (v.latest or v.delete_marker)
    )
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket=bucket, Key=hidden.key, VersionId=hidden.version_id)
    head = client.head_object(Bucket=bucket, Key=hidden.key, VersionId=hidden.version_id)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    # the header that deleted a GOVERNANCE-locked version on this very stand-in
    pack = next(v for v in versions if v.key.startswith("data/") and not v.delete_marker)
    for entry in (hidden, pack):
        with pytest.raises(ClientError, match="AccessDenied"):
            client.delete_object(
                Bucket=bucket,
                Key=entry.key,
                VersionId=entry.version_id,
                BypassGovernanceRetention=True,
            )
    assert kept <= {
        (v.key, v.version_id) for v in get_object_versions(client, bucket) if not v.delete_marker
    }
    undelete = egov("backup", "undelete", "--repository", "vnpt", "--since", since.isoformat())
    assert undelete.returncode == 0, undelete.stderr
    assert re.search(r"brought back \d+ objects of vnpt", undelete.stdout), undelete.stdout
    with lab_repository("vnpt") as restic:
        assert {s.id for s in list_snapshots(restic)} == before
        check = restic.run(("restic", "check"))
        assert check.returncode == 0, check.stdout + check.stderr


RETENTION_HOST = "vnpt-s3-01"
#: a group of its own (restic forget groups by host and tags): the real datasets are untouched
FORGED_HOST = "lab-retention-test"


@pytest.mark.usefixtures("replication_paused")
def test_the_vnpt_retention_runs_on_its_own_host_and_forgets_what_the_policy_says(
    lab: Lab,
) -> None:
    """The S3 repository's retention (egov-retention@vnpt on the vnpt host, with the prune
    key) forgets what the lab's policy says: of three snapshots dated 2020, two on one day and
    one four days later, the first is forgotten and the daily count keeps the other two; every
    young snapshot stays (within 2d).
    What it deleted is still locked (COMPLIANCE, 2 days): not an error, left for a later run."""
    job_secrets = get_host_dir("camau-lab", MONITOR) / "root/etc/egov/secrets"
    assert not list(job_secrets.glob("*prune*")), "the replication host holds the prune key"
    held = get_host_dir("camau-lab", RETENTION_HOST) / "root/etc/egov/secrets"
    assert (held / "s3-vnpt-prune-access-key").exists()
    assert not (held / "s3-vnpt-access-key").exists()
    tag = "dataset:retention-test"
    with lab_repository("vnpt") as restic:
        real = {s.id for s in list_snapshots(restic)}
        # restic's --keep-within counts back from the group's newest snapshot, not from now:
        # the newest is four days after the others, so of those two only the day's last is
        # kept (by the daily count) and the first is forgotten
        for moment in ("2020-01-01 01:00:00", "2020-01-01 02:00:00", "2020-01-05 03:00:00"):
            argv = ("restic", "backup", "--json", "--stdin", "--stdin-filename", "forged.sql",
                    "--host", FORGED_HOST, "--tag", tag, "--time", moment)  # fmt: skip
            result = restic.run(argv, input_text=f"rows of {moment}\n" * 200)
            assert result.returncode == 0, result.stderr
        forged = list_snapshots(restic, tag)
        assert len(forged) == 3
    unit = "egov-retention@vnpt.service"
    try:
        started = time.monotonic()
        run = lab.exec(RETENTION_HOST, *make_run_now_command(unit), timeout=600)
        seconds = time.monotonic() - started
        journal = get_journal(lab, RETENTION_HOST, unit, lines=60)
        assert run.returncode == 0, run.stderr + journal
        assert re.search(r"vnpt: purged \d+ object versions .* still locked", journal), journal
        with lab_repository("vnpt") as restic:
            left = list_snapshots(restic, tag)
            first = min(s.time for s in forged)
            assert sorted(s.time for s in left) == sorted(
                s.time for s in forged if s.time != first
            ), left
            assert real <= {s.id for s in list_snapshots(restic)}  # young ones all kept
            check = restic.run(("restic", "check"))
            assert check.returncode == 0, check.stdout + check.stderr
        assert seconds < 300, journal
        estate = load_estate(INVENTORY).estate
        vnpt = make_repository_config(estate, "vnpt")
        client, bucket = make_s3_client(vnpt), get_bucket_name(vnpt)
        gone = {f"snapshots/{s.id}" for s in forged if s.time == first}
        versions = get_object_versions(client, bucket, "snapshots/")
        # forgotten, and still there under their markers until the lock ends
        assert gone <= {v.key for v in versions if v.delete_marker}
        assert gone <= {v.key for v in versions if not v.delete_marker}
    finally:
        with lab_repository("vnpt") as restic:
            for snapshot in list_snapshots(restic, tag):
                restic.run(("restic", "forget", snapshot.id))


def _read_secrets() -> dict[str, str]:
    values = {path.name: path.read_text().strip() for path in SECRETS.iterdir()}
    short = [name for name, value in values.items() if len(value) < 16]
    assert len(values) >= 9 and short == []  # long enough not to match by chance
    return values


def _find_secrets(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


#: runs inside a host: every process's argv and environment, 20 times a second, until told
_SCAN = """
import pathlib, sys, time
seen = set()
stop = pathlib.Path(sys.argv[1])
deadline = time.monotonic() + 120
while not stop.exists() and time.monotonic() < deadline:
    for process in pathlib.Path("/proc").glob("[0-9]*"):
        for name in ("cmdline", "environ"):
            try:
                seen.add(name + " " + (process / name).read_bytes().replace(b"\\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    time.sleep(0.05)
stop.unlink(missing_ok=True)
print("\\n".join(sorted(seen)))
"""  # noqa: E501


def _scan_here(stop: threading.Event) -> set[str]:
    """This machine's processes' argv (not their environments: not ours to read)."""
    seen = set()
    while not stop.is_set():
        for process in Path("/proc").glob("[0-9]*"):
            with suppress(OSError, UnicodeDecodeError):
                seen.add((process / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        time.sleep(0.05)
    return seen


def test_no_secret_shows_in_argv_environment_logs_records_or_metrics(lab: Lab) -> None:
    """Scan every process's argv and environment on the backed-up hosts (and every argv
    here) while two backups run, then their journals, records, textfiles and the exporters."""
    secrets = _read_secrets()
    clients = ("primary-db-01", STORE)
    write_on_store(f"scan-{time.time_ns()}.txt", b"scanned\n")
    since = time.time() - 1
    stop_here = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(len(clients) + 1) as pool:
        scans = {
            machine: pool.submit(
                lab.exec,
                machine,
                "/opt/egov/venv/bin/python",
                "-c",
                _SCAN,
                "/run/egov-scan-stop",
                timeout=180,
            )
            for machine in clients
        }
        here = pool.submit(_scan_here, stop_here)
        time.sleep(1)  # the scanners are looking before the backups start
        runs = [
            subprocess.Popen(
                [EGOV, "backup", "run", "--dataset", dataset, "-i", str(INVENTORY)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for dataset in ("databases", "files")
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
        for machine in clients:
            lab.exec(machine, "touch", "/run/egov-scan-stop")
        stop_here.set()
        seen = {machine: scan.result().stdout for machine, scan in scans.items()}
        seen["control node"] = "\n".join(here.result())
    assert [run.returncode for run in runs] == [0, 0], outputs
    for machine in clients:  # the scans overlapped the backups
        assert re.search(r"cmdline restic backup .*--tag dataset:", seen[machine]), machine
        assert "RESTIC_PASSWORD_FILE=" in seen[machine]  # a path, never the value
    assert "ssh " in seen["control node"]
    seen["egov backup run output"] = "\n".join(out + err for out, err in outputs)
    for machine in (h.machine for h in lab.spec.hosts):
        seen[f"{machine} files"] = lab.exec(
            machine,
            "sh",
            "-c",
            "journalctl -o cat --no-pager -u 'egov-*'; "
            f"journalctl -o cat --no-pager --since=@{since:.0f}; "
            "find /var/lib/egov/state /var/lib/prometheus/node-exporter -type f "
            "-exec cat {} + 2>/dev/null; cat /etc/egov/agent.json 2>/dev/null; true",
        ).stdout
    for monitor in ("primary-mon-01", "site2-mon-01"):
        url = f"http://{lab.address(monitor)}:9640/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            seen[f"{monitor} exporter"] = response.read().decode()
        assert "dr_backup_" in seen[f"{monitor} exporter"]
    assert "dr_backup_last_result" in seen[f"{STORE} files"]  # its textfile was read
    leaks = {
        where: found for where, text in seen.items() if (found := _find_secrets(text, secrets))
    }
    assert leaks == {}
