"""A sharded file store on the lab: ``shards: 3`` on the files dataset, deployed to the store.

Two runs of the deployed unit with a change between them: each run is three restic processes
at once (seen running together on the store host), three snapshots tagged ``shard:IofN`` at
one time; the second run's shards each continue from their own snapshot of the first
(restic's ``parent``) and read again only what changed (the agent's journal gives each
shard's restic summary); and a verified restore of the run gives back the whole tree, byte
for byte. The inventory is put back (and redeployed to the store) at the end.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from egov.backup.repositories import make_repository_config, open_repository
from egov.backup.restic import Snapshot
from egov.backup.resticexec import Restic
from egov.inventory import load_estate
from egov.lab.paths import get_host_dir
from tests.backup.test_shardbackup import read_tree
from tests.lab.conftest import EGOV, INVENTORY, Lab, get_journal, read_backup_record

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("deployed")]

STORE = "primary-store-01"
UNIT = "egov-backup@files"
CACHE = Path("/var/cache/egov/restic-test")
FILES_PATHS = "      paths: [/srv/files]\n"
SHARDS = 3
DOSSIERS = 20


def run_egov(inventory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EGOV, *arguments, "-i", str(inventory)],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )


@pytest.fixture
def sharded_inventory(tmp_path: Path) -> Iterator[Path]:
    """inventory/lab.yaml with ``shards: 3`` on the files dataset, deployed to the store;
    the store redeployed from the real inventory afterwards."""
    text = INVENTORY.read_text()
    assert text.count(FILES_PATHS) == 1, "the files dataset's paths line moved"
    changed = tmp_path / "lab.yaml"
    changed.write_text(text.replace(FILES_PATHS, FILES_PATHS + f"      shards: {SHARDS}\n"))
    try:
        deployed = run_egov(changed, "deploy", "--limit", "primary/store-01")
        assert deployed.returncode == 0, deployed.stderr[-3000:]
        yield changed
    finally:
        back = run_egov(INVENTORY, "deploy", "--limit", "primary/store-01")
        assert back.returncode == 0, back.stderr[-3000:]


@contextmanager
def timer_paused(lab: Lab) -> Iterator[None]:
    """The files timer (every 5 minutes in the lab) stopped, a run in flight waited for."""
    lab.api.stop_service(lab.spec, STORE, f"{UNIT}.timer")
    try:
        deadline = time.monotonic() + 300
        while lab.exec(STORE, "systemctl", "is-active", f"{UNIT}.service").stdout.strip() in (
            "activating",
            "active",
            "deactivating",
        ):
            assert time.monotonic() < deadline, f"{UNIT} did not end"
            time.sleep(1)
        yield
    finally:
        lab.api.start_service(lab.spec, STORE, f"{UNIT}.timer")


def back_up_watching(lab: Lab, inventory: Path) -> int:
    """Run the store's files unit now and return the most shard processes seen at once."""
    seen: list[int] = []

    def watch() -> None:
        script = (
            "for i in $(seq 1 1200); do n=$(pgrep -fc 'restic backup.*shard:'); echo $n; "
            f'[ "$n" -ge {SHARDS} ] && break; sleep 0.05; done'
        )
        counted = lab.exec(STORE, "sh", "-c", script, timeout=300)
        seen.extend(int(line) for line in counted.stdout.split() if line.isdigit())

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = run_egov(
        inventory, "backup", "run", "--dataset", "files", "--host", "primary/store-01"
    )
    watcher.join()
    assert result.returncode == 0, result.stderr + get_journal(lab, STORE, f"{UNIT}.service")
    return max(seen, default=0)


def list_runs(restic: Restic) -> dict[str, dict[str, dict[str, object]]]:
    """time → shard tag → the raw snapshot (with restic's ``parent``), of the store's files."""
    listed = restic.run(
        ("restic", "snapshots", "--json", "--tag", "egov,dataset:files", "--host", STORE)
    )
    assert listed.returncode == 0, listed.stderr
    runs: dict[str, dict[str, dict[str, object]]] = {}
    for item in json.loads(listed.stdout):
        shard = next((t for t in item.get("tags", []) if t.startswith("shard:")), None)
        if shard is not None:
            runs.setdefault(str(item["time"]), {})[shard] = item
    return runs


def test_a_sharded_file_store_backs_up_at_once_continues_each_shard_and_restores_whole(
    lab: Lab, sharded_inventory: Path, tmp_path: Path
) -> None:
    store_root = get_host_dir("camau-lab", STORE) / "root"
    marker = f"shards-{time.time_ns()}"
    directory = store_root / "srv" / "files" / marker
    directory.mkdir()
    for index in range(DOSSIERS):
        (directory / f"dossier-{index}.pdf").write_bytes(f"hồ sơ {index}\n".encode() * 4000)
    estate = load_estate(INVENTORY).estate
    try:
        with timer_paused(lab):
            assert back_up_watching(lab, sharded_inventory) >= SHARDS
            (directory / "dossier-0.pdf").write_bytes(b"amended dossier\n")
            since = int(time.time())
            back_up_watching(lab, sharded_inventory)
            record = read_backup_record(lab, STORE, f"files@{STORE}")
            assert record is not None and record["result"] == "success", record
            journal = lab.exec(
                STORE, "journalctl", "-u", f"{UNIT}.service", "--since", f"@{since}",
                "--no-pager", "-o", "cat",
            ).stdout  # fmt: skip
            # the second run only: --since counts whole seconds, and the first run may have
            # ended in the same one
            journal = journal.rsplit(f"Starting {UNIT}.service", 1)[-1]
        config = make_repository_config(estate, "primary")
        with open_repository(config, cache_dir=CACHE) as restic:
            runs = list_runs(restic)
        *_, (first_time, first), (second_time, second) = sorted(runs.items())
        assert sorted(second) == [f"shard:{i}of{SHARDS}" for i in range(1, SHARDS + 1)]
        assert sorted(first) == sorted(second)
        # one run, one time (the run's start, to the second) that every shard carries
        at = Snapshot.model_validate(next(iter(second.values()))).timestamp
        assert abs(at - float(record["started_at"])) < 2, (second_time, record)
        for shard, snapshot in second.items():
            assert snapshot.get("parent") == first[shard]["id"], (shard, first_time)
        # each shard's restic summary: the one holding the marker read only the amended file
        summaries = re.findall(
            r"shard (\d+)/\d+ ([0-9a-f]{8}): (\d+) new, (\d+) changed, (\d+) unmodified", journal
        )
        assert len(summaries) == SHARDS, journal
        (holding,) = [s for s in second.values() if any(marker in str(p) for p in s["paths"])]  # type: ignore[attr-defined]
        mine = next(s for s in summaries if str(holding["id"]).startswith(s[1]))
        assert int(mine[3]) == 1 and int(mine[2]) == 0, mine
        assert int(mine[4]) >= DOSSIERS - 1, mine
        target = tmp_path / "restored"
        restored = run_egov(
            sharded_inventory, "backup", "restore", "--dataset", "files", "--repository", "primary",
            "--target", str(target), "--verify",
        )  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        assert read_tree(target / "srv" / "files") == read_tree(store_root / "srv" / "files")
    finally:
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()
