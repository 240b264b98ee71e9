"""The ``operator-error`` drill's actions and probes: a destructive statement on the primary,
and the databases recovered to just before it from the recovery site's WAL archive.

The error is real but strikes only what the drill owns, so the test runs in production as
safely as the test failover: a table the drill seeds first (``DRILL_TABLE``) is dropped, and
the canary records this drill wrote are deleted, in every drilled service's database. The
moment the recovery goes back to is the primary's own clock read just before the statement
(the commit times in the WAL are the primary's), so no clock of another host enters the
recovery target; the control node's clock after the statement returned is when the error had
surely been committed, which the verdict uses to find records written after it in the copy
(they would mean the recovery replayed the error too).

The recovery runs on the archive host at the recovery site (``egov agent archive-restore``,
the same as ``egov backup restore --to-time``): Barman lays the base backup and the WAL up to
the target, PostgreSQL replays them and stops at the target, the sanity queries run. The
recovered cluster is then started there as the test's isolated copy, on the port and with the
client rules a test copy has, for ``open-test-service`` to serve the services from.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

from egov.backup.walarchive import ArchivedCluster, get_site_archive
from egov.drills.activity import Arguments, register
from egov.drills.context import DrillContext
from egov.drills.probes import TestDatabaseArguments
from egov.drills.testcopy import (
    make_start_test_cluster_lines,
    make_stop_test_cluster_lines,
)
from egov.errors import BackupError, DrillError
from egov.hostlayout import DRILL_ROOT, DRILL_SOCKET_DIRECTORY
from egov.inventory.derive import get_replication_root
from egov.inventory.fields import Name

#: The table the drill seeds and the error drops; the recovered copy must hold every row.
DRILL_TABLE = "egov_drill_dossiers"
DRILL_TABLE_ROWS = 100
#: Where the recovery site's archive host recovers the copy (removed by remove-test-database).
RECOVERY_DIRECTORY = f"{DRILL_ROOT}/pitr"


class SiteArguments(Arguments):
    site: Name


class ArchiveArguments(Arguments):
    site: Name  # the site whose archive is read


def get_service_databases(context: DrillContext) -> list[str]:
    """The drilled services' databases, each once, in service order."""
    names = [
        database.name
        for service in context.services
        for database in context.estate.services[service].data.databases
    ]
    return list(dict.fromkeys(names))


def get_site_archives(context: DrillContext, site: str) -> list[ArchivedCluster]:
    """The archives at ``site`` of the drilled services' replication chains; DrillError when
    a chain is archived at no host there (nothing to recover from)."""
    pairs = []
    for name in context.get_database_roots():
        root = context.estate.find_host(context.estate.primary_site, name)
        if root is None:
            raise DrillError(f"no database host {name} at the primary site")
        found = get_site_archive(context.estate, root, site)
        if found is None:
            root = get_replication_root(context.estate, root)
            raise DrillError(
                f"{root.selector}'s WAL is archived at no host of site {site}",
                "add a host there to backup.datasets.*.archive.hosts",
            )
        pairs.append(found)
    return pairs


def make_seed_sql() -> str:
    """The drill's table, afresh, with its rows."""
    # constants formatted into the text: nothing of it comes from outside
    return (
        f"DROP TABLE IF EXISTS {DRILL_TABLE}; "  # noqa: S608
        f"CREATE TABLE {DRILL_TABLE} AS SELECT n AS id, 'dossier ' || n AS title "
        f"FROM generate_series(1, {DRILL_TABLE_ROWS}) AS n;"
    )


def make_error_sql(first_record: int) -> str:
    """The error, in one transaction: this drill's canary records deleted, the drill's table
    dropped; prints how many records went."""
    # an int formatted into the text: nothing of it comes from outside
    return (
        "BEGIN; "  # noqa: S608
        "WITH gone AS (DELETE FROM egov_canary "
        f"WHERE seq >= {int(first_record)} RETURNING 1) SELECT count(*) FROM gone; "
        f"DROP TABLE {DRILL_TABLE}; COMMIT;"
    )


@register("action", "create-drill-table", SiteArguments)
def create_drill_table(context: DrillContext, arguments: SiteArguments) -> str:
    """Seed the drill's own table in every drilled service's database on the site's primary."""
    ref = context.get_database_host(arguments.site)
    databases = get_service_databases(context)
    for database in databases:
        context.remote.psql(ref, make_seed_sql(), database=database)
    return f"{DRILL_TABLE} ({DRILL_TABLE_ROWS} rows) in {', '.join(databases)} on {ref.selector}"


@register("action", "drop-drill-table", SiteArguments)
def drop_drill_table(context: DrillContext, arguments: SiteArguments) -> str:
    """Remove the drill's table wherever it is left on the site's primary."""
    ref = context.get_database_host(arguments.site)
    for database in get_service_databases(context):
        context.remote.psql(ref, f"DROP TABLE IF EXISTS {DRILL_TABLE}", database=database)
    return f"no {DRILL_TABLE} left on {ref.selector}"


@register("action", "destroy-drill-data", SiteArguments)
def destroy_drill_data(context: DrillContext, arguments: SiteArguments) -> str:
    """The operator's error on the site's primary: this drill's canary records deleted and the
    drill's table dropped, in every drilled service's database."""
    ref = context.get_database_host(arguments.site)
    first = min((context.get_first_record(service) for service in context.services), default=0)
    if first <= 0:
        raise DrillError("the canary has acknowledged no record yet: no data of the drill to hit")
    epoch = context.remote.psql(ref, "SELECT extract(epoch FROM clock_timestamp())")
    try:
        context.error_target = datetime.fromtimestamp(float(epoch), UTC)
    except ValueError:
        raise DrillError(f"{ref.selector} gave no time: {epoch!r}") from None
    deleted = []
    for database in get_service_databases(context):
        answer = context.remote.psql(ref, make_error_sql(first), database=database)
        deleted.append(f"{answer.strip() or '?'} in {database}")
    context.error_ended_at = context.clock()
    return (
        f"on {ref.selector} at {context.error_target.isoformat(timespec='milliseconds')} "
        f"(its clock): canary records from {first} deleted ({', '.join(deleted)}), "
        f"{DRILL_TABLE} dropped"
    )


