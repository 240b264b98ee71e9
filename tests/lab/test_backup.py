"""Backups on the lab: timers, replication to VNPT and site 2, status, byte-exact restores.

The night's chain is run by the deployed timers themselves: after a change, every backup timer
fires as it does after a night the host was off (``Persistent=true``), and once every dataset is
backed up the replication timer does the same; then ``egov backup status`` must show every
dataset fresh at all three sites, and restores from each repository must hold the change.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from egov.lab.paths import get_host_dir
from egov.secrets import read_secret
from tests.lab.conftest import (
    Lab,
    egov,
    fire_timers_as_after_a_missed_night,
    get_journal,
    read_backup_record,
    restore_timers,
)

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("deployed")]

REPOSITORIES = ("primary", "vnpt", "site2")
TIMER_WAIT_SECONDS = 420


@dataclass(frozen=True)
class Changes:
    """What the test changed before the backups: a file on the store, a row in PostgreSQL."""

    path: str
    content: bytes
    seq: int


def _record_started_at(lab: Lab, machine: str, key: str) -> float:
    record = read_backup_record(lab, machine, key)
    return float(record["started_at"]) if record else 0.0


def _find_backup_timers(lab: Lab) -> dict[str, list[str]]:
    """machine → the ``egov-backup@<dataset>.timer`` units the deploy wrote there."""
    timers = {}
    for host in lab.spec.hosts:
        listed = lab.exec(
            host.machine, "sh", "-c", "cd /etc/systemd/system && ls egov-backup@*.timer"
        )
        if listed.returncode == 0 and listed.stdout.split():
            timers[host.machine] = listed.stdout.split()
    return timers


def _wait_for(
    done: Callable[[], bool], explain: Callable[[], str], timeout: float = TIMER_WAIT_SECONDS
) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, explain()
        time.sleep(3)


@pytest.fixture(scope="module")
def changes(lab: Lab) -> Iterator[Changes]:
    """A file and a row changed, then the night's chain run by the timers themselves: every
    backup timer, then (once every record is newer than the change) the replication timer."""
    marker = f"doc-{time.time_ns()}"
    path = f"/srv/files/portal/{marker}.txt"
    content = f"hồ sơ {marker}\n".encode()
    lab.exec("primary-store-01", "mkdir", "-p", "/srv/files/portal")
    lab.exec("primary-store-01", "sh", "-c", f"printf '%s\\n' 'hồ sơ {marker}' > {path}")
    seq = time.time_ns() // 1000
    request = urllib.request.Request(
        f"http://{lab.address('primary-lb-01')}/portal/records",
        data=json.dumps({"seq": seq}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    changed_at = time.time()
    timers = _find_backup_timers(lab)
    assert {"egov-backup@databases.timer", "egov-backup@files.timer"} <= {
        timer for units in timers.values() for timer in units
    }
    replication = {"primary-mon-01": ["egov-replicate.timer"]}
    try:
        fire_timers_as_after_a_missed_night(lab, timers)
        for machine, units in timers.items():
            for timer in units:
                key = f"{timer.removeprefix('egov-backup@').removesuffix('.timer')}@{machine}"
                unit = timer.replace(".timer", ".service")
                _wait_for(
                    lambda m=machine, k=key: _record_started_at(lab, m, k) > changed_at,
                    lambda m=machine, u=unit: f"{u} on {m} did not run: " + get_journal(lab, m, u),
                )
        fire_timers_as_after_a_missed_night(lab, replication)
        backed_up = [
            (timer.removeprefix("egov-backup@").removesuffix(".timer"), machine)
            for machine, units in timers.items()
            for timer in units
        ]
        _wait_for(
            lambda: all(
                _replicated_at(lab, repository, dataset, machine) > changed_at
                for repository in REPOSITORIES
                for dataset, machine in backed_up
            ),
            lambda: (
                "the replication timer did not bring every snapshot to every site: "
                + get_journal(lab, "primary-mon-01", "egov-replicate")
            ),
        )
    finally:
        restore_timers(lab, timers | replication)
    yield Changes(path=path, content=content, seq=seq)


def _replicated_at(lab: Lab, repository: str, dataset: str, machine: str) -> float:
    """When the newest snapshot of ``dataset`` from ``machine`` in ``repository`` was taken,
    as the replication's catalog refresh saw it (0 when none)."""
    result = lab.exec("primary-mon-01", "cat", f"/var/lib/egov/state/catalog/{repository}.json")
    if result.returncode != 0:
        return 0.0
    latest = json.loads(result.stdout)["latest"].get(dataset, {}).get(machine)
    return float(latest["time"]) if latest else 0.0


