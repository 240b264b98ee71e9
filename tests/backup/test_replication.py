"""Replication with real restic: copy, resume after a cut link, catalogs."""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path

import pytest

import egov.execute
from egov.backup.agent import AgentSettings
from egov.backup.datasetbackup import run_backup_job
from egov.backup.replication import (
    make_latest,
    make_replication_record,
    refresh_catalog,
    run_replication,
)
from egov.backup.repositories import RepositoryConfig, open_repository
from egov.backup.restic import parse_snapshots
from egov.errors import BackupError
from egov.records import CatalogRecord, ReplicationRecord, Result, read_record
from tests.backup.conftest import RestServer, make_local, make_rest, make_tree
from tests.backup.test_datasetbackup import files_job

SNAPSHOTS = """[
 {"time":"2026-01-01T01:30:00Z","hostname":"a","tags":["egov","dataset:etc"],"id":"01"},
 {"time":"2026-01-02T01:30:00Z","hostname":"a","tags":["egov","dataset:etc"],"id":"02"},
 {"time":"2026-01-02T01:31:00Z","hostname":"a","tags":["egov-manifest","dataset:etc"],"id":"03"},
 {"time":"2026-01-01T01:30:00Z","hostname":"b","tags":["egov","dataset:etc"],"id":"04"},
 {"time":"2026-01-03T01:30:00Z","hostname":"b","tags":["other"],"id":"05"}
]"""


def test_latest_is_per_dataset_and_host_without_manifests() -> None:
    latest = make_latest(parse_snapshots(SNAPSHOTS))
    assert {host: snapshot.id for host, snapshot in latest["etc"].items()} == {"a": "02", "b": "04"}
    assert set(latest) == {"etc"}


def _catalog(size: int | None, result: Result = Result.SUCCESS) -> CatalogRecord:
    return CatalogRecord(
        repository="vnpt", site="vnpt", refreshed_at=9.0, result=result, size_bytes=size
    )


def test_a_copy_record_counts_the_targets_growth(
    local_repository: RepositoryConfig, tmp_path: Path, secrets_dir: Path
) -> None:
    vnpt = make_local(tmp_path, secrets_dir, "vnpt", "vnpt")
    record = make_replication_record(
        local_repository, vnpt, (1.0, 5.0, ""), _catalog(1000), _catalog(4000)
    )
    assert (record.bytes_copied, record.started_at, record.finished_at) == (3000, 1.0, 5.0)
    unknown = [
        ((1.0, 5.0, ""), None, _catalog(4000)),  # no size before: nothing to subtract
        ((1.0, 5.0, ""), _catalog(1000), _catalog(None, Result.FAILURE)),  # no size after
        ((1.0, 5.0, "cut"), _catalog(1000), _catalog(4000)),  # the copy failed
    ]
    for copy, before, after in unknown:
        assert (
            make_replication_record(local_repository, vnpt, copy, before, after).bytes_copied
            is None
        )
    failed = make_replication_record(local_repository, vnpt, (1.0, 5.0, "cut"), None, _catalog(1))
    assert failed.result is Result.FAILURE and failed.error == "cut"


