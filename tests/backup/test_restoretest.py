"""Restore tests against real restic: a clean restore, a corrupted pack, a wrong byte written
by the restore, a PostgreSQL dump."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from egov.backup.agent import AgentSettings
from egov.backup.datasetbackup import run_backup_job
from egov.backup.datasetrestore import list_snapshots
from egov.backup.datasets import BackupJob, make_dataset_tags, make_manifest_tags
from egov.backup.manifestsnapshot import make_manifest_command
from egov.backup.repositories import RepositoryConfig, open_repository
from egov.backup.restic import make_stdin_backup_command
from egov.backup.resticexec import Restic, ResticResult
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


class RestoresWatched:
    """restic's ``restore`` as the restore test runs it: whether each was asked to read its
    files back (``--verify``), and, while ``wrong_byte`` is set, one byte of the first file it
    wrote changed in place, size and mtime kept, as a restore writing a wrong byte leaves it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.verify_asked: list[bool] = []
        self.wrong_byte = True
        self.damaged: list[str] = []
        real = Restic.run

        def run(restic: Restic, argv: Sequence[str], **options: Any) -> ResticResult:
            result = real(restic, argv, **options)
            if argv[1] == "restore":
                self.verify_asked.append("--verify" in argv)
                if self.wrong_byte:
                    self.damaged.append(
                        self._write_a_wrong_byte(Path(argv[argv.index("--target") + 1]))
                    )
            return result

        monkeypatch.setattr(Restic, "run", run)

    @staticmethod
    def _write_a_wrong_byte(target: Path) -> str:
        """Flip the first byte of the first file restored under ``target``: return its path
        as the backup saw it."""
        restored = sorted(path for path in target.rglob("*") if path.is_file())[0]
        info = restored.stat()
        data = bytearray(restored.read_bytes())
        data[0] ^= 0x01
        restored.write_bytes(bytes(data))
        os.utime(restored, ns=(info.st_atime_ns, info.st_mtime_ns))
        return f"/{restored.relative_to(target)}"


def test_a_restore_test_reads_each_file_once_and_fails_on_a_wrong_byte(
    local_repository: RepositoryConfig,
    settings: AgentSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """restic is not asked to read the restored files back: the comparison with the manifest
    reads each once. A byte restored wrong (its size and mtime right, so the manifest vouches
    for the file) fails the test naming the file; restored right, the test passes."""
    source = make_tree(tmp_path / "src")
    assert run_backup_job(files_job(source), local_repository, settings).result is Result.SUCCESS
    restores = RestoresWatched(monkeypatch)
    bad = run_restore_test(local_repository, FILES, settings)
    assert bad.result is Result.FAILURE
    assert restores.damaged and f"1 files differ ({restores.damaged[0]})" in bad.error
    restores.wrong_byte = False
    good = run_restore_test(local_repository, FILES, settings)
    assert good.result is Result.SUCCESS, good.error
    assert good.files_checked == 5 and restores.verify_asked == [False, False]


def test_an_unreadable_manifest_gives_way_to_the_one_before(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """A torn manifest (its writer killed in the middle of writing it; restic refuses an
    empty one by itself) is skipped: the one before names the snapshot to check. Torn in
    the old single-JSON format, or in the streamed one without its trailer."""
    source = make_tree(tmp_path / "src")
    record = run_backup_job(files_job(source), local_repository, settings)
    assert record.result is Result.SUCCESS and record.snapshot_id
    torn_texts = (
        '{"dataset":',
        '{"egov-manifest":2,"dataset":"files","host":"primary-store-01","created_at":1}\n'
        '["/srv/a",1,2,3,"00"]\n["/srv/b",1,',
    )
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        for text in torn_texts:
            torn = restic.run(make_manifest_command(files_job(source)), input_text=text)
            assert torn.returncode == 0
        snapshot, manifest = find_manifest(restic, "files", "primary-store-01")
    assert manifest.snapshot_id == record.snapshot_id and manifest.complete
    assert snapshot.paths == ["/manifest.jsonl"]
    assert len(list(manifest.entries)) == 5


def test_a_restore_test_checks_a_snapshot_whose_manifest_is_in_the_old_format(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    """Manifests stored before the streamed format are one JSON document (some with SHA-256
    entries): the restore test of such a snapshot still compares every file."""
    source = make_tree(tmp_path / "src", files=3)
    record = run_backup_job(files_job(source), local_repository, settings)
    assert record.result is Result.SUCCESS and record.snapshot_id
    files = {}
    for path in sorted(source.rglob("*.txt")):
        info = path.stat()
        digest = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        files[str(path)] = {"size": info.st_size, "mtime_ns": info.st_mtime_ns, **digest}
    old = json.dumps(
        {"dataset": "files", "host": "primary-store-01", "created_at": 1.0, "files": files,
         "snapshot_id": record.snapshot_id},
        separators=(",", ":"),
    )  # fmt: skip
    with open_repository(local_repository, cache_dir=settings.cache_dir) as restic:
        argv = make_stdin_backup_command(
            "manifest.json", "primary-store-01", make_manifest_tags("files", "primary")
        )
        assert restic.run(argv, input_text=old).returncode == 0
        snapshot, manifest = find_manifest(restic, "files", "primary-store-01")
    assert snapshot.paths == ["/manifest.json"] and manifest.snapshot_id == record.snapshot_id
    tested = run_restore_test(local_repository, FILES, settings)
    assert tested.result is Result.SUCCESS, tested.error
    assert tested.files_checked == 3


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


def test_postgres_dump_is_streamed_restored_checked_and_queried(
    postgres_cluster: Path,
    local_repository: RepositoryConfig,
    settings: AgentSettings,
    monkeypatch: pytest.MonkeyPatch,
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
    restores = RestoresWatched(monkeypatch)  # the dump restored with a wrong byte
    wrong = run_restore_test(local_repository, target, settings)
    assert wrong.result is Result.FAILURE and restores.verify_asked == [False]
    assert "the dump of database portal differs from the one backed up" in wrong.error
    restores.wrong_byte = False
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
