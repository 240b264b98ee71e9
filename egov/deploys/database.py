"""The ``db`` and ``db-replica`` roles: a PostgreSQL primary and its streaming replicas.

Every cluster of a replication chain gets the same configuration and client rules, so a
promoted replica serves the same apps at once. A replica is cloned with pg_basebackup only
from a pristine cluster: a host that holds databases of its own (a promoted replica after a
failover, say) is never overwritten by a deploy.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyinfra import host
from pyinfra.api import FactBase, deploy
from pyinfra.api.exceptions import OperationError
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from egov.backup.walarchive import (
    ARCHIVE_GRANTS,
    ARCHIVE_ROLE,
    get_archive_timeout,
    get_cluster_archives,
)
from egov.deploys import topology
from egov.deploys.agent import get_agent_venv, get_wheelhouse_digest
from egov.deploys.context import DeployContext, get_context
from egov.deploys.packages import PACKAGES_BY_ROLE
from egov.deploys.render import as_file, render
from egov.deploys.secretfile import secret_file
from egov.hostlayout import (
    HEARTBEAT_UNIT,
    POSTGRES_EXPORTER_DEFAULTS,
    POSTGRES_EXPORTER_UNIT,
    POSTGRES_PASSFILE,
    SECRET_DIRECTORY,
    UNIT_DIRECTORY,
    make_cluster_paths,
)
from egov.inventory import derive
from egov.inventory.model import Estate, HostRef
from egov.monitoring.heartbeat import (
    EXPORTER_QUERIES_PATH,
    make_create_database_sql,
    make_exporter_defaults,
    make_exporter_queries,
    make_heartbeat_unit,
)
from egov.secrets import read_secret

MAX_SLOT_WAL_KEEP = "4GB"
PRISTINE_DATABASES = frozenset({"postgres", "template0", "template1"})
MONITORING_ROLE = "prometheus"


@dataclass(frozen=True)
class ClientRule:
    """One pg_hba line letting an app host's service role reach its database."""

    database: str
    role: str
    address: str


def make_slot_name(ref: HostRef) -> str:
    """The replication slot a replica streams through: ``egov_site2_db_01``."""
    return "egov_" + ref.qualified_name.replace("-", "_")


def make_client_rules(estate: Estate, ref: HostRef) -> list[ClientRule]:
    """pg_hba entries: each service's role, from its app hosts at every site, to its database."""
    root = derive.get_replication_root(estate, ref)
    rules = []
    for name, service in estate.services.items():
        for database in service.data.databases:
            if database.host != root.name or root.site != estate.primary_site:
                continue
            for site, placement in service.sites.items():
                for host_name in placement.hosts:
                    client = estate.find_host(site, host_name)
                    if client is not None:
                        rules.append(ClientRule(database.name, name, str(client.host.address)))
    return rules


def make_archiver_addresses(estate: Estate, ref: HostRef) -> list[str]:
    """Addresses of the archive hosts pulling from ``ref``'s chain, without repeats."""
    pairs = get_cluster_archives(estate, ref)
    return list(dict.fromkeys(str(pair.archive_host.host.address) for pair in pairs))


def _archive_timeout(estate: Estate, ref: HostRef) -> int | None:
    """``archive_timeout`` in seconds: a WAL segment is closed (and so filed by the archive)
    at least this often, the archive's RPO."""
    timeout = get_archive_timeout(estate, ref)
    return None if timeout is None else int(timeout.total_seconds())


def make_replication_peers(estate: Estate, ref: HostRef) -> list[str]:
    """Addresses allowed to stream WAL: every member of the chain (after a failover any of
    them may be the primary)."""
    root = derive.get_replication_root(estate, ref)
    chain = [root, *derive.get_chain_replicas(estate, root)]
    return [str(member.host.address) for member in chain if member != ref]


