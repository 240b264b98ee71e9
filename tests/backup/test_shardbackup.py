"""A sharded files backup against real restic: processes at once, parents, failure, restore,
retention.

restic is real; where a test must see *when* each process ran, or make one shard fail, a
script named ``restic`` first on PATH logs the call (and waits, or fails) and then runs the
real one: the agent reaches restic only by that name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from egov.backup.agent import AgentSettings
from egov.backup.datasetbackup import run_backup_job
from egov.backup.datasetrestore import restore_dataset
from egov.backup.datasets import BackupJob, make_dataset_tags
from egov.backup.repositories import RepositoryConfig, open_repository
from egov.backup.restic import make_backup_command, make_forget_command
from egov.backup.resticexec import Restic
from egov.backup.restoretest import RestoreTarget, run_restore_test
from egov.backup.shardbackup import RESTIC_TIME_FORMAT
from egov.backup.shards import ShardState, parse_shard_tag, write_shard_state
from egov.inventory.backup import DatasetKind, Retention
from egov.records import BackupRecord, Result, read_record
from tests.backup.conftest import make_agent_command

HOST = "primary-store-01"


def sharded_job(source: Path, shards: int = 3) -> BackupJob:
    return BackupJob(
        dataset="files", kind=DatasetKind.FILES, host=HOST, site="primary", repository="primary",
        paths=[str(source)], tags=make_dataset_tags("files", "primary"), shards=shards,
    )  # fmt: skip


def make_store(root: Path, offices: int = 4) -> Path:
    for office in range(offices):
        directory = root / f"office-{office}"
        directory.mkdir(parents=True, exist_ok=True)
        for index in range(3):
            (directory / f"dossier-{index}.txt").write_text(f"{office}/{index}\n" * 200)
    (root / "index.txt").write_text("top-level file\n")
    return root


def list_raw(restic: Restic) -> list[dict[str, object]]:
    result = restic.run(("restic", "snapshots", "--json", "--tag", "dataset:files"))
    listed: list[dict[str, object]] = json.loads(result.stdout)
    return [item for item in listed if "egov" in item.get("tags", [])]  # type: ignore[operator]


def runs_by_time(listed: list[dict[str, object]]) -> dict[str, dict[str, dict[str, object]]]:
    """time → shard tag → snapshot."""
    found: dict[str, dict[str, dict[str, object]]] = {}
    for item in listed:
        tags = [str(tag) for tag in item["tags"]]  # type: ignore[attr-defined]
        shard = next(tag for tag in tags if tag.startswith("shard:"))
        found.setdefault(str(item["time"]), {})[shard] = item
    return found


def read_tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory): byte for byte."""
    return {
        str(path.relative_to(root)): None if path.is_dir() else path.read_bytes()
        for path in sorted(root.rglob("*"))
        if not path.is_symlink()
    }


