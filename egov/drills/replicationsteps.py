"""Drill actions and probes around replication: run it now or in the background, watch its
result, shape a lab link, and check what a repository holds afterwards (locks, snapshots).

They let a scenario cut the VNPT link in the middle of a copy and prove that the run fails
cleanly, that the next one completes it, and that nothing is lost or left locked.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated

from pydantic import Field

from egov.backup.agent import AgentSettings
from egov.backup.agentconfig import get_replication_host
from egov.backup.datasetrestore import list_snapshots
from egov.backup.ondemand import make_run_now_command, make_wait_script
from egov.backup.repositories import make_repository_config, open_repository
from egov.backup.restic import Snapshot
from egov.drills.activity import Arguments, register
from egov.drills.context import DrillContext
from egov.drills.restore import CACHE_DIRECTORY
from egov.errors import DrillError, EgovError
from egov.hostlayout import REPLICATION_UNIT
from egov.inventory.fields import Name, PositiveDuration, WholeNumber
from egov.inventory.model import HostRef

DRILL_DATA_PREFIX = "egov-drill-"


class NoArguments(Arguments):
    pass


class ShapeArguments(Arguments):
    site: Name
    rate_kbit: Annotated[WholeNumber, Field(ge=1, le=10_000_000)]  # 1 kbit/s … 10 Gbit/s


class SiteArguments(Arguments):
    site: Name


class RepositoryArguments(Arguments):
    repository: Name


class CompareArguments(Arguments):
    dataset: Name
    repository: Name
    window: PositiveDuration = timedelta(days=1)  # recent snapshots: older ones answer to retention


class DataArguments(Arguments):
    site: Name
    path: str
    size_mib: Annotated[WholeNumber, Field(ge=1, le=1024)] = 1


def _replication_host(context: DrillContext) -> HostRef:
    ref = get_replication_host(context.estate)
    if ref is None:
        raise DrillError("the inventory has no replication host (a monitoring host at primary)")
    return ref


@register("action", "replicate-now", NoArguments)
def replicate_now(context: DrillContext, arguments: NoArguments) -> str:
    """Replicate now and wait: a run that starts after any run in flight."""
    ref = _replication_host(context)
    context.remote.run(
        ref, " ".join(make_run_now_command(REPLICATION_UNIT)[2:]), timeout_seconds=1800
    )
    return f"replication on {ref.selector} succeeded"


@register("action", "start-replication", NoArguments)
def start_replication(context: DrillContext, arguments: NoArguments) -> str:
    """Start a replication run in the background (after any run in flight)."""
    ref = _replication_host(context)
    script = make_run_now_command(REPLICATION_UNIT)[2].replace(
        f"systemctl start --wait {REPLICATION_UNIT}",
        f"systemctl reset-failed {REPLICATION_UNIT}; systemctl start --no-block {REPLICATION_UNIT}",
    )
    context.remote.run(ref, script, timeout_seconds=1800)
    return f"replication started on {ref.selector}"


@register("probe", "replication-state", NoArguments)
def get_replication_state(context: DrillContext, arguments: NoArguments) -> str:
    """``running``, ``succeeded``, ``failed`` or ``idle``: the last replication run."""
    ref = _replication_host(context)
    output = context.remote.run(
        ref, f"systemctl show --property=ActiveState,Result {REPLICATION_UNIT}"
    )
    fields = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    state, result = fields.get("ActiveState", ""), fields.get("Result", "")
    if state in ("activating", "deactivating", "active"):
        return "running"
    if state == "failed" or result not in ("success", ""):
        return "failed"
    return "succeeded" if result == "success" else "idle"


@register("action", "lab-shape-link", ShapeArguments, lab_only=True)
def shape_link(context: DrillContext, arguments: ShapeArguments) -> str:
    """Slow a lab site's WAN link down to ``rate_kbit`` both ways."""
    from egov.lab import faults

    faults.shape_link(context.require_lab("shaping a link"), arguments.site, arguments.rate_kbit)
    return f"link of {arguments.site} shaped to {arguments.rate_kbit} kbit/s"


@register("action", "lab-unshape-link", SiteArguments, lab_only=True)
def unshape_link(context: DrillContext, arguments: SiteArguments) -> str:
    """Give a lab site's WAN link its full speed back."""
    from egov.lab import faults

    faults.unshape_link(context.require_lab("unshaping a link"), arguments.site)
    return f"link of {arguments.site} at full speed"


