"""Retention: --keep-within always, refused when unsafe, run for real on a local repository."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from egov.backup.agent import AgentSettings
from egov.backup.agentconfig import (
    get_replication_host,
    get_retention_host,
    make_agent_config,
    make_object_lock_days,
)
from egov.backup.bucket import ensure_bucket, make_s3_client
from egov.backup.datasetbackup import run_backup_job
from egov.backup.repositories import (
    AccessKind,
    RepositoryConfig,
    ensure_repository,
    open_repository,
)
from egov.backup.retention import (
    check_retention,
    make_retention_plan,
    run_retention,
    run_s3_version_purge,
)
from egov.deploys.backup import make_host_secret_files
from egov.errors import InputError
from egov.inventory.backup import Retention
from egov.inventory.model import Estate
from egov.records import Result
from tests.backup.conftest import make_s3, make_tree, need, write_secret
from tests.backup.test_datasetbackup import files_job


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


# The S3 repository's retention: its own host, its own (prune) key, and the bucket's lock.

PRUNE_ACCESS_KEY = "AKIAEGOVPRUNEKEY0002"
PRUNE_SECRET_KEY = "egov-test-prune-secret-5w4v3u"


def test_s3_retention_runs_away_from_the_clients_with_the_prune_key(lab: Estate) -> None:
    vnpt_host = get_retention_host(lab, "vnpt")
    assert vnpt_host is not None and vnpt_host.qualified_name == "vnpt-s3-01"
    config = make_agent_config(lab, vnpt_host)
    assert config.retention == ["vnpt"]
    local = config.repositories["vnpt@local"]
    credentials = "file:/run/credentials/egov-retention@vnpt.service"
    assert (local.kind, local.location) == (
        AccessKind.S3,
        "s3:http://10.213.2.10:9000/egov-camau-lab",
    )
    assert local.access_key == f"{credentials}/s3-access-key"
    assert local.secret_key == f"{credentials}/s3-secret-key"
    assert local.password == f"{credentials}/restic-password"
    assert config.purge_after_seconds == lab.backup.retention.within.total_seconds()
    # the prune key goes to the retention host alone; it gets no client key
    on_vnpt = make_host_secret_files(lab, set(), config.retention)
    assert sorted(Path(path).name for path in on_vnpt) == [
        "restic-vnpt", "s3-vnpt-prune-access-key", "s3-vnpt-prune-secret-key",
    ]  # fmt: skip
    replicator = get_replication_host(lab)
    assert replicator is not None
    replicating = make_agent_config(lab, replicator)
    assert "vnpt" not in replicating.retention and "vnpt@local" not in replicating.repositories
    held = make_host_secret_files(lab, set(replicating.repositories), replicating.retention)
    assert "s3-vnpt-access-key" in {Path(path).name for path in held}
    assert not any("prune" in path for path in held)


def test_without_a_prune_key_no_retention_runs_for_the_bucket(lab: Estate) -> None:
    repositories = dict(lab.backup.repositories)
    repositories["vnpt"] = repositories["vnpt"].model_copy(
        update={"prune_access_key": None, "prune_secret_key": None}
    )
    backup = lab.backup.model_copy(update={"repositories": repositories})
    assert get_retention_host(lab.model_copy(update={"backup": backup}), "vnpt") is None


def test_the_lock_never_ends_before_within_and_at_most_a_day_after() -> None:
    for within in (timedelta(hours=1), timedelta(days=2), timedelta(days=7, hours=1)):
        days = make_object_lock_days(Retention(within=within))
        assert within <= timedelta(days=days) < within + timedelta(days=1)


def test_s3_retention_with_the_prune_key_forgets_and_a_locked_pack_is_no_error(
    moto_server: str, secrets_dir: Path, settings: AgentSettings
) -> None:
    need("restic")
    client_config = make_s3(moto_server, secrets_dir, "egov-s3-retention")
    report = ensure_bucket(make_s3_client(client_config), "egov-s3-retention", lock_days=2)
    assert report.mode == "COMPLIANCE"
    with open_repository(client_config, cache_dir=settings.cache_dir) as restic:
        assert ensure_repository(restic)
        for moment in ("2026-01-01 01:00:00", "2026-01-02 01:00:00", "2026-01-03 01:00:00", None):
            argv = ["restic", "backup", "--json", "--stdin", "--stdin-filename", "dump.sql",
                    "--host", "primary-db-01", "--tag", "dataset:databases"]  # fmt: skip
            if moment is not None:
                argv += ["--time", moment]
            restic.check(restic.run(argv, input_text=f"rows of {moment}\n" * 500), "backup")
    prune_config = client_config.model_copy(
        update={
            "access_key": write_secret(secrets_dir / "s3-prune-access", PRUNE_ACCESS_KEY),
            "secret_key": write_secret(secrets_dir / "s3-prune-secret", PRUNE_SECRET_KEY),
        }
    )
    policy = Retention(within=timedelta(hours=1), daily=1, weekly=0, monthly=0, yearly=0)
    plan = make_retention_plan(prune_config, policy)
    with open_repository(prune_config, cache_dir=settings.cache_dir) as restic:
        assert restic.environment["AWS_ACCESS_KEY_ID"] == PRUNE_ACCESS_KEY
        assert all(PRUNE_SECRET_KEY not in part for part in plan.argv)
    output = run_retention(plan, prune_config, settings)  # restic exits 0: deletes are markers
    groups = json.loads(output.splitlines()[0])
    assert sum(len(group["remove"] or []) for group in groups) == 3
    purge = run_s3_version_purge(prune_config, timedelta(0))
    assert purge.purged == 0 and purge.still_locked  # every pack still locked: no error
    assert any(key.startswith("snapshots/") for key in purge.still_locked)
    with open_repository(prune_config, cache_dir=settings.cache_dir) as restic:
        snapshots = restic.run(("restic", "snapshots", "--json"))
        assert len(json.loads(snapshots.stdout)) == 1
        check = restic.run(("restic", "check"))
        assert check.returncode == 0, check.stderr
