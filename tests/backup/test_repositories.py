"""Repository access: configs from the inventory, probes, init, append-only, S3 buckets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest

from egov.backup.agentconfig import make_agent_config
from egov.backup.bucket import ensure_bucket, make_s3_client
from egov.backup.repositories import (
    AccessKind,
    RepositoryConfig,
    check_reachable,
    ensure_repository,
    get_endpoint,
    get_repository_state,
    make_credential_url,
    make_repository_config,
    open_repository,
)
from egov.backup.restic import make_snapshots_command, make_stdin_backup_command, parse_snapshots
from egov.backup.resticoutcome import Outcome
from egov.errors import BackupError, InputError
from egov.hostlayout import SECRET_DIRECTORY
from egov.inventory.model import Estate
from tests.backup.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    RestServer,
    make_local,
    make_rest,
    make_s3,
    need,
    write_secret,
)
from tests.deploys.conftest import host
from tests.deploys.support import get_free_port


def test_rest_location_carries_no_credentials(lab: Estate) -> None:
    config = make_repository_config(lab, "primary")
    assert config.kind is AccessKind.REST
    assert config.location.startswith("rest:http://10.213.") and "@" not in config.location
    assert config.password == lab.backup.repositories["primary"].password


def test_on_hosts_secrets_are_files_under_etc_egov(lab: Estate) -> None:
    config = make_repository_config(lab, "vnpt", SECRET_DIRECTORY)
    assert config.location == "s3:http://10.213.2.10:9000/egov-camau-lab"
    assert config.access_key == "file:/etc/egov/secrets/s3-vnpt-access-key"


def test_unknown_repository_is_bad_input(lab: Estate) -> None:
    with pytest.raises(InputError, match="unknown repository"):
        make_repository_config(lab, "nowhere")


def test_credential_url_quotes_the_password() -> None:
    url = make_credential_url("rest:http://10.0.0.1:8000/", "backup", "p@ss/w:rd")
    assert url == "rest:http://backup:p%40ss%2Fw%3Ard@10.0.0.1:8000/"


def test_agent_config_holds_no_secret(lab: Estate) -> None:
    config = make_agent_config(lab, host(lab, "primary/db-01"))
    dumped = config.model_dump_json()
    assert [job.dataset for job in config.jobs] == ["databases", "etc"]
    assert "file:/var/lib/egov/lab" not in dumped  # only /etc/egov/secrets paths
    assert set(config.repositories) == {"primary"}
    mon = make_agent_config(lab, host(lab, "primary/mon-01"))
    assert mon.replication == ["primary", "vnpt", "site2"]
    store = make_agent_config(lab, host(lab, "site2/store-01"))
    assert store.retention == ["site2"]
    assert store.repositories["site2@local"].location == "/srv/restic/site2"
    assert json.loads(dumped)["host"] == "primary-db-01"


def test_the_replication_host_gets_the_timeout_and_lock_days(lab: Estate) -> None:
    mon = make_agent_config(lab, host(lab, "primary/mon-01"))
    assert mon.replication_timeout_seconds == 30.0  # inventory/lab.yaml: 30s
    assert mon.object_lock_days == 2  # retention within 2d
    assert make_agent_config(lab, host(lab, "primary/db-01")).replication_timeout_seconds is None


def test_endpoint_of_each_repository_kind(lab: Estate, tmp_path: Path) -> None:
    assert get_endpoint(make_repository_config(lab, "primary")) == ("10.213.1.30", 8000)
    assert get_endpoint(make_repository_config(lab, "vnpt")) == ("10.213.2.10", 9000)
    local = make_local(tmp_path, tmp_path, "here", "primary")
    assert get_endpoint(local) is None
    check_reachable(local)  # nothing to connect to: never raises


def test_an_endpoint_taking_no_connection_is_unreachable_at_once(lab: Estate) -> None:
    closed = make_repository_config(lab, "primary").model_copy(
        update={"location": f"rest:http://127.0.0.1:{get_free_port()}/"}
    )
    with pytest.raises(BackupError, match=r"primary \(site primary\) is unreachable"):
        check_reachable(closed, timeout_seconds=2)


def test_probe_tells_missing_from_unauthorized_and_init_once(
    rest_server: RestServer, secrets_dir: Path, tmp_path: Path
) -> None:
    repository = make_rest(rest_server.port, secrets_dir)
    with open_repository(repository, cache_dir=tmp_path / "cache") as restic:
        assert get_repository_state(restic) is Outcome.MISSING
        assert ensure_repository(restic) is True
        assert ensure_repository(restic) is False
        assert get_repository_state(restic) is Outcome.OK
    stranger = repository.model_copy(
        update={"rest_password": write_secret(secrets_dir / "other", "not-the-rest-password")}
    )
    with open_repository(stranger, cache_dir=tmp_path / "cache") as restic:
        assert get_repository_state(restic) is Outcome.UNAUTHORIZED
        with pytest.raises(BackupError, match="unauthorized"):
            ensure_repository(restic)
    wrong = repository.model_copy(
        update={"password": write_secret(secrets_dir / "wrong", "not-the-restic-password")}
    )
    with open_repository(wrong, cache_dir=tmp_path / "cache") as restic:
        assert get_repository_state(restic) is Outcome.WRONG_PASSWORD


def test_append_only_server_refuses_forget_prune(
    rest_server: RestServer, secrets_dir: Path, tmp_path: Path
) -> None:
    repository = make_rest(rest_server.port, secrets_dir)
    with open_repository(repository, cache_dir=tmp_path / "cache") as restic:
        ensure_repository(restic)
        for _ in range(2):
            argv = make_stdin_backup_command("x", "h", ["egov"])
            restic.check(restic.run(argv, input_text="data"), "backup")
    # what a thief with the client's credentials would try; restic retries the refused
    # deletes for minutes, so the attempt is cut after a few seconds
    bounded = {"cache_dir": tmp_path / "cache", "timeout_seconds": 4.0}
    with open_repository(repository, **bounded) as restic:  # type: ignore[arg-type]
        result = restic.run(("restic", "forget", "--keep-last", "1", "--prune"))
        assert result.returncode != 0
    assert len(list((rest_server.directory / "snapshots").iterdir())) == 2


def test_s3_bucket_is_versioned_and_locked_and_restic_works(
    moto_server: str, secrets_dir: Path, tmp_path: Path
) -> None:
    need("restic")
    repository = make_s3(moto_server, secrets_dir, "egov-backup-test")
    report = ensure_bucket(make_s3_client(repository), "egov-backup-test", lock_days=2)
    assert report.created and report.versioning and report.object_lock
    assert report.warnings == ()
    again = ensure_bucket(make_s3_client(repository), "egov-backup-test", lock_days=2)
    assert not again.created
    client = boto3.client(
        "s3", endpoint_url=moto_server, region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
    )  # fmt: skip
    client.create_bucket(Bucket="egov-no-lock")
    client.put_bucket_versioning(
        Bucket="egov-no-lock", VersioningConfiguration={"Status": "Enabled"}
    )
    # a bucket restic created bare already holds objects: moto then refuses the lock
    client.put_object(Bucket="egov-no-lock", Key="config", Body=b"x")
    unlocked = ensure_bucket(make_s3_client(repository), "egov-no-lock", lock_days=2)
    assert not unlocked.object_lock and "no object lock" in unlocked.warnings[0]
    with open_repository(repository, cache_dir=tmp_path / "cache") as restic:
        assert restic.environment["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY
        assert get_repository_state(restic) is Outcome.MISSING
        assert ensure_repository(restic)
        result = restic.run(make_stdin_backup_command("x", "h", ["egov"]), input_text="s3 data")
        restic.check(result, "backup")


def test_a_bound_restic_shows_no_secret_in_its_repr(secrets_dir: Path, tmp_path: Path) -> None:
    repository = make_s3("http://127.0.0.1:9", secrets_dir, "egov-repr")
    with open_repository(repository, cache_dir=tmp_path / "cache") as restic:
        shown = repr(restic)
        assert SECRET_KEY in restic.environment.values()
    assert "vnpt (site vnpt)" in shown
    assert SECRET_KEY not in shown and ACCESS_KEY not in shown and "restic-pw" not in shown


def test_a_stream_whose_producer_fails_is_never_stored(
    local_repository: RepositoryConfig, tmp_path: Path
) -> None:
    """restic --stdin stores whatever it read at end-of-input; a dump cut by its producer's
    failure must not become a snapshot that looks whole."""
    with open_repository(local_repository, cache_dir=tmp_path / "cache") as restic:
        assert ensure_repository(restic) is True
        argv = make_stdin_backup_command("portal.dump", "primary-db-01", ["egov"])
        cut = ("sh", "-c", "head -c 300000 /dev/urandom; sleep 1; exit 1")
        dump, stored = restic.run_from(cut, argv, {"PATH": os.environ["PATH"]})
        assert dump.returncode == 1 and stored.outcome is not Outcome.OK
        whole = ("sh", "-c", "head -c 300000 /dev/urandom")
        dump, stored = restic.run_from(whole, argv, {"PATH": os.environ["PATH"]})
        assert dump.returncode == 0 and stored.outcome is Outcome.OK
        listed = restic.run(make_snapshots_command(["egov"], None))
    assert len(parse_snapshots(listed.stdout)) == 1  # the whole one only


def test_a_files_dataset_shards_reach_the_agent_config(lab: Estate) -> None:
    """``backup.datasets.X.shards`` goes into the job of every host backing X up."""
    store = host(lab, "primary/store-01")
    assert {job.dataset: job.shards for job in make_agent_config(lab, store).jobs} == {
        "files": 1,
        "etc": 1,
    }
    files = lab.backup.datasets["files"].model_copy(update={"shards": 3})
    sharded = lab.model_copy(
        update={
            "backup": lab.backup.model_copy(
                update={"datasets": {**lab.backup.datasets, "files": files}}
            )
        }
    )
    jobs = {job.dataset: job for job in make_agent_config(sharded, store).jobs}
    assert jobs["files"].shards == 3 and jobs["etc"].shards == 1
