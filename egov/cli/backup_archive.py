"""``egov backup restore --to-time|--to-latest`` and ``egov agent archive-restore``: a database
dataset back to a point in time, from the WAL archive of one site.

The control node picks the archive host (``--from-site``, else the first archive at an active
site), checks the target time, and runs the agent there over SSH; the agent recovers with
Barman (``pointintime.py``) and prints what it did as JSON, which is shown here as a line or
passed on with ``--output json``. The recovered cluster is on the archive host, in
``--target``: PostgreSQL's own binaries are there to replay it.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from egov.backup.archiverestore import run_agent_restore
from egov.cli.app import OutputFormat, print_json, stdout
from egov.errors import BackupError, InputError

if TYPE_CHECKING:
    from egov.backup.pointintime import Recovery
    from egov.backup.walarchive import ArchivedCluster
    from egov.inventory.model import Estate


def parse_target_time(text: str, timezone: str, now: datetime | None = None) -> datetime:
    """``--to-time``: ISO 8601 (``2026-12-05T16:00:00+07:00``, or without an offset in the
    estate's timezone, a space allowed for the ``T``); never in the future."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--to-time {text!r}: not a time",
            "give an ISO 8601 time such as 2026-12-05T16:00:00 (the estate's timezone) or "
            "2026-12-05T16:00:00+07:00",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    current = now or datetime.now().astimezone()
    if moment > current:
        raise InputError(
            f"--to-time {text}: in the future", "the archive holds only what has happened"
        )
    return moment


def choose_archive(estate: Estate, dataset: str, site: str | None) -> ArchivedCluster:
    """The archive to restore from: the dataset's at ``site``, else its first at an active site."""
    from egov.backup.walarchive import get_dataset_archives
    from egov.inventory.derive import is_active_site

    pairs = get_dataset_archives(estate, dataset)
    if not pairs:
        raise InputError(
            f"dataset {dataset} has no WAL archive: it can be restored only to a dump",
            f"add `archive:` to backup.datasets.{dataset}, or drop --to-time/--to-latest",
        )
    if site is not None:
        chosen = [pair for pair in pairs if pair.archive_host.site == site]
        if not chosen:
            sites = ", ".join(dict.fromkeys(pair.archive_host.site for pair in pairs))
            raise InputError(
                f"--from-site {site}: dataset {dataset} is not archived there",
                f"archived at: {sites}",
            )
        return chosen[0]
    active = [pair for pair in pairs if is_active_site(estate, pair.archive_host.site)]
    if not active:
        raise InputError(f"dataset {dataset}'s archives are all at planned sites")
    return active[0]


def restore_from_archive(
    estate: Estate,
    dataset: str,
    target: Path,
    moment: datetime | None,
    site: str | None,
    verify: bool,
    output: OutputFormat,
) -> None:
    """Run the recovery on the archive host and report it."""
    if not target.is_absolute():
        raise InputError(
            f"--target {target}: not an absolute path",
            "name a new directory on the archive host, e.g. /var/tmp/pitr",
        )
    pair = choose_archive(estate, dataset, site)
    recovery = run_agent_restore(estate, pair, target, moment, verify=verify)
    if output is OutputFormat.JSON:
        print_json(
            {"archive_host": pair.archive_host.selector, **json.loads(recovery.model_dump_json())}
        )
        return
    stdout.print(describe_recovery(recovery, pair), soft_wrap=True, markup=False)


#: Where a restore test from the archive recovers, on the archive host; removed afterwards.
RESTORE_TEST_ROOT = "/var/tmp/egov-archive-restore-test"


def run_archive_restore_tests(estate: Estate) -> list[str]:
    """A restore test of every archive at an active site: the end of the archive recovered,
    replayed and queried in a throwaway directory on the archive host. Prints one line per
    archive; returns the failures."""
    from egov.backup.walarchive import get_archived_clusters
    from egov.inventory.derive import is_active_site

    failures = []
    for pair in get_archived_clusters(estate):
        if not is_active_site(estate, pair.archive_host.site):
            continue
        target = Path(f"{RESTORE_TEST_ROOT}-{pair.server}")
        where = f"{pair.dataset} from {pair.archive_host.selector}'s WAL archive"
        started = time.monotonic()
        try:
            recovery = run_agent_restore(estate, pair, target, None, verify=True, throwaway=True)
        except BackupError as error:
            stdout.print(f"restore test of {where}: failure", markup=False)
            failures.append(f"restore test of {where}: {error.message}")
            continue
        last = _shown(recovery.last_transaction, ZoneInfo(estate.timezone))
        stdout.print(
            f"restore test of {where}: success in {time.monotonic() - started:.1f} s "
            f"(to the transaction of {last}, "
            f"{recovery.queries_checked} sanity queries)",
            markup=False,
        )
    return failures


def describe_recovery(recovery: Recovery, pair: ArchivedCluster) -> str:
    """One paragraph: from where, to when, into where, and how far it was proven; times in
    the target's timezone (PostgreSQL logs in UTC)."""
    target = recovery.target_time
    zone = target.tzinfo if target is not None else None
    when = _shown(target, zone) if target is not None else "the end of the archive"
    text = (
        f"recovered {pair.dataset} of {pair.cluster.selector} to {when} from "
        f"{pair.archive_host.selector}'s archive (base backup {recovery.backup_id}) into "
        f"{recovery.directory} on {pair.archive_host.selector}"
    )
    if not recovery.segment_closed:
        text += (
            " (the primary did not close its current WAL segment: the archive ends where it ends)"
        )
    if not recovery.replayed:
        return text + "; not replayed (add --verify to replay it and run the sanity queries)"
    text += f"; replayed: last transaction kept {_shown(recovery.last_transaction, zone)}"
    if recovery.stopped_before:
        text += f", stopped before the one at {_shown(recovery.stopped_before, zone)}"
    return text + (
        f"; {recovery.queries_checked} sanity queries on {len(recovery.databases)} databases "
        "returned rows"
    )


def _shown(moment: datetime | None, zone: tzinfo | None) -> str:
    if moment is None:
        return "unknown"
    return moment.astimezone(zone).isoformat(sep=" ", timespec="milliseconds")


def agent_archive_restore(
    server: Annotated[str, typer.Option("--server", help="The Barman server.")],
    primary: Annotated[str, typer.Option("--primary", help="The archived cluster's address.")],
    target: Annotated[
        Path, typer.Option("--target", help="A new or empty directory; as it was if this fails.")
    ],
    to_time: Annotated[
        str | None, typer.Option("--to-time", help="ISO 8601 with an offset; default: latest.")
    ] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Replay and check it.")] = False,
    database: Annotated[list[str] | None, typer.Option("--database")] = None,
    sanity_query: Annotated[list[str] | None, typer.Option("--sanity-query")] = None,
    throwaway: Annotated[
        bool, typer.Option("--throwaway", help="Clean --target at the end too (a restore test).")
    ] = False,
) -> None:
    """Recover an archived cluster here to a point in time (what `egov backup restore
    --to-time` runs on the archive host); prints the recovery as JSON."""
    from egov.backup.pointintime import recover
    from egov.backup.restoretest import find_postgres_bin

    moment = None
    if to_time is not None:
        try:
            moment = datetime.fromisoformat(to_time)
        except ValueError:
            raise InputError(f"--to-time {to_time!r}: not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise InputError(f"--to-time {to_time}: give the offset (+07:00)")
    postgres_bin = find_postgres_bin()
    if postgres_bin is None:
        raise BackupError("PostgreSQL's binaries are not installed here: cannot replay")
    recovery = recover(
        server,
        primary,
        target,
        moment,
        postgres_bin=postgres_bin,
        verify=verify,
        databases=tuple(database or ()),
        queries=tuple(sanity_query or ()),
        throwaway=throwaway,
    )
    sys.stdout.write(recovery.model_dump_json() + "\n")
