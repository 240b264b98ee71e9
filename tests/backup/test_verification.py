"""Rolling verification: the position is remembered and a failure is read again."""

from __future__ import annotations

from pathlib import Path

from egov.backup.agent import AgentSettings
from egov.backup.repositories import RepositoryConfig
from egov.backup.verification import make_next_subset, make_verification_record, run_verification
from egov.records import Result, VerificationRecord
from tests.backup.conftest import make_tree


def record(
    repository: RepositoryConfig,
    subset: int,
    subsets: int,
    now: float,
    previous: VerificationRecord | None = None,
    error: str = "",
) -> VerificationRecord:
    return make_verification_record(repository, previous, subset, subsets, now, error)


def test_rotation_covers_every_group_then_restarts(local_repository: RepositoryConfig) -> None:
    previous = None
    seen = []
    for day in range(8):
        subset = make_next_subset(previous, 3)
        seen.append(subset)
        previous = record(local_repository, subset, 3, float(day), previous)
    assert seen == [1, 2, 3, 1, 2, 3, 1, 2]
    assert previous is not None
    assert previous.last_full_cycle_at == 5.0
    assert previous.cycle_started_at == 6.0


def test_failure_reads_the_same_group_again_and_delays_the_cycle(
    local_repository: RepositoryConfig,
) -> None:
    first = record(local_repository, 1, 2, 1.0)
    failed = record(local_repository, 2, 2, 2.0, first, error="pack broken")
    assert failed.result is Result.FAILURE and failed.last_full_cycle_at is None
    assert make_next_subset(failed, 2) == 2
    repaired = record(local_repository, 2, 2, 3.0, failed)
    assert repaired.last_full_cycle_at == 3.0 and repaired.cycle_started_at == 1.0


def test_changing_the_days_restarts_the_cycle(local_repository: RepositoryConfig) -> None:
    assert make_next_subset(record(local_repository, 2, 7, 1.0), 30) == 1


def test_real_check_advances_and_remembers(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    from egov.backup.datasetbackup import run_backup_job
    from egov.backup.datasets import BackupJob, make_dataset_tags

    source = make_tree(tmp_path / "source")
    job = BackupJob(
        dataset="files", kind="files", host="primary-store-01", site="primary",
        repository="primary", paths=[str(source)], tags=make_dataset_tags("files", "primary"),
    )  # fmt: skip
    assert run_backup_job(job, local_repository, settings).result is Result.SUCCESS
    first = run_verification(local_repository, 2, settings)
    second = run_verification(local_repository, 2, settings)
    assert (first.subset, second.subset) == (1, 2)
    assert second.result is Result.SUCCESS and second.last_full_cycle_at is not None