def test_copy_resumes_after_a_cut_link_and_leaves_no_lock(
    local_repository: RepositoryConfig,
    rest_server: RestServer,
    secrets_dir: Path,
    settings: AgentSettings,
    tmp_path: Path,
) -> None:
    source = make_tree(tmp_path / "src")
    assert run_backup_job(files_job(source), local_repository, settings).result is Result.SUCCESS
    site2 = make_rest(rest_server.port, secrets_dir)
    vnpt = make_local(tmp_path, secrets_dir, "vnpt", "vnpt")
    repositories = {"primary": local_repository, "vnpt": vnpt, "site2": site2}
    htpasswd = tmp_path / "htpasswd"
    run_replication(repositories, ["primary", "vnpt"], settings)  # vnpt is up to date
    rest_server.stop()  # the link to site 2 is cut
    # restic retries a refused connection for minutes on its own: bound it
    impatient = dataclasses.replace(settings, attempts=1, timeout_seconds=3.0)
    with pytest.raises(BackupError, match="site2") as failure:
        run_replication(repositories, ["primary", "vnpt", "site2"], impatient)
    assert "vnpt:" not in failure.value.message  # only site 2 failed
    failed = read_record(CatalogRecord, "site2", settings.state_dir)
    assert failed is not None and failed.result is Result.FAILURE
    cut = read_record(ReplicationRecord, "site2", settings.state_dir)
    assert cut is not None and cut.result is Result.FAILURE and cut.bytes_copied is None
    rest_server.start(htpasswd)
    (source / "new.txt").write_text("written after the cut\n" * 1000)
    vnpt_before = read_record(CatalogRecord, "vnpt", settings.state_dir)
    assert run_backup_job(files_job(source), local_repository, settings).result is Result.SUCCESS
    catalogs = run_replication(repositories, ["primary", "vnpt", "site2"], settings)
    counts = {catalog.repository: catalog.snapshot_count for catalog in catalogs}
    assert counts == {"primary": 2, "vnpt": 2, "site2": 2}
    # copies get ids of their own; the time is the original's
    newest = {
        catalog.repository: catalog.latest["files"]["primary-store-01"].time for catalog in catalogs
    }
    assert newest["primary"] == newest["vnpt"] == newest["site2"]
    assert catalogs[2].size_bytes and catalogs[2].last_success_at
    # each copy was timed; vnpt grew by what it received, site 2 had no size before
    copied = read_record(ReplicationRecord, "vnpt", settings.state_dir)
    assert copied is not None and copied.result is Result.SUCCESS
    assert copied.finished_at > copied.started_at and copied.source == "primary"
    assert vnpt_before is not None and vnpt_before.size_bytes is not None
    assert copied.bytes_copied == catalogs[1].size_bytes - vnpt_before.size_bytes > 0
    first = read_record(ReplicationRecord, "site2", settings.state_dir)
    assert first is not None and first.result is Result.SUCCESS and first.bytes_copied is None
    assert not any((rest_server.directory / "locks").iterdir())
    # the copy target shares the source's chunker parameters: a second copy adds nothing
    with open_repository(site2, cache_dir=settings.cache_dir) as restic:
        listed = restic.run(("restic", "snapshots", "--json", "--tag", "egov-manifest"))
        assert len(parse_snapshots(listed.stdout)) == 2


