"""The file-store actions: restore a dataset from a replicated repository, play ransomware
in the lab, remove a test's scratch copy. Each acts on the site's storage host.

Every action is safe to run twice (a rollback may repeat after ``egov drill recover``).
"""

from __future__ import annotations

import shlex

from egov.drills.activity import Arguments, register
from egov.drills.context import DrillContext
from egov.errors import DrillError
from egov.hostlayout import DRILL_ROOT
from egov.inventory.fields import Name
from egov.inventory.model import HostRef

RANSOM_NOTE = "README-RESTORE-FILES.txt"


class RestoreArguments(Arguments):
    site: Name
    dataset: Name
    repository: Name
    into: str | None = None  # a scratch directory (a test); default: the dataset's own paths
    before_fault: bool = False  # the latest snapshot taken before the fault (ransomware)
    replace: bool = False  # swap the dataset's paths for the restored ones, keeping the old


class DamageArguments(Arguments):
    site: Name
    path: str


class RemoveArguments(Arguments):
    site: Name
    path: str


@register("action", "restore-files", RestoreArguments)
def restore_files(context: DrillContext, arguments: RestoreArguments) -> str:
    """Restore a dataset's latest replicated snapshot onto the site's storage host."""
    from egov.drills.restore import push_latest_snapshot

    ref = _storage_host(context, arguments.site)
    dataset = context.estate.backup.datasets[arguments.dataset]
    paths = [str(path) for path in getattr(dataset, "paths", [])]
    if arguments.before_fault and context.fault_at is None:
        raise DrillError("before_fault: no fault has happened in this drill yet")
    if arguments.replace and arguments.into is not None:
        raise DrillError("replace swaps the dataset's own paths: it takes no `into:`")
    restored = push_latest_snapshot(
        context,
        ref,
        arguments.dataset,
        arguments.repository,
        arguments.into or "/",
        before=context.fault_at if arguments.before_fault else None,
        replace=tuple(paths) if arguments.replace else (),
    )
    snapshot_id = restored.snapshot_id
    snapshot_time = context.clock() if restored.time is None else restored.time
    if context.measuring and context.fault_at is not None:
        # judged against the inventory's file-store target (verdict.judge), never against
        # what the repository happened to hold: a stale copy there is the loss to find
        age = round(max(0.0, context.fault_at - snapshot_time), 3)
        for service in context.services:
            files = context.estate.services[service].data.files
            if any(str(f.path).startswith(tuple(paths)) for f in files):
                context.journal.append(
                    "measure",
                    service=service,
                    metric="files-rpo",
                    seconds=age,
                    target_seconds=context.targets[service].files_rpo_seconds,
                    detail=(
                        f"files from snapshot {snapshot_id[:8]} of {arguments.repository}, "
                        f"{age:.0f} s old at the fault"
                    ),
                )
    where = arguments.into or ", ".join(paths)
    done = f"{arguments.dataset} snapshot {snapshot_id[:8]} restored on {ref.selector} into {where}"
    return f"{done}; {restored.note}" if restored.note else done


@register("action", "lab-ransomware", DamageArguments, lab_only=True)
def encrypt_files(context: DrillContext, arguments: DamageArguments) -> str:
    """Play ransomware on the site's storage host: every file under ``path`` replaced by
    random bytes of its size renamed ``*.locked``, and a ransom note."""
    ref = _storage_host(context, arguments.site)
    context.require_lab("playing ransomware")
    path = shlex.quote(arguments.path)
    script = (
        f"set -e; test -d {path}; "
        f"find {path} -type f ! -name '*.locked' ! -name {RANSOM_NOTE} "
        '-exec sh -c \'head -c $(stat -c %s "$1") /dev/urandom > "$1.locked" && rm "$1"\' '
        "_ {} \\; ; "
        f"echo 'Your files are encrypted (an egov drill).' > {path}/{RANSOM_NOTE}; "
        f"find {path} -type f -name '*.locked' | wc -l"
    )
    count = context.remote.run(ref, script, timeout_seconds=300).strip()
    return f"{count} files under {arguments.path} on {ref.selector} encrypted"


@register("action", "remove-files", RemoveArguments)
def remove_files(context: DrillContext, arguments: RemoveArguments) -> str:
    """Delete a test's scratch directory on the site's storage host (only under DRILL_ROOT)."""
    if not arguments.path.startswith(DRILL_ROOT + "/"):
        raise DrillError(f"remove-files deletes only under {DRILL_ROOT}, not {arguments.path}")
    ref = _storage_host(context, arguments.site)
    context.remote.run(ref, f"rm -rf {arguments.path}; rmdir {DRILL_ROOT} 2>/dev/null || true")
    return f"{arguments.path} removed on {ref.selector}"


def _storage_host(context: DrillContext, site: str) -> HostRef:
    from egov.deploys.topology import get_hosts_with_role

    hosts = get_hosts_with_role(context.estate, "storage", site)
    if not hosts:
        raise DrillError(f"site {site} has no storage host")
    return hosts[0]