def test_every_dataset_is_fresh_at_all_three_sites(lab: Lab, changes: Changes) -> None:
    state = get_host_dir(lab.spec.name, "primary-mon-01") / "root/var/lib/egov/state"
    result = egov("backup", "status", "--state-dir", str(state), "--output", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    seen = {(row["dataset"], row["repository"]): row["fresh"] for row in rows}
    assert seen == {
        (dataset, repository): True
        for dataset in ("databases", "files", "etc")
        for repository in REPOSITORIES
    }


def test_the_plan_measures_the_estate_from_the_agents_records(
    lab: Lab, changes: Changes, tmp_path: Path
) -> None:
    """`egov backup plan` takes sizes and file counts from the records the lab's agents just
    wrote (read over SSH with --from-hosts), not from the inventory; with no record it falls
    back to the declared estimates and says so."""
    state = get_host_dir(lab.spec.name, "primary-mon-01") / "root/var/lib/egov/state"
    measured = egov("backup", "plan", "--state-dir", str(state), "--from-hosts", "-o", "json")
    assert measured.returncode == 0, measured.stderr
    jobs = {(j["dataset"], j["host"]): j for j in json.loads(measured.stdout)["inputs"]["jobs"]}
    for dataset, machine in (("files", "primary-store-01"), ("databases", "primary-db-01")):
        job = jobs[(dataset, machine)]
        record = read_backup_record(lab, machine, f"{dataset}@{machine}")
        assert record is not None
        assert job["size_bytes"]["source"].startswith(f"measured on {machine}"), job
        assert job["size_bytes"]["value"] == record["bytes_processed"]
        assert job["files"]["value"] == record["files_processed"]
    empty = tmp_path / "state"
    empty.mkdir()
    declared = egov("backup", "plan", "--state-dir", str(empty), "-o", "json")
    assert declared.returncode == 0, declared.stderr
    files = next(
        j for j in json.loads(declared.stdout)["inputs"]["jobs"] if j["dataset"] == "files"
    )
    assert files["size_bytes"]["source"] == "declared estimate"


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_the_changed_file_restores_byte_exact(
    repository: str, changes: Changes, tmp_path: Path
) -> None:
    target = tmp_path / "files"
    result = egov(
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
    assert result.returncode == 0, result.stderr
    restored = next(target.rglob(Path(changes.path).name))
    assert restored.read_bytes() == changes.content


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_the_new_row_is_in_the_restored_dump(
    repository: str, changes: Changes, tmp_path: Path
) -> None:
    target = tmp_path / "databases"
    result = egov(
        "backup",
        "restore",
        "--dataset",
        "databases",
        "--repository",
        repository,
        "--target",
        str(target),
        "--host",
        "primary-db-01",
    )
    assert result.returncode == 0, result.stderr
    dumps = list(target.rglob("portal*"))
    assert dumps, list(target.rglob("*"))
    sql = subprocess.run(
        ["pg_restore", "--data-only", "--file=-", str(dumps[0])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"\n{changes.seq}\t" in sql


def test_a_backup_client_cannot_destroy_snapshots(lab: Lab, changes: Changes) -> None:
    """With the clients' REST credentials, forget --prune is refused and nothing is lost."""
    del changes
    secrets = Path("/var/lib/egov/lab/secrets")
    environment = {
        "PATH": os.environ["PATH"],
        "RESTIC_REPOSITORY": "rest:http://backup:"
        + read_secret(f"file:{secrets / 'rest-primary'}")
        + f"@{lab.address('primary-store-01')}:8000/",
        "RESTIC_PASSWORD_FILE": str(secrets / "restic-primary"),
        "RESTIC_CACHE_DIR": "/var/cache/egov/restic-test",
    }

    def list_ids() -> set[str]:
        listing = subprocess.run(
            ["restic", "snapshots", "--json"],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        return {snapshot["id"] for snapshot in json.loads(listing.stdout)}

    before = list_ids()
    forget = subprocess.run(
        # one group over everything: there is always something it would remove
        ["restic", "forget", "--group-by", "", "--keep-last", "1", "--prune"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert forget.returncode != 0
    # every snapshot is still there (the lab's 5-minute file backups may have added one)
    assert len(before) > 1 and before <= list_ids()
