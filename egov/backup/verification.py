"""Rolling ``restic check --read-data-subset=n/t``: the whole repository read over t runs.

restic splits the packs into t groups and reads group n; only runs 1/t … t/t together cover
everything, so the position ``n`` is remembered in the ``VerificationRecord``. A failed check
does not advance: the same group is read again next time (the alert persists until the
repository is repaired), so a completed cycle always means every group read without error.
A change of t (``verify_days``) restarts the cycle.
"""

from __future__ import annotations

from egov.backup.agent import AgentSettings, get_last_success_at, run_with_retries
from egov.backup.repositories import RepositoryConfig, open_repository
from egov.backup.restic import make_check_command, parse_check_errors
from egov.errors import EgovError
from egov.records import Result, VerificationRecord, read_record, write_record


def make_next_subset(previous: VerificationRecord | None, subsets: int) -> int:
    """The group to read next (1-based)."""
    if previous is None or previous.subsets != subsets:
        return 1
    if previous.result is Result.FAILURE:
        return previous.subset
    return previous.subset % subsets + 1


def make_verification_record(
    repository: RepositoryConfig,
    previous: VerificationRecord | None,
    subset: int,
    subsets: int,
    now: float,
    error: str = "",
) -> VerificationRecord:
    """The record after reading ``subset``/``subsets`` (``error`` empty when it passed)."""
    same_cycle = previous is not None and previous.subsets == subsets
    retrying = (
        same_cycle
        and previous is not None
        and previous.subset == subset
        and previous.result is Result.FAILURE
    )
    if (subset == 1 and not retrying) or not same_cycle or previous is None:
        cycle_started_at: float | None = now
    else:
        cycle_started_at = previous.cycle_started_at
    last_full_cycle_at = previous.last_full_cycle_at if previous else None
    if not error and subset == subsets and cycle_started_at is not None:
        last_full_cycle_at = now
    return VerificationRecord(
        repository=repository.name,
        site=repository.site,
        checked_at=now,
        result=Result.FAILURE if error else Result.SUCCESS,
        error=error,
        subset=subset,
        subsets=subsets,
        cycle_started_at=cycle_started_at,
        last_full_cycle_at=last_full_cycle_at,
        last_success_at=get_last_success_at(previous, not error, now),
    )


def run_verification(
    repository: RepositoryConfig, subsets: int, settings: AgentSettings
) -> VerificationRecord:
    """Read the next group of ``repository`` and record the outcome (written either way)."""
    previous = read_record(VerificationRecord, repository.name, settings.state_dir)
    subset = make_next_subset(previous, subsets)
    error = ""
    try:
        with open_repository(
            repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
        ) as restic:
            argv = make_check_command(subset, subsets)
            result = run_with_retries(restic, lambda: restic.run(argv), settings)
            if result.returncode != 0:
                found = parse_check_errors(result.stdout, result.stderr)
                error = (
                    f"check {subset}/{subsets} of repository {repository.name} (site "
                    f"{repository.site}) failed: " + "; ".join(found[:5] or [result.stderr_tail])
                )
    except EgovError as failure:
        error = failure.message
    record = make_verification_record(
        repository, previous, subset, subsets, settings.clock(), error[:1000]
    )
    write_record(record, settings.state_dir)
    return record
