"""The VNPT bucket's object lock against moto's S3 server on loopback, and the bucket policy.

moto checks no credentials, so "the replication key" here is the client the replication job
would build (``make_s3_client`` of the repository's config): what the tests show is what the
*lock* refuses to anyone. COMPLIANCE is what holds on the stand-in; GOVERNANCE gives way to
the bypass header, which is why egov then writes a bucket policy.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from egov.backup.bucket import (
    DENIED_TO_REPLICATION_KEY,
    ensure_bucket,
    make_bucket_policy,
    make_s3_client,
    render_bucket_policy,
)
from egov.cli import run
from egov.inventory.model import Estate, ObjectLockMode, ObjectStore
from tests.backup.conftest import LAB, make_s3

REPLICATION_PRINCIPAL = "arn:aws:iam::123456789012:user/egov-replication"


def _locked_version(client: Any, bucket: str, key: str) -> str:
    client.put_object(Bucket=bucket, Key=key, Body=b"a restic pack")
    versions = client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    return str(versions[0]["VersionId"])


def test_compliance_refuses_the_replication_keys_bypass_delete(
    moto_server: str, secrets_dir: Path
) -> None:
    client = make_s3_client(make_s3(moto_server, secrets_dir, "egov-compliance"))
    report = ensure_bucket(client, "egov-compliance", lock_days=2)  # compliance by default
    assert report.object_lock and report.mode == "COMPLIANCE" and report.warnings == ()
    rule = client.get_object_lock_configuration(Bucket="egov-compliance")
    default = rule["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert (default["Mode"], default["Days"]) == ("COMPLIANCE", 2)
    version = _locked_version(client, "egov-compliance", "data/ab/pack")
    head = client.head_object(Bucket="egov-compliance", Key="data/ab/pack", VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(
            Bucket="egov-compliance",
            Key="data/ab/pack",
            VersionId=version,
            BypassGovernanceRetention=True,
        )
    stored = client.list_object_versions(Bucket="egov-compliance")["Versions"]
    assert [entry["VersionId"] for entry in stored] == [version]


def test_moto_lets_a_compliance_lock_be_rewritten_a_gap_of_the_stand_in(
    moto_server: str, secrets_dir: Path
) -> None:
    """On AWS, PutObjectRetention cannot shorten a COMPLIANCE lock or change its mode;
    moto 5.2.5 accepts both, after which the version deletes. The lab therefore shows the
    bypass header refused, not that no two-step attack exists; the GOVERNANCE bucket policy
    denies s3:PutObjectRetention as well. If moto starts refusing, this test says so."""
    client = make_s3_client(make_s3(moto_server, secrets_dir, "egov-moto-gap"))
    ensure_bucket(client, "egov-moto-gap", lock_days=1)
    version = _locked_version(client, "egov-moto-gap", "data/ef/pack")
    past = datetime.now(UTC) - timedelta(seconds=5)
    client.put_object_retention(
        Bucket="egov-moto-gap",
        Key="data/ef/pack",
        VersionId=version,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": past},
    )
    client.delete_object(Bucket="egov-moto-gap", Key="data/ef/pack", VersionId=version)
    assert "Versions" not in client.list_object_versions(Bucket="egov-moto-gap")


def test_governance_gives_way_to_the_bypass_so_egov_says_the_policy_is_needed(
    moto_server: str, secrets_dir: Path
) -> None:
    client = make_s3_client(make_s3(moto_server, secrets_dir, "egov-governance"))
    report = ensure_bucket(client, "egov-governance", 2, ObjectLockMode.GOVERNANCE)
    assert report.mode == "GOVERNANCE"
    assert "egov backup bucket-policy" in report.warnings[0]
    version = _locked_version(client, "egov-governance", "data/cd/pack")
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket="egov-governance", Key="data/cd/pack", VersionId=version)
    # what the policy exists for: with the header, the lock gives way
    client.delete_object(
        Bucket="egov-governance",
        Key="data/cd/pack",
        VersionId=version,
        BypassGovernanceRetention=True,
    )
    assert "Versions" not in client.list_object_versions(Bucket="egov-governance")
    # the endpoint takes the policy egov writes (moto stores it; it enforces no IAM)
    policy = render_bucket_policy("egov-governance", REPLICATION_PRINCIPAL)
    client.put_bucket_policy(Bucket="egov-governance", Policy=policy)
    stored = json.loads(client.get_bucket_policy(Bucket="egov-governance")["Policy"])
    assert stored == json.loads(policy)


def test_an_existing_governance_bucket_is_not_switched_in_place_on_moto_and_it_says_so(
    moto_server: str, secrets_dir: Path
) -> None:
    client = make_s3_client(make_s3(moto_server, secrets_dir, "egov-was-governance"))
    ensure_bucket(client, "egov-was-governance", 1, ObjectLockMode.GOVERNANCE)
    _locked_version(client, "egov-was-governance", "config")
    # AWS changes a bucket's default retention in place; moto 5.2 only an empty bucket's
    report = ensure_bucket(client, "egov-was-governance", 1, ObjectLockMode.COMPLIANCE)
    assert report.object_lock and report.mode == "GOVERNANCE"
    assert any("could not be set to COMPLIANCE" in warning for warning in report.warnings)
    assert any("bucket-policy" in warning for warning in report.warnings)
    # a bucket already as wanted is left alone, objects or not: no warning on every deploy
    kept = ensure_bucket(client, "egov-was-governance", 1, ObjectLockMode.GOVERNANCE)
    assert kept.mode == "GOVERNANCE" and len(kept.warnings) == 1  # the policy reminder


def test_an_empty_governance_bucket_moves_to_compliance_and_says_what_keeps_its_mode(
    moto_server: str, secrets_dir: Path
) -> None:
    client = make_s3_client(make_s3(moto_server, secrets_dir, "egov-to-compliance"))
    ensure_bucket(client, "egov-to-compliance", 1, ObjectLockMode.GOVERNANCE)
    report = ensure_bucket(client, "egov-to-compliance", 3, ObjectLockMode.COMPLIANCE)
    assert report.mode == "COMPLIANCE"
    assert "keep their GOVERNANCE lock" in report.warnings[0]
    rule = client.get_object_lock_configuration(Bucket="egov-to-compliance")
    assert rule["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"] == 3
    again = ensure_bucket(client, "egov-to-compliance", 3, ObjectLockMode.COMPLIANCE)
    assert again.mode == "COMPLIANCE" and again.warnings == ()  # idempotent


def test_the_policy_denies_the_replication_key_everything_that_destroys() -> None:
    policy = make_bucket_policy("egov-camau-backup", REPLICATION_PRINCIPAL)
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": [REPLICATION_PRINCIPAL]}
    for action in (
        "s3:BypassGovernanceRetention",
        "s3:DeleteObjectVersion",
        "s3:PutBucketObjectLockConfiguration",
        "s3:DeleteBucketPolicy",  # or the key could lift the policy itself
    ):
        assert action in statement["Action"]
    assert statement["Action"] == list(DENIED_TO_REPLICATION_KEY)
    assert statement["Resource"] == [
        "arn:aws:s3:::egov-camau-backup",
        "arn:aws:s3:::egov-camau-backup/*",
    ]


def test_bucket_policy_command_prints_the_policy_and_says_what_depends_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = LAB.read_text().replace("object_lock: compliance", "object_lock: governance")
    inventory = tmp_path / "lab.yaml"
    inventory.write_text(text)
    arguments = ["backup", "bucket-policy", "--repository", "vnpt"]
    assert run([*arguments, "--principal", REPLICATION_PRINCIPAL, "-i", str(inventory)]) == 0
    captured = capsys.readouterr()
    policy = json.loads(captured.out)
    assert policy["Statement"][0]["Resource"][0] == "arn:aws:s3:::egov-camau-lab"
    assert "until then the replication key can delete locked versions" in captured.err
    assert run([*arguments, "--principal", REPLICATION_PRINCIPAL, "-i", str(LAB)]) == 0
    assert "defence in depth" in capsys.readouterr().err
    assert run(["backup", "bucket-policy", "--repository", "primary", "--principal", "x",
                "-i", str(LAB)]) == 2  # fmt: skip


def test_object_lock_defaults_to_compliance_and_reads_older_booleans(lab: Estate) -> None:
    store = lab.sites["vnpt"].object_store
    assert store is not None and store.object_lock is ObjectLockMode.COMPLIANCE
    assert ObjectStore(endpoint="http://x").object_lock is ObjectLockMode.COMPLIANCE
    assert ObjectStore.model_validate({"endpoint": "http://x", "object_lock": True}).object_lock
    legacy = ObjectStore.model_validate({"endpoint": "http://x", "object_lock": False})
    assert legacy.object_lock is ObjectLockMode.NONE
