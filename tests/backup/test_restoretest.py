"""Restore tests against real restic: a clean restore, a corrupted pack, a PostgreSQL dump."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from egov.backup.agent import AgentSettings
from egov.backup.datasetbackup import run_backup_job
from egov.backup.datasetrestore import list_snapshots
from egov.backup.datasets import BackupJob, make_dataset_tags
from egov.backup.manifest import (
    Manifest,
    ManifestEntry,
    compare_manifest,
    get_snapshot_suffix,
    make_manifest,
    name_snapshot,
    serialize_manifest,
)
from egov.backup.manifestsnapshot import make_manifest_command
from egov.backup.repositories import RepositoryConfig, open_repository
from egov.backup.restoretest import (
    RestoreTarget,
    find_manifest,
    find_postgres_bin,
    run_restore_test,
    throwaway_cluster,
)
from egov.execute import run_command
from egov.inventory.backup import DatasetKind
from egov.records import Result
from tests.backup.conftest import make_local, make_tree
from tests.backup.test_datasetbackup import files_job

FILES = RestoreTarget("files", DatasetKind.FILES)


def test_manifest_reuses_unchanged_hashes_and_spots_a_changed_byte(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    first = make_manifest("files", "h", [str(source)], ["*.skip"], 1.0)
    (source / "x.skip").write_text("excluded")
    poisoned = first.model_copy(
        update={"files": {path: entry.model_copy(update={"blake3": "0" * 64})
                          for path, entry in first.files.items()}}
    )  # fmt: skip
    second = make_manifest("files", "h", [str(source)], ["*.skip"], 2.0, poisoned)
    assert set(second.files) == set(first.files)  # excluded file left out
    assert all(entry.blake3 == "0" * 64 for entry in second.files.values())  # reused
    restored = tmp_path / "restored"
    for path in first.files:
        target = restored / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(path).read_bytes())
        os.utime(target, ns=(first.files[path].mtime_ns or 0, first.files[path].mtime_ns or 0))
    assert compare_manifest(first, restored).ok
    victim = restored / sorted(first.files)[0].lstrip("/")
    data = bytearray(victim.read_bytes())
    data[0] ^= 0xFF
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(first.files[sorted(first.files)[0]].mtime_ns or 0,) * 2)
    comparison = compare_manifest(first, restored)
    assert comparison.mismatched == [sorted(first.files)[0]]
    assert "1 files differ" in comparison.describe()


def test_an_older_sha256_entry_is_checked_with_sha256_and_kept_while_unchanged(
    tmp_path: Path,
) -> None:
    """Manifests written before BLAKE3 hold SHA-256: a restore of an old snapshot is still
    checked, and an unchanged file keeps its entry rather than being hashed again."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_bytes(b"before blake3")
    current = make_manifest("files", "h", [str(source)], [], 1.0)
    [(path, entry)] = current.files.items()
    old = entry.model_copy(
        update={"blake3": "", "sha256": hashlib.sha256(b"before blake3").hexdigest()}
    )
    older = Manifest(dataset="files", host="h", created_at=0.0, files={path: old})
    assert compare_manifest(older, tmp_path / "restored-nothing").missing == [path]
    restored = tmp_path / "restored"
    (restored / path.lstrip("/")).parent.mkdir(parents=True)
    shutil.copy2(path, restored / path.lstrip("/"))
    assert compare_manifest(older, restored).checked == 1
    assert compare_manifest(older, restored).ok
    assert make_manifest("files", "h", [str(source)], [], 2.0, older).files[path] == old
    (restored / path.lstrip("/")).write_bytes(b"before blake4")
    os.utime(restored / path.lstrip("/"), ns=(old.mtime_ns or 0, old.mtime_ns or 0))
    assert compare_manifest(older, restored).mismatched == [path]


def test_an_entry_without_a_digest_is_refused() -> None:
    with pytest.raises(ValidationError, match="blake3"):
        Manifest.model_validate_json(
            '{"dataset":"d","host":"h","created_at":0,"files":{"/a":{"size":1}}}'
        )


