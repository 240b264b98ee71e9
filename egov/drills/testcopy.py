"""A test's isolated database copy: a writable clone of the recovery site's replica
(``create-test-database``) or a point-in-time recovery (``operatorerror.py``), started on a
port of its own with the client rules of a test, and removed again.

Every action is safe to run twice (a rollback may repeat after ``egov drill recover``).
"""

from __future__ import annotations

import shlex

from egov.deploys.database import make_client_rules
from egov.drills.activity import register
from egov.drills.context import DrillContext
from egov.drills.probes import TestDatabaseArguments
from egov.hostlayout import DRILL_ROOT, DRILL_SOCKET_DIRECTORY, make_postgres_binaries
from egov.inventory.model import HostRef

DRILL_POSTGRES_UNIT = "egov-drill-postgres"


@register("action", "create-test-database", TestDatabaseArguments)
def create_test_database(context: DrillContext, arguments: TestDatabaseArguments) -> str:
    """Clone the site's replica into an isolated, writable copy on its own port, which the
    host firewall keeps closed until open-test-service opens it to the site's app hosts."""
    assert context.estate.postgres is not None
    ref = context.get_database_host(arguments.site)
    data = f"{DRILL_ROOT}/pg"
    script = "\n".join(
        [
            "set -e",
            *make_stop_test_cluster_lines(),
            f"rm -rf {data}",
            f"install -d -o postgres -g postgres -m 700 {DRILL_ROOT} {data}",
            f"runuser -u postgres -- pg_basebackup -D {data} -X stream -c fast",
            *make_start_test_cluster_lines(
                context, data, copy=ref, database=ref, port=arguments.port
            ),
        ]
    )
    context.remote.run(ref, script, timeout_seconds=600)
    return f"isolated copy of {ref.selector} on its local socket, port {arguments.port}"


def make_stop_test_cluster_lines() -> list[str]:
    """Shell: stop the isolated copy's postmaster, if one runs (a rerun starts afresh)."""
    return [
        f"systemctl stop {DRILL_POSTGRES_UNIT} 2>/dev/null || true",
        f"systemctl reset-failed {DRILL_POSTGRES_UNIT} 2>/dev/null || true",
    ]


def make_start_test_cluster_lines(
    context: DrillContext, data: str, *, copy: HostRef, database: HostRef, port: int
) -> list[str]:
    """Shell: start the cluster in ``data`` on ``copy`` as an isolated copy of ``database``'s
    chain: its own configuration, listening on ``copy``'s address and ``port`` (which the
    host firewall keeps closed until open-test-service opens it to the site's app hosts),
    owned by and running as ``postgres``; wait until it answers."""
    assert context.estate.postgres is not None
    binaries = make_postgres_binaries(context.estate.postgres.version)
    conf = (
        f"listen_addresses = '{copy.host.address}'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{DRILL_SOCKET_DIRECTORY}'\n"
        "archive_mode = off\nshared_buffers = 32MB\nmax_wal_senders = 0\nwal_level = minimal\n"
        f"hba_file = '{data}/pg_hba.conf'\nident_file = '{data}/pg_ident.conf'\n"
    )
    hba = make_test_hba(context, database, copy.site)
    return [
        # a replica's or a recovery's settings (primary_conninfo, restore_command) stay out
        f"rm -f {data}/standby.signal {data}/recovery.signal {data}/postgresql.auto.conf",
        f"printf '%s' {shlex.quote(conf)} > {data}/postgresql.conf",
        f"printf '%s' {shlex.quote(hba)} > {data}/pg_hba.conf",
        f": > {data}/pg_ident.conf",
        f"chown -R postgres:postgres {data}",
        f"systemd-run --unit={DRILL_POSTGRES_UNIT} --property=User=postgres "
        f"--property=RuntimeDirectory=egov-drill {binaries}/postgres -D {data}",
        "for i in $(seq 120); do "
        f"{binaries}/pg_isready -q -h {DRILL_SOCKET_DIRECTORY} -p {port} && exit 0; "
        "sleep 1; done; echo 'the test copy did not start' >&2; exit 1",
    ]


def make_test_hba(context: DrillContext, database: HostRef, site: str) -> str:
    """An isolated copy's pg_hba: local peer, and each service's role from the app hosts at
    ``site``, where the copy runs (the deploy's own client rules of ``database``'s chain,
    narrowed to that site)."""
    addresses = {
        str(host.host.address)
        for host in context.estate.iter_hosts()
        if host.site == site and "app" in host.host.roles
    }
    lines = ["local all all peer"]
    lines += [
        f"host {rule.database} {rule.role} {rule.address}/32 scram-sha-256"
        for rule in make_client_rules(context.estate, database)
        if rule.address in addresses
    ]
    return "\n".join(lines) + "\n"


@register("action", "remove-test-database", TestDatabaseArguments)
def remove_test_database(context: DrillContext, arguments: TestDatabaseArguments) -> str:
    """Stop and delete the isolated copy (nothing of production is touched)."""
    ref = context.get_copy_host(arguments.site, arguments.host)
    script = "; ".join(
        [
            *make_stop_test_cluster_lines(),
            f"rm -rf {DRILL_ROOT}/pg {DRILL_ROOT}/pitr",
            f"rmdir {DRILL_ROOT} 2>/dev/null || true",
        ]
    )
    context.remote.run(ref, script)
    return f"isolated copy on {ref.selector} removed"
