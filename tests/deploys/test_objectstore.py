"""The lab's S3 stand-in: moto from a wheelhouse, proven with boto3 and restic on loopback.

The real test builds the wheelhouse the way the deploy gets it (pip from the registry, cached
under EGOV_CACHE), installs it with the deploy's own commands into a temporary root, starts
moto's server on 127.0.0.1 and drives it with boto3 (object lock, versioning) and restic 0.14.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from egov.deploys import objectstore
from egov.deploys.context import DeployContext
from egov.deploys.firewall import make_firewall_rules
from egov.deploys.wheelhouse import build_requirements_wheelhouse, make_requirements_key
from egov.errors import CommandFailed
from egov.inventory.model import Estate
from tests.deploys.conftest import host
from tests.deploys.support import get_free_port, get_site_role_calls, plan_deploy, wait_for_port

# moto checks no credentials; any pair signs requests the way VNPT's endpoint expects.
ACCESS_KEY = "lab-access-key"
SECRET_KEY = "lab-secret-key"


def test_unit_listens_on_the_sites_object_store_port(lab: Estate) -> None:
    unit = objectstore.make_unit(DeployContext(lab, host(lab, "vnpt/s3-01"), None))
    assert "ExecStart=/opt/egov/objectstore/bin/moto_server --host 0.0.0.0 --port 9000" in unit
    assert "DynamicUser=yes" in unit


def test_firewall_opens_the_object_store_port(lab: Estate) -> None:
    rules = make_firewall_rules(lab, host(lab, "vnpt/s3-01"))
    assert any(rule.port == 9000 and rule.protocol == "tcp" for rule in rules)


def test_install_switches_the_venv_only_after_it_works() -> None:
    commands = objectstore.make_install_commands(
        "/opt/egov", "/opt/egov/objectstore", "/opt/egov/o.tar", "moto[server]==5.2.5", "ab" * 32
    )
    install = next(index for index, command in enumerate(commands) if "pip install" in command)
    switch = next(index for index, command in enumerate(commands) if "mv -T" in command)
    assert install < switch
    assert "--no-index" in commands[install]
    assert "'moto[server]==5.2.5'" in commands[install]
    assert "/opt/egov/objectstore-abababababababab" in commands[install]


def test_requirements_key_follows_the_list_not_its_order() -> None:
    assert make_requirements_key(["a==1", "b==2"]) == make_requirements_key(["b==2", "a==1"])
    assert make_requirements_key(["a==1"]) != make_requirements_key(["a==2"])


def test_requirements_are_pinned() -> None:
    assert all("==" in requirement for requirement in objectstore.OBJECTSTORE_REQUIREMENTS)


def test_site_dispatches_the_objectstore_role() -> None:
    assert "objectstore.objectstore" in get_site_role_calls()
    assert callable(objectstore.objectstore)


def test_objectstore_role_installs_from_the_given_wheelhouse(lab: Estate, tmp_path: Path) -> None:
    tar = tmp_path / "objectstore-wheelhouse.tar"
    tar.write_bytes(b"wheels")
    data = {objectstore.OBJECTSTORE_WHEELHOUSE_KEY: str(tar)}
    names, _ = plan_deploy(lab, "vnpt/s3-01", objectstore.objectstore, data)
    assert names == [
        "objectstore | Install directory",
        "objectstore | Upload the S3 server's wheelhouse",
        "objectstore | Install the S3 server",
        "objectstore | Write the S3 server's unit",
        "objectstore | Restart the S3 server",
        "objectstore | Keep the S3 server running",
    ]


def test_objectstore_role_without_wheelhouse_changes_nothing(lab: Estate) -> None:
    names, _ = plan_deploy(lab, "vnpt/s3-01", objectstore.objectstore)
    assert names == []


# Real moto, boto3 and restic on loopback.


@pytest.fixture(scope="module")
def moto_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """moto installed by the deploy's commands from a wheelhouse, under a temporary root."""
    try:
        tar = build_requirements_wheelhouse(
            objectstore.OBJECTSTORE_WHEELHOUSE_NAME, objectstore.OBJECTSTORE_REQUIREMENTS
        )
    except CommandFailed as error:
        pytest.skip(f"cannot build the objectstore wheelhouse here: {error.stderr_tail[-200:]}")
    root = tmp_path_factory.mktemp("objectstore")
    venv = root / "objectstore"
    uploaded = root / "objectstore-wheelhouse.tar"
    shutil.copyfile(tar, uploaded)
    python = Path(sys.base_prefix) / "bin" / "python3"
    environment = {"PATH": f"{python.parent}:{os.environ['PATH']}"}
    for digest in ("ab" * 32, "cd" * 32):  # a reinstall replaces the previous venv
        commands = objectstore.make_install_commands(
            str(root), str(venv), str(uploaded), objectstore.OBJECTSTORE_REQUIREMENTS[0], digest
        )
        for command in commands:
            subprocess.run(["sh", "-c", command], check=True, env=environment, timeout=600)
    assert sorted(path.name for path in root.iterdir()) == [
        "objectstore",
        "objectstore-cdcdcdcdcdcdcdcd",
        "objectstore-wheelhouse.tar",
    ]
    assert (venv / objectstore.STAMP_NAME).read_text().strip() == "cd" * 32
    return venv


@pytest.fixture(scope="module")
def endpoint(moto_venv: Path) -> Iterator[str]:
    port = get_free_port()
    process = subprocess.Popen(
        [str(moto_venv / "bin" / "moto_server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout_seconds=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_boto3_sets_up_a_locked_versioned_bucket(endpoint: str) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket="egov-locked", ObjectLockEnabledForBucket=True)
    client.put_bucket_versioning(
        Bucket="egov-locked", VersioningConfiguration={"Status": "Enabled"}
    )
    client.put_object_lock_configuration(
        Bucket="egov-locked",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    assert client.get_bucket_versioning(Bucket="egov-locked")["Status"] == "Enabled"
    lock = client.get_object_lock_configuration(Bucket="egov-locked")["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    client.put_object(Bucket="egov-locked", Key="record", Body=b"one")
    client.put_object(Bucket="egov-locked", Key="record", Body=b"two")
    versions = client.list_object_versions(Bucket="egov-locked", Prefix="record")["Versions"]
    assert len(versions) == 2


def test_restic_backs_up_to_it_and_checks(endpoint: str, tmp_path: Path) -> None:
    if shutil.which("restic") is None:
        pytest.skip("restic is not installed (apt-get install restic)")
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ).create_bucket(Bucket="egov-restic")
    password_file = tmp_path / "password"
    password_file.write_text("repository-pw")
    source = tmp_path / "source"
    source.mkdir()
    (source / "record").write_text("one" * 1000)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RESTIC_PASSWORD_FILE": str(password_file),
        "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    repository = f"s3:{endpoint}/egov-restic"
    for arguments in (["init"], ["backup", "--quiet", str(source)], ["check", "--read-data"]):
        result = subprocess.run(
            ["restic", "-r", repository, *arguments],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
