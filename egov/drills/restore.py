"""Restoring a dataset from a replicated repository onto a host at the recovery site.

restic runs here, on the control node, which holds the repositories' credentials (the hosts
at the recovery site hold only their own); the restored tree then streams to the host with
tar over SSH, so no credential travels and nothing of it lands on the host.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

from egov.backup.agent import AgentSettings
from egov.backup.datasetrestore import Restored, restore_dataset
from egov.backup.repositories import make_repository_config
from egov.drills.context import DrillContext
from egov.errors import DrillError
from egov.execute import run_pipeline
from egov.hostlayout import DRILL_ROOT, RESTIC_CACHE_DIRECTORY
from egov.inventory.model import HostRef
from egov.ssh import make_ssh_command

CACHE_DIRECTORY = Path(RESTIC_CACHE_DIRECTORY)
STAGING_ROOT = DRILL_ROOT


def push_latest_snapshot(
    context: DrillContext,
    ref: HostRef,
    dataset: str,
    repository: str,
    into: str,
    *,
    before: float | None = None,
    replace: tuple[str, ...] = (),
) -> Restored:
    """Restore ``dataset``'s latest snapshot (taken before ``before``, if given) from
    ``repository`` into ``into`` on ``ref``.

    With ``replace`` (the dataset's own paths, restored into "/"), the tree lands in a
    staging directory first and each path is swapped in by two renames, the old one kept
    beside it as ``<path>.egov-damaged-<time>``: a broken stream never leaves a path half
    restored or missing. Return what was restored (its time is known: the restore lists);
    DrillError on any failure.
    """
    config = make_repository_config(context.estate, repository)
    settings = AgentSettings(cache_dir=CACHE_DIRECTORY)
    with tempfile.TemporaryDirectory(prefix="egov-drill-restore-") as scratch:
        restored = restore_dataset(
            config, dataset, Path(scratch), settings, verify=True, before=before
        )
        # the top-level entries, never "." (whose mode would land on ``into``, "/" even);
        # existing directories keep their owner and mode
        entries = sorted(path.name for path in Path(scratch).iterdir())
        if not entries:
            raise DrillError(f"the chosen snapshot of {dataset} in {repository} is empty")
        remote = ["sh", "-c", make_extract_script(into, replace, int(context.clock()))]
        producer, consumer = run_pipeline(
            ["tar", "-C", scratch, "-cf", "-", "--", *entries],
            make_ssh_command(context.estate, ref, remote),
        )
    if producer.returncode != 0 or consumer.returncode != 0:
        detail = (consumer.stderr or producer.stderr or "").strip()[-400:]
        raise DrillError(f"copying the restored {dataset} to {ref.selector} failed: {detail}")
    return restored


def make_extract_script(into: str, replace: tuple[str, ...], stamp: int) -> str:
    """The host's side of the stream: extract, or stage and swap ``replace``'s paths in."""
    if not replace:
        return f"set -e; mkdir -p {into}; tar -C {into} --no-overwrite-dir -xpf -"
    staging = f"{STAGING_ROOT}/restore-{stamp}"
    lines = [
        "set -e",
        f"rm -rf {staging}",
        f"mkdir -p {staging}",
        f"tar -C {staging} -xpf -",
    ]
    for path in replace:
        quoted = shlex.quote(path)
        lines += [
            f"[ -e {staging}{quoted} ] || {{ echo 'the snapshot lacks {path}' >&2; exit 1; }}",
            f"if [ -e {quoted} ]; then mv {quoted} {quoted}.egov-damaged-{stamp}; fi",
            f"mkdir -p $(dirname {quoted})",
            f"mv {staging}{quoted} {quoted}",
        ]
    lines += [f"rm -rf {staging}", f"rmdir {STAGING_ROOT} 2>/dev/null || true"]
    return "\n".join(lines)
