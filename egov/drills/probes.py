"""The probes a scenario may run: readiness (replication, backups, capacity, credentials)
and recovery (the services answer, the isolated copy works). Probes change nothing."""

from __future__ import annotations

import json
import shlex
from concurrent.futures import ThreadPoolExecutor

from egov.drills.activity import Arguments, register
from egov.drills.canary import check_health
from egov.drills.context import DrillContext
from egov.errors import DrillError
from egov.inventory.fields import Name, Port
from egov.monitoring.heartbeat import HEARTBEAT_DATABASE, LAG_SQL
from egov.records import DEFAULT_STATE_DIR, CatalogRecord

PARALLEL_HOSTS = 16


class SiteArguments(Arguments):
    site: Name


class DatabaseArguments(Arguments):
    site: Name
    host: Name | None = None  # a database host at ``site`` (default: the chain's first there)


class OptionalSiteArguments(Arguments):
    site: Name | None = None


class BackupArguments(Arguments):
    dataset: Name
    repository: Name


class SpaceArguments(Arguments):
    site: Name
    path: str = "/"


class TestDatabaseArguments(Arguments):
    site: Name
    port: Port = 55432
    host: Name | None = None  # the copy's host at ``site`` (default: its database host)


@register("probe", "unreachable-hosts", OptionalSiteArguments)
def count_unreachable_hosts(context: DrillContext, arguments: OptionalSiteArguments) -> int:
    """How many hosts (of a site, or all) do not answer over SSH."""
    refs = [
        ref
        for ref in context.estate.iter_hosts()
        if arguments.site is None or ref.site == arguments.site
    ]
    with ThreadPoolExecutor(max_workers=PARALLEL_HOSTS) as pool:
        answers = list(pool.map(context.remote.is_reachable, refs))
    down = [ref.selector for ref, up in zip(refs, answers, strict=True) if not up]
    if down:
        context.progress(f"unreachable: {', '.join(down)}")
    return len(down)


@register("probe", "replication-lag", DatabaseArguments)
def get_replication_lag(context: DrillContext, arguments: DatabaseArguments) -> float:
    """Seconds the site's database replica is behind its primary (the heartbeat row's age)."""
    worst = 0.0
    for root in context.get_database_roots():
        ref = context.get_database_host(arguments.site, root, arguments.host)
        if context.remote.psql(ref, "SELECT pg_is_in_recovery()") != "t":
            raise DrillError(f"{ref.selector} is not a replica (was it promoted?)")
        row = context.remote.psql(ref, LAG_SQL + ";", database=HEARTBEAT_DATABASE)
        lag = row.split("|")[0]
        if not lag:
            raise DrillError(f"{ref.selector} has no heartbeat row yet")
        worst = max(worst, float(lag))
    return round(worst, 3)


@register("probe", "backup-age", BackupArguments)
def get_backup_age(context: DrillContext, arguments: BackupArguments) -> float:
    """Seconds since the dataset's newest snapshot in the repository (the monitoring catalog)."""
    path = DEFAULT_STATE_DIR / CatalogRecord.KIND / f"{arguments.repository}.json"
    newest: float | None = None
    for ref in context.estate.iter_hosts():
        if "monitoring" not in ref.host.roles:
            continue
        try:
            text = context.remote.run(ref, f"cat {path}", timeout_seconds=20)
            record = CatalogRecord.model_validate(json.loads(text))
        except (DrillError, ValueError):
            continue
        for snapshot in record.latest.get(arguments.dataset, {}).values():
            newest = snapshot.time if newest is None else max(newest, snapshot.time)
    if newest is None:
        raise DrillError(
            f"no monitoring host knows a snapshot of {arguments.dataset} in {arguments.repository}"
        )
    return round(context.clock() - newest, 1)


@register("probe", "backup-within-target", BackupArguments)
def is_backup_within_target(context: DrillContext, arguments: BackupArguments) -> bool:
    """Whether the dataset's newest snapshot in the repository is no older than the drilled
    services' file-store target, the one the drill's verdict judges (the scenario's, else
    the inventory's: the path's ``rpo``, else the service's). A copy already that old would
    fail the drill: it is refused before anything changes."""
    targets = [
        target.files_rpo_seconds
        for target in context.targets.values()
        if target.files_rpo_seconds is not None
    ]
    if not targets:
        raise DrillError("none of the drilled services has a file store: no target to hold to")
    age, target = get_backup_age(context, arguments), min(targets)
    context.progress(
        f"newest {arguments.dataset} snapshot in {arguments.repository}: {age:.0f} s old, "
        f"target {target:.0f} s"
    )
    return bool(age <= target)


@register("probe", "free-space", SpaceArguments)
def get_free_space_ratio(context: DrillContext, arguments: SpaceArguments) -> float:
    """The smallest share of free space on ``path`` among the site's hosts (standby capacity)."""
    ratios = []
    for ref in context.estate.iter_hosts():
        if ref.site != arguments.site:
            continue
        fields = context.remote.run(ref, f"df -Pk {arguments.path} | tail -n 1").split()
        size, available = int(fields[1]), int(fields[3])
        ratios.append(available / size if size else 0.0)
    if not ratios:
        raise DrillError(f"site {arguments.site} has no host")
    return round(min(ratios), 3)


