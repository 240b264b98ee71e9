"""``egov backup …`` and the agent's backup jobs (``egov agent …``): the commands, in order.

Each command lives with its concept (``backup_run``: start the hosts' units now;
``backup_status``; ``backup_bucket``: an S3 bucket's policy and deletions; ``backup_restore``:
snapshots, restore, verify; ``backup_plan``; ``agent_backup``: the jobs a host runs itself;
``agent_archive``: the WAL archive's metrics).
They are registered here, in the order ``--help`` lists them.
"""

from __future__ import annotations

import typer

from egov.cli import (
    agent_archive,
    agent_backup,
    backup_archive,
    backup_bucket,
    backup_plan,
    backup_restore,
    backup_run,
    backup_status,
)
from egov.cli.app import agent_app, app

backup_app = typer.Typer(
    help="Back up, replicate, verify and restore the estate's data (restic).",
    no_args_is_help=True,
)
app.add_typer(backup_app, name="backup")

backup_app.command("run")(backup_run.backup_run)
backup_app.command("replicate")(backup_run.backup_replicate)
backup_app.command("status")(backup_status.backup_status)
backup_app.command("bucket-policy")(backup_bucket.backup_bucket_policy)
backup_app.command("snapshots")(backup_restore.backup_snapshots)
backup_app.command("restore")(backup_restore.backup_restore)
backup_app.command("verify")(backup_restore.backup_verify)
backup_app.command("undelete")(backup_bucket.backup_undelete)
backup_app.command("plan")(backup_plan.backup_plan)

agent_app.command("backup")(agent_backup.agent_backup)
agent_app.command("replicate")(agent_backup.agent_replicate)
agent_app.command("retention")(agent_backup.agent_retention)
agent_app.command("verify")(agent_backup.agent_verify)
agent_app.command("restore")(agent_backup.agent_restore)
agent_app.command("archive-restore")(backup_archive.agent_archive_restore)
agent_app.command("archive-metrics")(agent_archive.agent_archive_metrics)