def make_roles_sql(
    estate: Estate,
    ref: HostRef,
    replication_password: str,
    app_password: str,
    archive_password: str | None = None,
) -> str:
    """Idempotent SQL creating the replication, monitoring, archive and service roles, the
    databases and the replicas' slots. It holds passwords: it travels as a secret file.

    The archive role (when the cluster is archived) may replicate and call the backup
    functions, no more: Barman on the archive hosts creates its own slots through it."""

    def quote(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    lines = [
        "-- Written by egov deploy; holds passwords: mode 0600.",
        "SET client_min_messages = warning;",
        _ensure_role("replicator", "LOGIN REPLICATION", quote(replication_password)),
        _ensure_role(MONITORING_ROLE, "LOGIN", None),
        f"GRANT pg_monitor TO {MONITORING_ROLE};",
        make_create_database_sql().rstrip("\n"),
    ]
    if archive_password is not None:
        lines.append(_ensure_role(ARCHIVE_ROLE, "LOGIN REPLICATION", quote(archive_password)))
        lines.extend(ARCHIVE_GRANTS)
    for name, service in estate.services.items():
        databases = [db.name for db in service.data.databases if db.host == ref.name]
        if not databases:
            continue
        lines.append(_ensure_role(name, "LOGIN", quote(app_password)))
        for database in databases:
            lines.append(  # names are validated [a-z0-9-] by the inventory
                f"SELECT 'CREATE DATABASE {database} OWNER {name}' WHERE NOT EXISTS "
                f"(SELECT FROM pg_database WHERE datname = '{database}')\\gexec"
            )
    for replica in derive.get_chain_replicas(estate, ref):
        slot = make_slot_name(replica)
        lines.append(
            f"SELECT pg_create_physical_replication_slot('{slot}') WHERE NOT EXISTS "
            f"(SELECT FROM pg_replication_slots WHERE slot_name = '{slot}');"
        )
    return "\n".join(lines) + "\n"


def _ensure_role(name: str, attributes: str, password: str | None) -> str:
    set_password = f" PASSWORD {password}" if password else ""
    return (
        f"SELECT 'CREATE ROLE {name}' WHERE NOT EXISTS "
        f"(SELECT FROM pg_roles WHERE rolname = '{name}')\\gexec\n"
        f"ALTER ROLE {name} WITH {attributes}{set_password};"
    )


class PostgresDatabases(FactBase[list[str] | None]):
    """Database names of the local cluster, or None when it is not answering."""

    def command(self) -> str:
        return (
            "runuser -u postgres -- psql -XtAc 'SELECT datname FROM pg_database' 2>/dev/null "
            "|| echo '#down'"
        )

    def process(self, output: list[str]) -> list[str] | None:
        lines = [line.strip() for line in output if line.strip()]
        return None if lines == ["#down"] else lines


class PostgresRecovery(FactBase[str]):
    """``primary``, ``replica <conninfo host>``, or ``down``."""

    def command(self, data_directory: str) -> str:
        return (
            f"if [ -f {data_directory}/standby.signal ]; then "
            f'echo replica $(grep -o "host=[^ \']*" {data_directory}/postgresql.auto.conf '
            "| tail -n1 | cut -d= -f2); "
            f"elif [ -f {data_directory}/PG_VERSION ]; then echo primary; else echo down; fi"
        )

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else "down"


def _cluster(context: DeployContext, role: str) -> tuple[str, str, str]:
    estate, ref = context.estate, context.ref
    settings = estate.postgres
    if settings is None:  # the inventory check refuses db hosts without it
        raise OperationError("the inventory has no postgres: section")
    config_dir, data_dir, unit = make_cluster_paths(settings.version)
    apt.packages(
        name="Install PostgreSQL", packages=list(PACKAGES_BY_ROLE[role]), no_recommends=True
    )
    conf = files.put(
        name="Configure PostgreSQL",
        src=as_file(
            render(
                "database/egov.conf.j2",
                port=topology.POSTGRES_PORT,
                max_slot_wal_keep=MAX_SLOT_WAL_KEEP,
                archive_timeout=_archive_timeout(estate, ref),
            )
        ),
        dest=f"{config_dir}/conf.d/egov.conf",
        mode="644",
    )
    hba = files.put(
        name="Write pg_hba.conf",
        src=as_file(
            render(
                "database/pg_hba.conf.j2",
                replication_peers=make_replication_peers(estate, ref),
                clients=make_client_rules(estate, ref),
                archivers=make_archiver_addresses(estate, ref),
                archive_role=ARCHIVE_ROLE,
            )
        ),
        dest=f"{config_dir}/pg_hba.conf",
        user="postgres",
        group="postgres",
        mode="640",
    )
    systemd.service(
        name="Restart PostgreSQL for its new settings",
        service=unit,
        running=True,
        restarted=True,
        _if=conf.did_change,
    )
    systemd.service(
        name="Reload PostgreSQL's client rules",
        service=unit,
        running=True,
        reloaded=True,
        _if=hba.did_change,
    )
    return config_dir, data_dir, unit


@deploy("db")
def primary() -> None:
    """A PostgreSQL primary with its roles, databases and replication slots."""
    context = get_context()
    estate, ref = context.estate, context.ref
    _, _, unit = _cluster(context, "db")
    assert estate.postgres is not None
    systemd.service(name="Run PostgreSQL", service=unit, running=True, enabled=True)
    archives = get_cluster_archives(estate, ref)
    sql = make_roles_sql(
        estate,
        ref,
        read_secret(estate.postgres.replication_password),
        read_secret(estate.postgres.app_password),
        read_secret(archives[0].password) if archives else None,
    )
    sql_file = f"{SECRET_DIRECTORY}/postgres-roles.sql"
    written = secret_file(
        name="Roles and databases (SQL with passwords)",
        dest=sql_file,
        content=sql,
        user="postgres",
        group="postgres",
    )
    databases = host.get_fact(PostgresDatabases) or []
    wanted = {
        db.name for s in estate.services.values() for db in s.data.databases if db.host == ref.name
    }
    apply = ["runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -f " + sql_file]
    if not wanted <= set(databases):
        server.shell(name="Create roles, databases and slots", commands=apply)
    else:
        server.shell(
            name="Update roles, databases and slots", commands=apply, _if=written.did_change
        )
    _exporter(context)


@deploy("db-replica")
def replica() -> None:
    """A streaming replica of the host's ``upstream``, cloned once, never over real data."""
    context = get_context()
    estate, ref = context.estate, context.ref
    upstream = estate.find_upstream(ref)
    if upstream is None or estate.postgres is None:  # the inventory check refuses this
        raise OperationError(f"{ref.selector} has no upstream")
    _, data_dir, unit = _cluster(context, "db-replica")
    password = read_secret(estate.postgres.replication_password)
    secret_file(
        name="Replication password for pg_basebackup and streaming",
        dest=POSTGRES_PASSFILE,
        content=f"{upstream.host.address}:{topology.POSTGRES_PORT}:*:replicator:{password}\n",
        user="postgres",
        group="postgres",
        directory_mode="755",
    )
    state = host.get_fact(PostgresRecovery, data_directory=data_dir)
    if state != f"replica {upstream.host.address}":
        databases = host.get_fact(PostgresDatabases)
        if databases is not None and not set(databases) <= PRISTINE_DATABASES:
            raise OperationError(
                f"{ref.selector} holds databases of its own ({', '.join(sorted(databases))}) "
                f"and is not a replica of {upstream.selector}: egov will not overwrite it "
                "(was it promoted? fail back first)"
            )
        server.shell(
            name=f"Clone {upstream.selector} with pg_basebackup",
            commands=make_clone_commands(
                data_dir, unit, str(upstream.host.address), make_slot_name(ref)
            ),
        )
    systemd.service(name="Run the replica", service=unit, running=True, enabled=True)
    _exporter(context)


def make_clone_commands(data_dir: str, unit: str, upstream: str, slot: str) -> list[str]:
    """Replace a pristine cluster by a clone of ``upstream`` streaming through ``slot``.

    The clone is made beside the old data and swapped in only when complete.
    """
    clone = f"{data_dir}.egov-clone"
    return [
        f"rm -rf {clone}",
        f"runuser -u postgres -- pg_basebackup --host={upstream} --port={topology.POSTGRES_PORT}"
        f" --username=replicator --no-password --pgdata={clone} --wal-method=stream"
        f" --write-recovery-conf --slot={slot} --checkpoint=fast",
        f"systemctl stop {unit}",
        f"rm -rf {data_dir}.egov-old && mv {data_dir} {data_dir}.egov-old && mv {clone} {data_dir}",
        f"systemctl start {unit}",
        f"rm -rf {data_dir}.egov-old",
    ]


def _exporter(context: DeployContext) -> None:
    """postgres_exporter, with the heartbeat query, and the heartbeat writer itself.

    The writer runs on every member of the chain and writes only on the one not in recovery,
    so after a promotion the new primary keeps the heartbeat going by itself.
    """
    queries = files.put(
        name="Heartbeat query of postgres_exporter",
        src=as_file(make_exporter_queries()),
        dest=EXPORTER_QUERIES_PATH,
        mode="644",
    )
    defaults = files.put(
        name="Configure postgres_exporter",
        src=as_file(make_exporter_defaults(topology.POSTGRES_EXPORTER_PORT)),
        dest=POSTGRES_EXPORTER_DEFAULTS,
        mode="644",
    )
    systemd.service(
        name="Restart postgres_exporter",
        service=POSTGRES_EXPORTER_UNIT,
        restarted=True,
        _if=any_changed(queries, defaults),
    )
    systemd.service(
        name="Run postgres_exporter",
        service=POSTGRES_EXPORTER_UNIT,
        running=True,
        enabled=True,
    )
    if context.wheelhouse is None:
        host.noop("no wheelhouse: the heartbeat writer is left as it is")
        return
    venv = get_agent_venv(get_wheelhouse_digest(context.wheelhouse))
    unit = files.put(
        name="Heartbeat writer unit",
        src=as_file(make_heartbeat_unit(f"{venv}/bin/egov")),
        dest=f"{UNIT_DIRECTORY}/{HEARTBEAT_UNIT}",
        mode="644",
    )
    systemd.service(
        name="Restart the heartbeat writer",
        service=HEARTBEAT_UNIT,
        running=True,
        restarted=True,
        daemon_reload=True,
        _if=unit.did_change,
    )
    systemd.service(
        name="Run the heartbeat writer", service=HEARTBEAT_UNIT, running=True, enabled=True
    )