def test_catalog_failure_keeps_the_previous_picture(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    run_backup_job(files_job(make_tree(tmp_path / "src")), local_repository, settings)
    good = refresh_catalog(local_repository, settings)
    gone = local_repository.model_copy(update={"location": str(tmp_path / "nowhere")})
    bad = refresh_catalog(gone, settings)
    assert bad.result is Result.FAILURE and bad.latest == good.latest
    assert bad.last_success_at == good.last_success_at


def test_a_target_that_stops_answering_fails_the_run_within_the_timeout(
    local_repository: RepositoryConfig,
    secrets_dir: Path,
    settings: AgentSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A link that drops packets mid-request: the endpoint takes the connection, then says
    nothing. restic 0.14 would wait for TCP to give up; the call's bound stops it."""
    monkeypatch.setattr(egov.execute, "TIMEOUT_GRACE_SECONDS", 1.0)
    run_backup_job(files_job(make_tree(tmp_path / "src")), local_repository, settings)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        site2 = make_rest(silent.getsockname()[1], secrets_dir)
        bounded = dataclasses.replace(settings, timeout_seconds=2.0)
        started = time.monotonic()
        with pytest.raises(BackupError, match=r"site2: .*timed out after 2\.0 s"):
            run_replication(
                {"primary": local_repository, "site2": site2}, ["primary", "site2"], bounded
            )
    # the copy, then the catalog's listing: each bounded, each stopped within the grace
    assert time.monotonic() - started < 2 * (2.0 + 1.0) + 5
    assert read_record(CatalogRecord, "primary", settings.state_dir).result is Result.SUCCESS  # type: ignore[union-attr]


def test_parallel_copies_run_at_once_and_one_stalled_target_does_not_hold_the_other(
    local_repository: RepositoryConfig,
    secrets_dir: Path,
    settings: AgentSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``backup.parallel_copies``: site 2's copy stalls (an endpoint that says nothing) while
    vnpt's completes beside it, within site 2's bound; one after the other, vnpt's copy would
    have waited for the whole stall."""
    monkeypatch.setattr(egov.execute, "TIMEOUT_GRACE_SECONDS", 1.0)
    run_backup_job(files_job(make_tree(tmp_path / "src")), local_repository, settings)
    vnpt = make_local(tmp_path, secrets_dir, "vnpt", "vnpt")
    with socket.create_server(("127.0.0.1", 0)) as silent:
        site2 = make_rest(silent.getsockname()[1], secrets_dir)
        repositories = {"primary": local_repository, "site2": site2, "vnpt": vnpt}
        bounded = dataclasses.replace(settings, timeout_seconds=4.0)
        with pytest.raises(BackupError, match=r"site2: .*timed out") as failure:
            run_replication(repositories, ["primary", "site2", "vnpt"], bounded, parallel=True)
    assert "vnpt:" not in failure.value.message
    stalled = read_record(ReplicationRecord, "site2", settings.state_dir)
    copied = read_record(ReplicationRecord, "vnpt", settings.state_dir)
    assert stalled is not None and stalled.result is Result.FAILURE
    assert copied is not None and copied.result is Result.SUCCESS
    # vnpt's copy started before site 2's stalled one ended: they ran at once
    assert copied.started_at < stalled.finished_at and stalled.started_at < copied.finished_at
    assert read_record(CatalogRecord, "vnpt", settings.state_dir).snapshot_count == 1  # type: ignore[union-attr]


def test_a_lock_gone_between_restics_listing_and_its_read_does_not_stall_the_copy(
    local_repository: RepositoryConfig, secrets_dir: Path, settings: AgentSettings, tmp_path: Path
) -> None:
    """Another process's lock on the source, listed by restic and removed before restic reads
    it (a copy to another target ending, a backup ending): restic 0.14 retries reading it
    ten times, about a minute. The copies read the source without a lock, so they never
    look; with the source locked (and unlocked first), this run outlived its bound."""
    run_backup_job(files_job(make_tree(tmp_path / "src")), local_repository, settings)
    locks = Path(local_repository.location) / "locks"
    (locks / ("d5" * 32)).symlink_to(tmp_path / "removed-by-its-owner")  # listed, unreadable
    vnpt = make_local(tmp_path, secrets_dir, "vnpt", "vnpt")
    bounded = dataclasses.replace(settings, attempts=1, timeout_seconds=15.0)
    catalogs = run_replication(
        {"primary": local_repository, "vnpt": vnpt}, ["primary", "vnpt"], bounded
    )
    assert [catalog.snapshot_count for catalog in catalogs] == [1, 1]  # copied, and counted


def test_copies_run_one_after_the_other_unless_parallel(
    local_repository: RepositoryConfig, secrets_dir: Path, settings: AgentSettings, tmp_path: Path
) -> None:
    run_backup_job(files_job(make_tree(tmp_path / "src")), local_repository, settings)
    repositories = {
        "primary": local_repository,
        "vnpt": make_local(tmp_path, secrets_dir, "vnpt", "vnpt"),
        "site2": make_local(tmp_path, secrets_dir, "site2", "site2"),
    }
    run_replication(repositories, ["primary", "vnpt", "site2"], settings)
    first = read_record(ReplicationRecord, "vnpt", settings.state_dir)
    second = read_record(ReplicationRecord, "site2", settings.state_dir)
    assert first is not None and second is not None
    assert first.finished_at <= second.started_at