@register("action", "lab-write-data", DataArguments, lab_only=True)
def write_data(context: DrillContext, arguments: DataArguments) -> str:
    """Write a file of random bytes under ``path`` on the site's storage host and back the
    storage host's datasets up, so that a replication has something to copy."""
    from egov.deploys.topology import get_hosts_with_role

    hosts = get_hosts_with_role(context.estate, "storage", arguments.site)
    if not hosts:
        raise DrillError(f"site {arguments.site} has no storage host")
    name = f"{DRILL_DATA_PREFIX}{os.getpid()}-{int(time.time())}.bin"
    path = shlex.quote(f"{arguments.path.rstrip('/')}/{name}")
    context.remote.run(
        hosts[0], f"head -c {arguments.size_mib}M /dev/urandom > {path}", timeout_seconds=120
    )
    units = context.remote.run(
        hosts[0], "systemctl list-units --all --plain --no-legend 'egov-backup@*.service'"
    )
    for unit in sorted({line.split()[0] for line in units.splitlines() if line.strip()}):
        context.remote.run(hosts[0], " ".join(make_run_now_command(unit)[2:]), timeout_seconds=1800)
    return f"{arguments.size_mib} MiB written to {path} on {hosts[0].selector} and backed up"


@register("action", "lab-remove-data", DataArguments, lab_only=True)
def remove_data(context: DrillContext, arguments: DataArguments) -> str:
    """Remove the files ``lab-write-data`` wrote (its backups stay, as any deleted file's)."""
    from egov.deploys.topology import get_hosts_with_role

    for ref in get_hosts_with_role(context.estate, "storage", arguments.site):
        path = shlex.quote(arguments.path.rstrip("/"))
        context.remote.run(ref, f"rm -f {path}/{DRILL_DATA_PREFIX}*.bin")
    return f"drill data removed under {arguments.path}"


@register("probe", "repository-locks", RepositoryArguments)
def count_repository_locks(context: DrillContext, arguments: RepositoryArguments) -> int:
    """How many locks the repository holds (a run cut off may leave one; the next removes it)."""
    config = make_repository_config(context.estate, arguments.repository)
    try:
        with open_repository(config, cache_dir=CACHE_DIRECTORY, timeout_seconds=120) as restic:
            result = restic.run(("restic", "list", "locks", "--no-lock"))
            restic.check(result, "listing locks")
    except EgovError as error:
        raise DrillError(f"repository {arguments.repository}: {error.message}") from None
    return len([line for line in result.stdout.splitlines() if line.strip()])


@register("probe", "snapshots-missing", CompareArguments)
def count_missing_snapshots(context: DrillContext, arguments: CompareArguments) -> int:
    """How many recent snapshots of the dataset in the first repository, taken before the last
    replication began, have no copy here."""
    order = context.estate.backup.replication
    if not order:
        raise DrillError("the inventory replicates nothing")
    settings = AgentSettings(cache_dir=CACHE_DIRECTORY)
    source = list_snapshots(
        make_repository_config(context.estate, order[0]), settings, arguments.dataset
    )
    target = list_snapshots(
        make_repository_config(context.estate, arguments.repository), settings, arguments.dataset
    )
    since = context.clock() - arguments.window.total_seconds()
    until = get_last_replication_start(context)
    missing, pending = find_missing_copies(source, target, since, until)
    for snapshot in missing[:5]:
        context.progress(f"not in {arguments.repository}: {snapshot.short_id} of {snapshot.time}")
    if pending:
        context.progress(f"{len(pending)} taken since the last replication began: not counted")
    return len(missing)


def find_missing_copies(
    source: Sequence[Snapshot], target: Sequence[Snapshot], since: float, until: float
) -> tuple[list[Snapshot], list[Snapshot]]:
    """The snapshots of ``source`` taken in [since, until) with no copy in ``target``, and
    those taken at or after ``until`` (pending: no replication has had them to copy yet)."""
    due = [s for s in source if since <= s.timestamp < until]
    missing = [s for s in due if not any(t.is_copy_of(s.id) for t in target)]
    return missing, [s for s in source if s.timestamp >= until]


def get_last_replication_start(context: DrillContext) -> float:
    """When the last replication run began (epoch seconds), or now if none is known.

    Only snapshots taken before it can be expected elsewhere: a dataset backed up every few
    minutes always has a newer one that the next run will copy. The bound is the unit's start,
    which every run shares (the timer, `egov backup replicate` and the drills all start it);
    a run in flight is waited for, so the bound is that of a finished run. After a reboot of
    the replication host it is unknown and every snapshot counts.
    """
    ref = _replication_host(context)
    output = context.remote.run(
        ref,
        f"{make_wait_script(REPLICATION_UNIT)}; systemctl show --timestamp=unix "
        f"--property=ExecMainStartTimestamp --value {REPLICATION_UNIT}",
        timeout_seconds=1800,
    )
    return parse_unix_timestamp(output) or context.clock()


def parse_unix_timestamp(text: str) -> float | None:
    """``@1764252906`` (``systemctl show --timestamp=unix``) → 1764252906.0; empty → None."""
    value = text.strip()
    if not value.startswith("@"):
        return None
    try:
        return float(value[1:])
    except ValueError:
        return None
