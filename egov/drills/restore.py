"""Restoring a dataset from a replicated repository onto a host at the recovery site.

restic runs here, on the control node, which holds the repositories' credentials (the hosts
at the recovery site hold only their own); the restored tree then streams to the host with
tar over SSH, so no credential travels and nothing of it lands on the host.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from egov.backup.agent import AgentSettings
from egov.backup.control import list_snapshots, make_ssh_command, restore_dataset
from egov.backup.repositories import make_repository_config
from egov.drills.context import DrillContext
from egov.errors import DrillError
from egov.execute import run_pipeline
from egov.inventory.model import HostRef

CACHE_DIRECTORY = Path("/var/cache/egov/restic")


def push_latest_snapshot(
    context: DrillContext, ref: HostRef, dataset: str, repository: str, into: str
) -> tuple[str, float]:
    """Restore ``dataset``'s latest snapshot from ``repository`` into ``into`` on ``ref``.

    Return the snapshot's id and time (epoch seconds). Raise DrillError on any failure;
    the host keeps what it had if the stream breaks before tar starts writing.
    """
    config = make_repository_config(context.estate, repository)
    settings = AgentSettings(cache_dir=CACHE_DIRECTORY)
    with tempfile.TemporaryDirectory(prefix="egov-drill-restore-") as scratch:
        snapshot_id = restore_dataset(config, dataset, Path(scratch), settings, verify=True)
        times = [
            snapshot.time.timestamp()
            for snapshot in list_snapshots(config, settings, dataset)
            if snapshot.id == snapshot_id
        ]
        # the top-level entries, never "." (whose mode would land on ``into``, "/" even);
        # existing directories keep their owner and mode
        entries = sorted(path.name for path in Path(scratch).iterdir())
        if not entries:
            raise DrillError(f"the latest snapshot of {dataset} in {repository} is empty")
        remote = ["sh", "-c", f"mkdir -p {into} && tar -C {into} --no-overwrite-dir -xpf -"]
        producer, consumer = run_pipeline(
            ["tar", "-C", scratch, "-cf", "-", "--", *entries],
            make_ssh_command(context.estate, ref, remote),
        )
    if producer.returncode != 0 or consumer.returncode != 0:
        detail = (consumer.stderr or producer.stderr or "").strip()[-400:]
        raise DrillError(f"copying the restored {dataset} to {ref.selector} failed: {detail}")
    return snapshot_id, times[0] if times else context.clock()