@register("action", "restore-test-database", TestDatabaseArguments)
def restore_test_database(context: DrillContext, arguments: TestDatabaseArguments) -> str:
    """Recover the databases to just before the error from the site's WAL archive, replayed
    and checked there, and start them as the test's isolated copy on that archive host."""
    from egov.backup.archiverestore import run_agent_restore

    target = context.error_target
    if target is None:
        raise DrillError("no operator's error in this drill yet: no point to recover to")
    pairs = get_site_archives(context, arguments.site)
    if len(pairs) != 1:
        raise DrillError(
            "the drilled services' databases are on more than one replication chain",
            "drill each chain's services apart (scenario `services:`)",
        )
    pair = pairs[0]
    if arguments.host is not None and arguments.host != pair.archive_host.name:
        raise DrillError(
            f"{arguments.site}/{arguments.host} holds no archive of {pair.cluster.selector}",
            f"its archive at {arguments.site} is on {pair.archive_host.name}",
        )
    ref = pair.archive_host
    # a rerun (after `egov drill recover`) starts afresh: the recovery needs a new directory
    context.remote.run(
        ref, "; ".join([*make_stop_test_cluster_lines(), f"rm -rf {RECOVERY_DIRECTORY}"])
    )
    try:
        recovery = run_agent_restore(
            context.estate, pair, Path(RECOVERY_DIRECTORY), target, verify=True
        )
    except BackupError as error:
        raise DrillError(error.message, error.hint) from None
    if recovery.stopped_before is None:
        raise DrillError(
            f"the recovery on {ref.selector} found no transaction after "
            f"{target.isoformat()}: it cannot show it stopped before the error"
        )
    script = "\n".join(
        [
            "set -e",
            *make_start_test_cluster_lines(
                context, RECOVERY_DIRECTORY, copy=ref, database=pair.cluster, port=arguments.port
            ),
        ]
    )
    context.remote.run(ref, script, timeout_seconds=300)
    last = recovery.last_transaction.isoformat() if recovery.last_transaction else "unknown"
    return (
        f"{pair.dataset} of {pair.cluster.selector} recovered to {target.isoformat()} from "
        f"{ref.selector}'s archive (base backup {recovery.backup_id}): last transaction kept "
        f"{last}, stopped before the one at {recovery.stopped_before.isoformat()}; "
        f"{recovery.queries_checked} sanity queries; serving as the isolated copy on "
        f"{ref.selector}, port {arguments.port}"
    )


@register("probe", "drill-table-recovered", TestDatabaseArguments)
def is_drill_table_recovered(context: DrillContext, arguments: TestDatabaseArguments) -> bool:
    """Whether the isolated copy holds every row of the drill's table in every drilled
    service's database (the error dropped it: a copy without it went past the error)."""
    ref = context.get_copy_host(arguments.site, arguments.host)
    intact = True
    for database in get_service_databases(context):
        script = (
            f"runuser -u postgres -- psql -XtAq -h {DRILL_SOCKET_DIRECTORY} -p {arguments.port} "
            f"-d {shlex.quote(database)} -v ON_ERROR_STOP=1 -f -"
        )
        sql = (
            f"SELECT CASE WHEN to_regclass('{DRILL_TABLE}') IS NULL THEN -1 "  # noqa: S608
            f"ELSE (SELECT count(*) FROM {DRILL_TABLE}) END;"
        )
        rows = context.remote.run(ref, script, input_text=sql).strip()
        if rows != str(DRILL_TABLE_ROWS):
            found = "missing" if rows == "-1" else f"{rows} of {DRILL_TABLE_ROWS} rows"
            context.progress(f"{DRILL_TABLE} in {database} on {ref.selector}: {found}")
            intact = False
    return intact


@register("probe", "archive-within-target", ArchiveArguments)
def is_archive_within_target(context: DrillContext, arguments: ArchiveArguments) -> bool:
    """Whether the site's WAL archive of the drilled services' databases is current: its
    newest WAL no older than the archive's RPO and slack (the WalArchiveStale alert's
    limit), as its host's own metrics say. A stale archive cannot recover to a moment after
    its end: the drill is refused, naming it."""
    from egov.backup.archivestatus import load_archive_status

    wanted = {
        (pair.server, pair.archive_host.qualified_name)
        for pair in get_site_archives(context, arguments.site)
    }
    fresh = True
    rows = [
        row
        for row in load_archive_status(context.estate, context.clock())
        if (row.server, row.host) in wanted
    ]
    for row in rows:
        where = f"the WAL archive {row.server} on {row.host}"
        if row.error is not None:
            context.progress(f"{where} does not answer: {row.error}")
            fresh = False
        elif not row.wal_fresh:
            age = "none" if row.wal_age_seconds is None else f"{row.wal_age_seconds:.0f} s old"
            context.progress(
                f"{where} is stale: newest WAL {age}, over its limit of "
                f"{row.wal_limit_seconds:.0f} s (RPO {row.rpo_seconds:.0f} s)"
            )
            fresh = False
        else:
            context.progress(f"{where}: newest WAL {row.wal_age_seconds or 0:.0f} s old")
    if len(rows) < len(wanted):
        context.progress(f"no status of some archives at {arguments.site}")
        return False
    return fresh