@register("probe", "unreadable-credentials", Arguments)
def count_unreadable_credentials(context: DrillContext, arguments: Arguments) -> int:
    """How many of the inventory's secrets cannot be read here (a drill needs them all)."""
    from egov.errors import EgovError
    from egov.secrets import list_secret_references, read_secret

    unreadable = 0
    for reference in list_secret_references(context.estate.model_dump(mode="json")):
        try:
            read_secret(reference)
        except EgovError as error:
            unreadable += 1
            context.progress(str(error))  # names the reference, never a value
    return unreadable


@register("probe", "lab-faults", Arguments, lab_only=True)
def count_lab_faults(context: DrillContext, arguments: Arguments) -> int:
    """How many lab faults are in force (a drill starts from a whole lab)."""
    from egov.lab.state import load_state

    state = load_state(context.require_lab("counting lab faults").name)
    if state is None:
        raise DrillError("the lab is not up", "run `egov lab up`")
    for fault in state.faults:
        context.progress(f"fault in force: {fault.kind} {fault.target}")
    return len(state.faults)


class PathArguments(Arguments):
    site: Name
    path: str


@register("probe", "damaged-files", PathArguments)
def count_damaged_files(context: DrillContext, arguments: PathArguments) -> int:
    """How many files under ``path`` on the site's storage host look encrypted (``*.locked``)
    or are a ransom note."""
    from egov.deploys.topology import get_hosts_with_role
    from egov.drills.filestore import RANSOM_NOTE

    hosts = get_hosts_with_role(context.estate, "storage", arguments.site)
    if not hosts:
        raise DrillError(f"site {arguments.site} has no storage host")
    path = shlex.quote(arguments.path)
    script = f"find {path} -type f \\( -name '*.locked' -o -name {RANSOM_NOTE} \\) | wc -l"
    return int(context.remote.run(hosts[0], script).strip())


@register("probe", "database-writable", DatabaseArguments)
def is_database_writable(context: DrillContext, arguments: DatabaseArguments) -> bool:
    """Whether the site's database host is a primary (takes writes)."""
    for root in context.get_database_roots():
        ref = context.get_database_host(arguments.site, root, arguments.host)
        try:
            if context.remote.psql(ref, "SELECT pg_is_in_recovery()", timeout=20) != "f":
                return False
        except DrillError:
            return False
    return True


@register("probe", "services-healthy", SiteArguments)
def are_services_healthy(context: DrillContext, arguments: SiteArguments) -> bool:
    """Whether every drilled service passes its health check at the site (RTO ends here)."""
    healthy = True
    for service in context.services:
        if check_health(context.get_endpoint(service, arguments.site)):
            context.record_recovery(service, arguments.site, context.clock())
        else:
            healthy = False
    return healthy


@register("probe", "test-database-healthy", TestDatabaseArguments)
def is_test_database_healthy(context: DrillContext, arguments: TestDatabaseArguments) -> bool:
    """Whether the isolated test copy takes writes in every service database (test RTO/RPO):
    the copy's canary records from this drill's first on are its measure of data lost."""
    ref = context.get_copy_host(arguments.site, arguments.host)
    for service in context.services:
        for database in context.estate.services[service].data.databases:
            script = (
                f"runuser -u postgres -- psql -XtAq -h /run/egov-drill -p {arguments.port} "
                f"-d {database.name} -v ON_ERROR_STOP=1 -f -"
            )
            sql = make_test_write_sql(context.get_first_record(service))
            try:
                output = context.remote.run(ref, script, input_text=sql, timeout_seconds=30)
            except DrillError as error:
                context.progress(f"{service}: {error}")
                return False
            now = context.clock()
            if service not in context.recovered:
                where = f"isolated copy on {ref.selector}"
                context.record_rto(service, arguments.site, now, where)
                context.record_rpo(service, parse_records(output), where)
    return True


def make_test_write_sql(since: int) -> str:
    """A write the copy must take, then its canary records numbered ``since`` or higher on
    one line, comma-separated (empty: none, or no canary table)."""
    # an int formatted into the text: nothing of it comes from outside
    return (
        "CREATE TEMP TABLE egov_drill_write (n int);"  # noqa: S608
        "INSERT INTO egov_drill_write VALUES (1);"
        "SELECT CASE WHEN to_regclass('egov_canary') IS NULL THEN '' "
        "ELSE (SELECT coalesce(string_agg(seq::text, ',' ORDER BY seq), '') FROM egov_canary "
        f"WHERE seq >= {int(since)}) END;"
    )


def parse_records(output: str) -> frozenset[int]:
    """The records on the last line of ``make_test_write_sql``'s output."""
    lines = output.strip().splitlines()
    last = lines[-1].strip() if lines else ""
    return frozenset(int(part) for part in last.split(",") if part.strip().isdigit())
