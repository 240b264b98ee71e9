"""The agent's backup run against real restic: records, metrics, locks, retries, secrets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from egov.backup import datasetbackup
from egov.backup.agent import AgentSettings
from egov.backup.agentconfig import AgentConfig
from egov.backup.datasetbackup import hold_dataset_lock, run_agent_backup, run_backup_job
from egov.backup.datasets import BackupJob, make_dataset_tags
from egov.backup.manifest import make_manifest
from egov.backup.manifestformat import ManifestHeader, read_manifest
from egov.backup.manifestsnapshot import ManifestSnapshot, make_manifest_command
from egov.backup.repositories import RepositoryConfig, ensure_repository, open_repository
from egov.backup.resticexec import Restic
from egov.backup.restoretest import find_manifest
from egov.errors import BackupError, InputError
from egov.inventory.backup import DatasetKind
from egov.records import BackupRecord, Result, read_record
from tests.backup.conftest import (
    PASSWORD,
    REST_PASSWORD,
    RestServer,
    make_agent_command,
    make_rest,
    make_tree,
)
from tests.deploys.support import get_free_port


def files_job(source: Path, repository: str = "primary") -> BackupJob:
    return BackupJob(
        dataset="files", kind=DatasetKind.FILES, host="primary-store-01", site="primary",
        repository=repository, paths=[str(source)], tags=make_dataset_tags("files", "primary"),
    )  # fmt: skip


def test_backup_writes_record_and_metrics(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    record = run_backup_job(files_job(make_tree(tmp_path / "src")), local_repository, settings)
    assert record.result is Result.SUCCESS, record.error
    assert record.snapshot_id and record.files_processed == 5 and record.bytes_added > 0
    assert read_record(BackupRecord, "files@primary-store-01", settings.state_dir) == record
    assert settings.textfile_directory is not None
    text = (settings.textfile_directory / "egov_backup_files.prom").read_text()
    assert 'dr_backup_last_result{dataset="files",host="primary-store-01",' in text
    assert "dr_backup_last_success_timestamp_seconds" in text


def test_the_first_backup_creates_the_repository_and_later_ones_reuse_it(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """No probe before a backup: restic saying "no repository here" makes the agent create it
    and try again; an existing repository is never initialised over."""
    config = Path(local_repository.location) / "config"
    assert not config.exists()
    source = make_tree(tmp_path / "src")
    first = run_backup_job(files_job(source), local_repository, settings)
    assert first.result is Result.SUCCESS, first.error
    created = config.read_bytes()
    second = run_backup_job(files_job(source), local_repository, settings)
    assert second.result is Result.SUCCESS, second.error
    assert config.read_bytes() == created
    assert second.snapshot_id != first.snapshot_id


def test_a_missing_shared_repository_is_never_created_by_a_client(
    rest_server: RestServer, secrets_dir: Path, settings: AgentSettings, tmp_path: Path
) -> None:
    """Nine clients racing to init one REST repository would break it: they report it."""
    repository = make_rest(rest_server.port, secrets_dir)
    record = run_backup_job(files_job(make_tree(tmp_path / "src")), repository, settings)
    assert record.result is Result.FAILURE
    assert "(missing, exit 1)" in record.error
    assert "created by the deploy of its storage host" in record.error  # the hint too
    assert not (rest_server.directory / "config").exists()


def test_the_manifest_restic_started_early_stores_nothing_when_cancelled(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """The manifest's process opens the repository with the backup; a backup that fails
    cancels it before its stdin closes, so no empty manifest lands in the repository."""
    source = make_tree(tmp_path / "src")
    job = files_job(source)
    assert run_backup_job(job, local_repository, settings).result is Result.SUCCESS
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        listed = restic.run(("restic", "snapshots", "--json"))
        before = listed.stdout.count('"id"')
        early = restic.start(make_manifest_command(job))
        assert early is not None
        time.sleep(2)  # restic has opened the repository and waits for its stdin
        cancelled = early.cancel()
        assert cancelled.returncode != 0
        assert restic.run(("restic", "snapshots", "--json")).stdout.count('"id"') == before
        stored = restic.start(make_manifest_command(job))
        assert stored is not None
        assert restic.finish(stored, '{"dataset":"files"}').returncode == 0
        assert restic.run(("restic", "snapshots", "--json")).stdout.count('"id"') == before + 1


def test_a_manifest_fed_early_is_stored_whole_or_not_at_all(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """The manifest goes into restic's stdin while the backup runs, all but the snapshot id:
    cancelled then, restic stores nothing (not a torn JSON); stored, it names the snapshot."""
    source = make_tree(tmp_path / "src")
    job = files_job(source)
    assert run_backup_job(job, local_repository, settings).result is Result.SUCCESS
    made = tmp_path / "manifest.json"
    make_manifest(made, ManifestHeader(job.dataset, job.host, 1.0), job.paths, [])
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        before = _count_snapshots(restic)
        cancelled = ManifestSnapshot(restic, job)
        cancelled.feed(made)
        time.sleep(2)  # restic has read what it was fed, and waits for the rest
        cancelled.cancel()
        assert _count_snapshots(restic) == before
        stored = ManifestSnapshot(restic, job)
        stored.feed(made)
        stored.store(made, "ab" * 32)
        _, manifest = find_manifest(restic, job.dataset, job.host)
    assert manifest.snapshot_id == "ab" * 32 and manifest.created_at == 1.0
    with made.open("rb") as handle:
        assert list(manifest.entries) == list(read_manifest(handle).entries)


def test_a_manifest_whose_early_restic_failed_is_stored_by_a_process_of_its_own(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """The early process dies before the repository exists (the first backup creates it):
    the manifest is fed to a new process at the end, whole, and names the snapshot."""
    source = make_tree(tmp_path / "src")
    job = files_job(source)
    made = tmp_path / "manifest.json"
    make_manifest(made, ManifestHeader(job.dataset, job.host, 1.0), job.paths, [])
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        snapshot = ManifestSnapshot(restic, job)  # no repository yet: restic exits
        time.sleep(2)
        snapshot.feed(made)
        ensure_repository(restic)
        snapshot.store(made, "cd" * 32)
        _, manifest = find_manifest(restic, job.dataset, job.host)
    assert manifest.snapshot_id == "cd" * 32 and len(list(manifest.entries)) == 5


def test_the_manifest_is_hashed_on_idle_cpu_while_restic_runs_then_at_full_speed(
    local_repository: RepositoryConfig,
    settings: AgentSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hashing beside restic takes only CPU restic leaves idle; once restic has finished,
    the hashing thread is put back to normal priority (it waits here to see that)."""
    policies: list[int] = []
    make = datasetbackup.make_manifest

    def observed(*args: Any, **kwargs: Any) -> int:
        policies.append(os.sched_getscheduler(0))
        deadline = time.monotonic() + 30
        while os.sched_getscheduler(0) == os.SCHED_IDLE and time.monotonic() < deadline:
            time.sleep(0.01)
        policies.append(os.sched_getscheduler(0))
        return make(*args, **kwargs)

    monkeypatch.setattr(datasetbackup, "make_manifest", observed)
    record = run_backup_job(files_job(make_tree(tmp_path / "src")), local_repository, settings)
    assert record.result is Result.SUCCESS, record.error
    assert policies == [os.SCHED_IDLE, os.SCHED_OTHER]


