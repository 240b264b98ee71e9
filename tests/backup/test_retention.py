"""Retention: --keep-within always, refused when unsafe, run for real on a local repository."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from egov.backup.agent import AgentSettings, run_backup_job
from egov.backup.repositories import RepositoryConfig
from egov.backup.retention import check_retention, make_retention_plan, run_retention
from egov.errors import InputError
from egov.inventory.backup import Retention
from egov.records import Result
from tests.backup.conftest import make_tree
from tests.backup.test_agent import files_job


def test_counts_without_within_are_refused_on_append_only() -> None:
    with pytest.raises(InputError, match="within"):
        check_retention(Retention(within=timedelta(0), daily=7), append_only=True)
    check_retention(Retention(within=timedelta(0), daily=7), append_only=False)


def test_forget_keeps_everything_younger_than_within(
    local_repository: RepositoryConfig, settings: AgentSettings, tmp_path: Path
) -> None:
    source = make_tree(tmp_path / "src")
    for _ in range(2):
        assert (
            run_backup_job(files_job(source), local_repository, settings).result is Result.SUCCESS
        )
    plan = make_retention_plan(local_repository, Retention(daily=1, weekly=0, monthly=0, yearly=0))
    assert "--keep-within" in plan.argv and "--prune" in plan.argv
    groups = json.loads(run_retention(plan, local_repository, settings).splitlines()[0])
    assert sum(len(group["remove"] or []) for group in groups) == 0
    assert sum(len(group["keep"]) for group in groups) == 4  # 2 data + 2 manifests
