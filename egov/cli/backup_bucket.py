"""``egov backup bucket-policy`` and ``undelete``: an S3 repository's bucket, its policy and
the objects deleted from it."""

from __future__ import annotations

from typing import Annotated

import typer

from egov.cli.app import InventoryOption, load_inventory, stderr, stdout
from egov.errors import InputError


def backup_bucket_policy(
    repository: Annotated[str, typer.Option("--repository", help="An S3 repository.")],
    principal: Annotated[
        str,
        typer.Option(
            "--principal",
            help="The replication key's principal as the endpoint names it "
            "(e.g. arn:aws:iam::123456789012:user/egov-replication).",
        ),
    ],
    inventory: InventoryOption = None,
) -> None:
    """Print the bucket policy the province applies to a GOVERNANCE-locked bucket."""
    from egov.backup.bucket import get_bucket_name, render_bucket_policy
    from egov.backup.repositories import AccessKind, make_repository_config
    from egov.inventory.model import ObjectLockMode

    estate = load_inventory(inventory).estate
    config = make_repository_config(estate, repository)
    if config.kind is not AccessKind.S3:
        raise InputError(f"--repository {repository}: not an S3 repository")
    stdout.print(render_bucket_policy(get_bucket_name(config), principal), end="", markup=False)
    if config.object_lock is ObjectLockMode.GOVERNANCE:
        stderr.print(
            "apply it with the bucket owner's key (aws s3api put-bucket-policy --bucket "
            f"{get_bucket_name(config)} --policy file://policy.json): until then the "
            "replication key can delete locked versions",
            markup=False,
            soft_wrap=True,
        )
    else:
        stderr.print(
            f"{repository}'s lock is {config.object_lock.value}: the policy is defence in "
            "depth, not what the protection depends on",
            markup=False,
            soft_wrap=True,
        )


def backup_undelete(
    repository: Annotated[str, typer.Option("--repository", help="An S3 repository.")],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only deletions from this time on (ISO 8601, e.g. 2026-03-01T02:00+07:00).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would come back.")] = False,
    inventory: InventoryOption = None,
) -> None:
    """Bring back the objects of an S3 repository deleted (delete markers) since a time."""
    from datetime import datetime

    from egov.backup.bucket import get_bucket_name, make_s3_client
    from egov.backup.repositories import AccessKind, make_repository_config
    from egov.backup.undelete import get_object_versions, make_undelete_plan, run_undelete
    from egov.errors import BackupError

    estate = load_inventory(inventory).estate
    config = make_repository_config(estate, repository)
    if config.kind is not AccessKind.S3:
        raise InputError(
            f"--repository {repository}: not an S3 repository",
            "REST repositories are append-only: their clients cannot delete anything",
        )
    try:
        moment = datetime.fromisoformat(since) if since is not None else None
    except ValueError:
        raise InputError(
            f"--since {since}: not an ISO 8601 time", "e.g. 2026-03-01T02:00+07:00"
        ) from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.astimezone()  # a local time, as the operator reads the clock
    client = make_s3_client(config)
    bucket = get_bucket_name(config)
    plan = make_undelete_plan(get_object_versions(client, bucket), moment)
    verb = "would bring back" if dry_run else "brought back"
    if not dry_run:
        run_undelete(client, bucket, plan)
    stdout.print(
        f"{verb} {len(plan.restored)} objects of {repository} ({len(plan.markers)} delete "
        f"markers); {len(plan.locks)} restic locks left deleted",
        soft_wrap=True,
    )
    if plan.lost:
        raise BackupError(
            f"{len(plan.lost)} deleted objects have no version left: " + ", ".join(plan.lost[:10]),
            "the bucket's object lock did not keep them; restore them from another site",
        )
    if plan.restored and not dry_run:
        stdout.print("check the repository now: restic check (or egov backup verify)")