def test_the_manifest_json_names_its_snapshot_last(tmp_path: Path) -> None:
    """Everything but the snapshot id can be written before the backup ends."""
    source = make_tree(tmp_path / "src")
    manifest = make_manifest("files", "h", [str(source)], [], 1.0)
    text = serialize_manifest(manifest)
    assert '"sha256"' not in text and "snapshot_id" not in text and '"blake3"' in text
    named = name_snapshot(text, "c0ffee")
    assert named.endswith(get_snapshot_suffix("c0ffee"))
    assert named.startswith(text[:-1])
    assert Manifest.model_validate_json(named) == manifest.model_copy(
        update={"snapshot_id": "c0ffee"}
    )


def test_a_stream_entry_ignores_mtime(tmp_path: Path) -> None:
    (tmp_path / "portal.dump").write_bytes(b"dump")
    manifest = Manifest(
        dataset="d", host="h", created_at=0,
        files={"/portal.dump": ManifestEntry(size=4, sha256="0" * 64)},
    )  # fmt: skip
    assert compare_manifest(manifest, tmp_path).mismatched == ["/portal.dump"]


def test_an_unreadable_manifest_gives_way_to_the_one_before(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """A torn manifest (its writer killed in the middle of writing it; restic refuses an
    empty one by itself) is skipped: the one before names the snapshot to check."""
    source = make_tree(tmp_path / "src")
    record = run_backup_job(files_job(source), local_repository, settings)
    assert record.result is Result.SUCCESS and record.snapshot_id
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        torn = restic.run(make_manifest_command(files_job(source)), input_text='{"dataset":')
        assert torn.returncode == 0
        snapshot, manifest = find_manifest(restic, "files", "primary-store-01")
    assert manifest.snapshot_id == record.snapshot_id
    assert snapshot.paths == ["/manifest.json"]


def test_restore_test_passes_then_catches_a_corrupted_pack(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path, secrets_dir: Path
) -> None:
    source = make_tree(tmp_path / "src", files=20)
    assert run_backup_job(files_job(source), local_repository, settings).result is Result.SUCCESS
    good = run_restore_test(local_repository, FILES, settings)
    assert good.result is Result.SUCCESS, good.error
    assert good.files_checked == 20 and good.duration_seconds > 0
    # another repository with the same data stays restorable
    other = make_local(tmp_path, secrets_dir, "site2", "site2")
    assert run_backup_job(files_job(source, "site2"), other, settings).result is Result.SUCCESS
    # flip bytes in every pack file: restic's cache holds the tree packs, the data packs are
    # read from the repository, so the file contents come back damaged or not at all
    for pack in Path(local_repository.location, "data").rglob("*"):
        if pack.is_file():
            data = bytearray(pack.read_bytes())
            for offset in range(16, len(data) - 64, 64):
                data[offset] ^= 0xFF
            pack.write_bytes(bytes(data))
    bad = run_restore_test(local_repository, FILES, settings)
    assert bad.result is Result.FAILURE
    assert "dataset files" in bad.error and "site primary" in bad.error
    assert bad.last_success_at == good.last_success_at
    assert run_restore_test(other, FILES, settings).result is Result.SUCCESS


@pytest.fixture
def postgres_cluster() -> Iterator[Path]:
    bin_directory = find_postgres_bin()
    if bin_directory is None or os.geteuid() != 0:
        pytest.skip("PostgreSQL (apt-get install postgresql-15) and root are needed")
    # pytest's tmp_path is root-only; the cluster's user must reach its directory
    scratch = Path(tempfile.mkdtemp(prefix="egov-test-cluster-"))
    scratch.chmod(0o711)
    with throwaway_cluster(scratch / "cluster", bin_directory) as socket:
        psql = ("runuser", "-u", "postgres", "--", str(bin_directory / "psql"), "-h", str(socket))
        run_command((*psql, "-c", "CREATE DATABASE portal"))
        create = "CREATE TABLE canary (n int); INSERT INTO canary VALUES (41), (42)"
        run_command((*psql, "-d", "portal", "-c", create))
        run_command((*psql, "-c", "CREATE DATABASE motcua"))
        run_command((*psql, "-d", "motcua", "-c", create))
        yield socket
    shutil.rmtree(scratch, ignore_errors=True)


def test_postgres_dump_is_streamed_restored_and_queried(
    postgres_cluster: Path, local_repository: RepositoryConfig, settings: AgentSettings
) -> None:
    job = BackupJob(
        dataset="databases", kind=DatasetKind.POSTGRES, host="primary-db-01", site="primary",
        repository="primary", databases=["portal"],
        tags=make_dataset_tags("databases", "primary"),
    )  # fmt: skip
    with_socket = dataclasses.replace(settings, dump_environment={"PGHOST": str(postgres_cluster)})
    record = run_backup_job(job, local_repository, with_socket)
    assert record.result is Result.SUCCESS, record.error
    target = RestoreTarget(
        "databases", DatasetKind.POSTGRES, ("portal",),
        ("SELECT 1 FROM canary WHERE n = 42",),
    )  # fmt: skip
    tested = run_restore_test(local_repository, target, settings)
    assert tested.result is Result.SUCCESS, tested.error
    missing_row = dataclasses.replace(target, sanity_queries=("SELECT 1 FROM canary WHERE n = 7",))
    failed = run_restore_test(local_repository, missing_row, settings)
    assert failed.result is Result.FAILURE and "returned no row" in failed.error


def test_each_database_is_tested_from_the_run_its_manifest_names(
    postgres_cluster: Path, local_repository: RepositoryConfig, settings: AgentSettings
) -> None:
    """Two runs of two databases, the second database changed in between: the restore test
    takes both dumps of the newest run (the manifest's own restic starts before the dumps, so
    its time cannot bound them), and their checksums match."""
    job = BackupJob(
        dataset="databases", kind=DatasetKind.POSTGRES, host="primary-db-01", site="primary",
        repository="primary", databases=["portal", "motcua"],
        tags=make_dataset_tags("databases", "primary"),
    )  # fmt: skip
    with_socket = dataclasses.replace(settings, dump_environment={"PGHOST": str(postgres_cluster)})
    assert run_backup_job(job, local_repository, with_socket).result is Result.SUCCESS
    bin_directory = find_postgres_bin()
    assert bin_directory is not None
    psql = ("runuser", "-u", "postgres", "--", str(bin_directory / "psql"))
    insert = "INSERT INTO canary VALUES (43)"
    run_command((*psql, "-h", str(postgres_cluster), "-d", "motcua", "-c", insert))
    assert run_backup_job(job, local_repository, with_socket).result is Result.SUCCESS
    target = RestoreTarget(
        "databases", DatasetKind.POSTGRES, ("portal", "motcua"),
        ("SELECT 1 FROM canary WHERE n = 42",),
    )  # fmt: skip
    tested = run_restore_test(local_repository, target, settings)
    assert tested.result is Result.SUCCESS, tested.error


def test_a_failing_dump_is_a_failed_backup(
    postgres_cluster: Path, local_repository: RepositoryConfig, settings: AgentSettings
) -> None:
    job = BackupJob(
        dataset="databases", kind=DatasetKind.POSTGRES, host="primary-db-01", site="primary",
        repository="primary", databases=["nosuchdb"], tags=["egov"],
    )  # fmt: skip
    with_socket = dataclasses.replace(settings, dump_environment={"PGHOST": str(postgres_cluster)})
    record = run_backup_job(job, local_repository, with_socket)
    assert record.result is Result.FAILURE and "pg_dump of database nosuchdb" in record.error
    # restic was interrupted before the end of its input: no snapshot of a cut dump
    stored = list_snapshots(local_repository, settings)
    assert not [s for s in stored if "database:nosuchdb" in s.tags], stored
