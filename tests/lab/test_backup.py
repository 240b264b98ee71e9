"""Backups on the lab: timers, replication to VNPT and site 2, status, byte-exact restores.

The file store's dataset runs every 5 minutes in the lab: the test waits for its timer to
fire after a change, as the nightly run would. The nightly datasets are started with
`egov backup run` (the same units), and replication with the monitoring host's unit.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from egov.lab.paths import get_host_dir
from egov.secrets import read_secret
from tests.lab.conftest import Lab, egov, get_journal, replicate

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
    result = lab.exec(machine, "cat", f"/var/lib/egov/state/backup/{key}.json")
    return float(json.loads(result.stdout)["started_at"]) if result.returncode == 0 else 0.0


@pytest.fixture(scope="module")
def changes(lab: Lab) -> Iterator[Changes]:
    marker = f"doc-{time.time_ns()}"
    path = f"/srv/files/portal/{marker}.txt"
    content = f"hồ sơ {marker}\n".encode()
    lab.exec("primary-store-01", "mkdir", "-p", "/srv/files/portal")
    lab.exec("primary-store-01", "sh", "-c", f"printf '%s\\n' 'hồ sơ {marker}' > {path}")
    changed_at = time.time()
    seq = time.time_ns() // 1000
    request = urllib.request.Request(
        f"http://{lab.address('primary-lb-01')}/portal/records",
        data=json.dumps({"seq": seq}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    # the file store's own timer: wait for a run that started after the change
    deadline = time.monotonic() + TIMER_WAIT_SECONDS
    while _record_started_at(lab, "primary-store-01", "files@primary-store-01") < changed_at:
        assert time.monotonic() < deadline, "the files timer did not fire"
        time.sleep(10)
    result = egov("backup", "run", "--dataset", "databases")
    assert result.returncode == 0, result.stderr
    result = egov("backup", "run", "--dataset", "etc")
    assert result.returncode == 0, result.stderr
    replicated = replicate(lab)
    assert replicated.returncode == 0, get_journal(lab, "primary-mon-01", "egov-replicate")
    yield Changes(path=path, content=content, seq=seq)


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

    def count() -> int:
        listing = subprocess.run(
            ["restic", "snapshots", "--json"],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        return len(json.loads(listing.stdout))

    before = count()
    forget = subprocess.run(
        # one group over everything: there is always something it would remove
        ["restic", "forget", "--group-by", "", "--keep-last", "1", "--prune"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert forget.returncode != 0
    assert count() == before > 1