@pytest.fixture
def logged_restic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``restic`` first on PATH that logs start and end of each call, waits a second
    before a shard's backup (so overlapping runs are plain to see), fails shard 2 when
    ``fail-shard-2`` exists, and otherwise runs the real restic."""
    real = shutil.which("restic")
    if real is None:
        pytest.skip("restic is not installed here")
    directory = tmp_path / "bin"
    directory.mkdir()
    log = tmp_path / "restic.log"
    script = directory / "restic"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in *shard:*) echo "start $(date +%s.%N)" >> ' + f"{log}; sleep 1;; esac\n"
        'case "$*" in *shard:2of*) if [ -e ' + f"{tmp_path}/fail-shard-2 ]; then "
        'echo "Fatal: unable to save snapshot: disk quota exceeded" >&2; exit 1; fi;; esac\n'
        f'{real} "$@"; code=$?\n'
        'case "$*" in *shard:*) echo "end $(date +%s.%N)" >> ' + f"{log};; esac\n"
        "exit $code\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}:{Path(real).parent}")
    return log


def test_a_sharded_backup_runs_one_restic_per_shard_at_once(
    local_repository: RepositoryConfig,
    settings: AgentSettings,
    tmp_path: Path,
    logged_restic: Path,
) -> None:
    """Three processes, all started before any ended, into one repository (created once,
    though all three found it missing); three snapshots tagged per shard, one time, every
    entry in exactly one; one record for the run."""
    source = make_store(tmp_path / "srv")
    record = run_backup_job(sharded_job(source), local_repository, settings)
    assert record.result is Result.SUCCESS, record.error
    assert record.files_processed == 4 * 3 + 1
    events = logged_restic.read_text().split()
    starts = [float(v) for k, v in zip(events[::2], events[1::2], strict=True) if k == "start"]
    ends = [float(v) for k, v in zip(events[::2], events[1::2], strict=True) if k == "end"]
    # two rounds: all three found no repository, one created it, all three ran again
    assert len(starts) == len(ends) == 6, events
    for round_ in (slice(0, 3), slice(3, 6)):
        assert max(starts[round_]) < min(ends[round_]), events
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        runs = runs_by_time(list_raw(restic))
    ((at, shards),) = runs.items()
    assert sorted(shards) == ["shard:1of3", "shard:2of3", "shard:3of3"]
    # the run's start, to the second (the manifest's clock, read a moment after the record's)
    assert abs(datetime.fromisoformat(at).timestamp() - record.started_at) < 2
    paths = [str(p) for item in shards.values() for p in item["paths"]]  # type: ignore[attr-defined]
    assert sorted(paths) == sorted(str(entry) for entry in source.iterdir())


def test_the_next_run_continues_each_shard_from_its_own_snapshot(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """After a change and a new top-level directory, each shard names its own last snapshot
    as parent (restic reads only what changed), the new directory is in one shard, and a
    restore of the run gives back the whole tree, compared with the manifest."""
    source = make_store(tmp_path / "srv")
    job = sharded_job(source)
    assert run_backup_job(job, local_repository, settings).result is Result.SUCCESS
    (source / "office-1" / "dossier-0.txt").write_text("changed\n")
    make_store(source / "office-9", offices=1)
    settings_later = dataclasses.replace(settings, clock=lambda: 4e9)
    said: list[str] = []
    second = run_backup_job(job, local_repository, settings_later, said.append)
    assert second.result is Result.SUCCESS, second.error
    # restic read again only the changed file and the new directory (3 dossiers, 1 index)
    counts = [re.findall(r"(\d+) (new|changed|unmodified)", line) for line in said]
    totals = {kind: sum(int(n) for found in counts for n, k in found if k == kind) for kind in
              ("new", "changed", "unmodified")}  # fmt: skip
    assert totals == {"new": 3 + 1, "changed": 1, "unmodified": 4 * 3 + 1 - 1}, said
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        first_run, second_run = (runs for _, runs in sorted(runs_by_time(list_raw(restic)).items()))
    for shard, snapshot in second_run.items():
        assert snapshot.get("parent") == first_run[shard]["id"], shard
    holding = [s for s in second_run.values() if any("office-9" in str(p) for p in s["paths"])]  # type: ignore[attr-defined]
    assert len(holding) == 1
    target = tmp_path / "restored"
    restored = restore_dataset(
        local_repository, "files", target, settings, verify=True, kind=DatasetKind.FILES, shards=3
    )
    assert restored.compared and restored.time == 4e9
    assert read_tree(target / source.relative_to("/")) == read_tree(source)


def test_a_failed_shard_fails_the_run_and_restores_take_the_last_complete_one(
    local_repository: RepositoryConfig,
    settings: AgentSettings,
    tmp_path: Path,
    logged_restic: Path,
) -> None:
    source = make_store(tmp_path / "srv")
    job = sharded_job(source)
    first = run_backup_job(job, local_repository, settings)
    assert first.result is Result.SUCCESS, first.error
    (tmp_path / "fail-shard-2").touch()
    (source / "office-0" / "dossier-0.txt").write_text("newer\n")
    later = dataclasses.replace(settings, clock=lambda: 4e9)
    failed = run_backup_job(job, local_repository, later)
    assert failed.result is Result.FAILURE
    assert "1 of 3 shards failed" in failed.error and "shard 2 of 3" in failed.error
    assert "stay valid" in failed.error and "disk quota" in failed.error
    assert failed.last_success_snapshot_time == first.started_at
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        runs = runs_by_time(list_raw(restic))
    assert sorted(len(shards) for shards in runs.values()) == [2, 3]  # the two are kept
    restored = restore_dataset(
        local_repository, "files", tmp_path / "t", settings, verify=True, shards=3
    )
    assert restored.compared and restored.time is not None
    assert abs(restored.time - first.started_at) < 2


def test_a_parent_the_repository_no_longer_has_is_not_fatal(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    source = make_store(tmp_path / "srv", offices=2)
    job = sharded_job(source, shards=2)
    write_shard_state(settings.state_dir, "files", ShardState(count=2, parents={1: "deadbeef"}))
    record = run_backup_job(job, local_repository, settings)
    assert record.result is Result.SUCCESS, record.error


def test_retention_keeps_the_last_runs_of_every_shard(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """forget groups by host and tags: ``daily: 2`` keeps the last two runs of each shard
    (four snapshots), not the last two snapshots of the dataset."""
    source = make_store(tmp_path / "srv", offices=2)
    entries = sorted(str(entry) for entry in source.iterdir() if entry.is_dir())
    tags = make_dataset_tags("files", "primary")
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        assert restic.run(("restic", "init")).returncode == 0
        start = datetime(2026, 11, 1, 1, 30, tzinfo=UTC)
        for day in range(3):
            at = (start + timedelta(days=day)).strftime(RESTIC_TIME_FORMAT)
            for index, entry in enumerate(entries, 1):
                argv = make_backup_command([entry], HOST, [*tags, f"shard:{index}of2"], time=at)
                assert restic.run(argv).returncode == 0
        retention = Retention(within=timedelta(0), daily=2, weekly=0, monthly=0, yearly=0)
        forget = restic.run(make_forget_command(retention, prune=False))
        assert forget.returncode == 0, forget.stderr
        kept = list_raw(restic)
    shards = [parse_shard_tag(item["tags"]) for item in kept]  # type: ignore[arg-type]
    assert sorted(shards) == [(1, 2), (1, 2), (2, 2), (2, 2)]
    assert {str(item["time"])[:10] for item in kept} == {"2026-11-02", "2026-11-03"}


def test_the_restore_test_restores_every_shard_of_the_manifests_run(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """The manifest names one shard's snapshot; the test restores the whole run it belongs to
    and every file of the dataset is compared (one shard alone would miss the others')."""
    source = make_store(tmp_path / "srv")
    assert run_backup_job(sharded_job(source), local_repository, settings).result is Result.SUCCESS
    record = run_restore_test(
        local_repository, RestoreTarget("files", DatasetKind.FILES, host=HOST), settings
    )
    assert record.result is Result.SUCCESS, record.error
    assert record.files_checked == 4 * 3 + 1


def test_a_sharded_backup_stopped_by_sigterm_interrupts_every_shard(
    local_repository: RepositoryConfig, tmp_path: Path
) -> None:
    """``systemctl stop`` (KillMode=mixed) signals the agent alone, whose main thread waits
    on the shards: it interrupts every shard's restic (each removes its lock), records the
    stop and dies by SIGTERM; no shard goes on uploading."""
    source = tmp_path / "src"
    for name in ("a", "b"):
        (source / name).mkdir(parents=True)
        with (source / name / "big.bin").open("wb") as big:
            for _ in range(192):
                big.write(os.urandom(1 << 20))
    command, environment = make_agent_command(
        tmp_path, sharded_job(source, shards=2), local_repository
    )
    with open_repository(local_repository, cache_dir=tmp_path / "cache") as restic:
        assert restic.run(("restic", "init")).returncode == 0
    locks = Path(local_repository.location) / "locks"
    agent = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        # the manifest's restic and both shards' hold their locks, and upload
        while not (locks.is_dir() and len(list(locks.iterdir())) >= 3):
            assert agent.poll() is None and time.monotonic() < deadline, "no restic locks seen"
            time.sleep(0.02)
        time.sleep(1)
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == -signal.SIGTERM, stderr
    record = read_record(BackupRecord, f"files@{HOST}", tmp_path / "state")
    assert record is not None and "stopped by SIGTERM" in record.error
    # every shard's restic removed its own lock, and none went on to store its snapshot
    assert list(locks.iterdir()) == []
    assert list((Path(local_repository.location) / "snapshots").iterdir()) == []