def test_a_manifest_that_cannot_be_made_fails_the_backup_and_none_is_stored(
    local_repository: RepositoryConfig,
    settings: AgentSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A data snapshot with no manifest is a failed backup, said so; never an empty manifest
    that would vouch for nothing."""
    source = make_tree(tmp_path / "src")
    assert run_backup_job(files_job(source), local_repository, settings).result is Result.SUCCESS

    def failing(*args: Any, **kwargs: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(datasetbackup, "make_manifest", failing)
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        _, before = find_manifest(restic, "files", "primary-store-01")
        record = run_backup_job(files_job(source), local_repository, settings)
        _, after = find_manifest(restic, "files", "primary-store-01")
    assert record.result is Result.FAILURE
    assert "its manifest could not be" in record.error and "No space left" in record.error
    assert after == before  # the newest manifest is still the last good one


def _count_snapshots(restic: Restic) -> int:
    return restic.run(("restic", "snapshots", "--json")).stdout.count('"id"')


def test_failure_is_recorded_and_keeps_the_last_success(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    source = make_tree(tmp_path / "src")
    good = run_backup_job(files_job(source), local_repository, settings)
    broken = local_repository.model_copy(update={"password": local_repository.password + "-x"})
    Path(broken.password.removeprefix("file:")).write_text("a-wrong-restic-password\n")
    Path(broken.password.removeprefix("file:")).chmod(0o600)
    failed = run_backup_job(files_job(source), broken, settings)
    assert failed.result is Result.FAILURE
    assert "wrong-password" in failed.error and "site primary" in failed.error
    assert failed.last_success_at == good.last_success_at
    assert settings.textfile_directory is not None
    text = (settings.textfile_directory / "egov_backup_files.prom").read_text()
    assert "dr_backup_last_result{" in text and "} 0.0" in text
    assert "dr_backup_last_success_timestamp_seconds{" in text


def test_a_second_run_of_the_same_dataset_is_refused(settings: AgentSettings) -> None:
    with (
        hold_dataset_lock(settings.state_dir, "files"),
        pytest.raises(BackupError, match="already being backed up"),
        hold_dataset_lock(settings.state_dir, "files"),
    ):
        pass
    with hold_dataset_lock(settings.state_dir, "files"):  # released with its holder
        pass


def test_a_run_killed_before_it_ended_is_noticed_by_the_next(settings: AgentSettings) -> None:
    with hold_dataset_lock(settings.state_dir, "files") as interrupted:
        assert interrupted is False
    with hold_dataset_lock(settings.state_dir, "files") as interrupted:
        assert interrupted is False  # the last one ended
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from egov.backup.datasetbackup import hold_dataset_lock\n"
        "with hold_dataset_lock(Path(sys.argv[1]), 'files'):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code, str(settings.state_dir)], check=False)
    assert killed.returncode == -signal.SIGKILL
    with hold_dataset_lock(settings.state_dir, "files") as interrupted:
        assert interrupted is True
    with hold_dataset_lock(settings.state_dir, "files") as interrupted:
        assert interrupted is False


def test_the_run_after_a_killed_one_removes_the_lock_restic_left(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """A backup killed mid-upload (SIGKILL: restic cannot remove its lock) is followed by a run
    that clears that stale lock, and the repository holds no lock afterwards."""
    source = make_tree(tmp_path / "src")
    assert run_backup_job(files_job(source), local_repository, settings).result is Result.SUCCESS
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        stream = subprocess.Popen(
            ["restic", "backup", "--stdin", "--stdin-filename", "big.bin"],
            stdin=subprocess.PIPE,
            env=dict(restic.environment),
        )
        assert stream.stdin is not None
        locks = Path(local_repository.location) / "locks"
        for _ in range(300):
            if any(locks.iterdir()):
                break
            stream.stdin.write(os.urandom(1 << 16))
        assert any(locks.iterdir()), "restic took no lock"
        stream.kill()
        stream.wait()
    # what a killed agent leaves: its lock file still holding a PID
    (settings.state_dir / "locks" / "files.lock").write_text("4242\n")
    record = run_backup_job(files_job(source), local_repository, settings)
    assert record.result is Result.SUCCESS, record.error
    assert list(locks.iterdir()) == []


def test_network_errors_are_retried_then_recorded(
    settings: AgentSettings, secrets_dir: Path, tmp_path: Path
) -> None:
    sleeps: list[float] = []
    counting = AgentSettings(
        state_dir=settings.state_dir, cache_dir=settings.cache_dir, attempts=3,
        backoff_seconds=1.0, sleep=sleeps.append,
    )  # fmt: skip
    unreachable = make_rest(get_free_port(), secrets_dir)  # nothing listens there
    record = run_backup_job(files_job(make_tree(tmp_path / "src"), "site2"), unreachable, counting)
    assert record.result is Result.FAILURE
    # the "exists?" probe fails first: unreachable is never mistaken for missing
    assert "network" in record.error and "init" not in record.error
    assert REST_PASSWORD not in record.error


def test_unknown_dataset_is_bad_input(
    local_repository: RepositoryConfig, settings: AgentSettings
) -> None:
    config = AgentConfig(estate="x", site="primary", host="primary-store-01")
    with pytest.raises(InputError, match="--dataset nope"):
        run_agent_backup(config, settings, "nope")


def _scan_argv(stop: threading.Event, seen: list[str]) -> None:
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    argv = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if argv.startswith("restic"):
                seen.append(argv)


def test_no_secret_reaches_argv_records_or_metrics(
    rest_server: RestServer, secrets_dir: Path, settings: AgentSettings, tmp_path: Path
) -> None:
    repository = make_rest(rest_server.port, secrets_dir)
    with open_repository(repository, cache_dir=settings.cache_dir) as restic:
        ensure_repository(restic)  # what the storage host's deploy does
    source = make_tree(tmp_path / "src", files=200)
    stop = threading.Event()
    seen: list[str] = []
    scanner = threading.Thread(target=_scan_argv, args=(stop, seen), daemon=True)
    scanner.start()
    try:
        record = run_backup_job(files_job(source, "site2"), repository, settings)
    finally:
        stop.set()
        scanner.join()
    assert record.result is Result.SUCCESS, record.error
    assert any("restic backup" in argv for argv in seen), "the scan saw no restic child"
    leaked = [argv for argv in seen if PASSWORD in argv or REST_PASSWORD in argv]
    assert leaked == []
    for path in settings.state_dir.rglob("*.json"):
        text = path.read_text()
        assert PASSWORD not in text and REST_PASSWORD not in text
    assert settings.textfile_directory is not None
    for path in settings.textfile_directory.iterdir():
        assert REST_PASSWORD not in path.read_text()


def test_a_backup_stopped_by_sigterm_records_it_and_leaves_no_lock(
    local_repository: RepositoryConfig, tmp_path: Path
) -> None:
    """What `systemctl stop` (KillMode=mixed) does to egov-backup@files: SIGTERM to the agent
    alone, in the middle of the upload. The agent interrupts restic (which removes its lock),
    records the stop, dies by SIGTERM as the service manager expects, and the next run
    completes."""
    source = tmp_path / "src"
    source.mkdir()
    with (source / "big.bin").open("wb") as big:
        for _ in range(384):
            big.write(os.urandom(1 << 20))
    command, environment = make_agent_command(tmp_path, files_job(source), local_repository)
    locks = Path(local_repository.location) / "locks"
    agent = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (locks.is_dir() and any(locks.iterdir())):  # restic is at work
            assert agent.poll() is None and time.monotonic() < deadline, "no restic lock seen"
            time.sleep(0.02)
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == -signal.SIGTERM, stderr  # died by the signal it was sent
    assert "stopped by SIGTERM" in stderr
    record = read_record(BackupRecord, "files@primary-store-01", tmp_path / "state")
    assert record is not None and record.result is Result.FAILURE
    assert "stopped by SIGTERM" in record.error and record.last_success_at is None
    metrics = (tmp_path / "textfile/egov_backup_files.prom").read_text().splitlines()
    result = [line for line in metrics if line.startswith("dr_backup_last_result{")]
    assert len(result) == 1 and result[0].endswith(" 0.0"), metrics
    assert list(locks.iterdir()) == []  # restic removed its own lock
    assert list((Path(local_repository.location) / "snapshots").iterdir()) == []
    assert not (tmp_path / "state/locks/files.lock").read_text()  # a clean end, not a kill
    rerun = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
