"""True PostgreSQL replication lag: a heartbeat row written on the primary, read on replicas.

``now() - pg_last_xact_replay_timestamp()`` grows on an idle primary, and postgres_exporter
reports 0 whenever the received and replayed positions match: neither is the data a failover
would lose. Instead ``egov agent heartbeat`` updates one row of ``egov_heartbeat`` in the small
``egov`` database every second; on each replica ``now() - ts`` is how far behind it is.

The writer runs on every database host and writes only while its cluster is not in recovery:
after a promotion the new primary starts writing by itself, and a replica's writer idles.

Lag is read by postgres_exporter (a custom query, ``make_exporter_queries``), not by the egov
exporter: postgres_exporter already runs on every database host with local peer
authentication, so no credential travels, no port opens from the monitoring hosts to
PostgreSQL, and the egov exporter stays a reader of files. Its metrics, with the host's
``host`` and ``roles`` labels: ``dr_postgres_replication_lag_seconds`` (``now() - ts`` on
that host's own clock) and ``dr_postgres_heartbeat_timestamp_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import yaml

from egov.hostlayout import POSTGRES_EXPORTER_QUERIES

HEARTBEAT_DATABASE = "egov"
HEARTBEAT_INTERVAL_SECONDS = 1.0
RETRY_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 3
EXPORTER_QUERIES_PATH = POSTGRES_EXPORTER_QUERIES
#: The role postgres_exporter connects as (member of pg_monitor, created by the db role).
MONITORING_GROUP = "pg_monitor"

SETUP_SQL = (
    "CREATE TABLE IF NOT EXISTS egov_heartbeat ("
    " id smallint PRIMARY KEY CHECK (id = 1),"
    " ts timestamptz NOT NULL)",
    f"GRANT SELECT ON egov_heartbeat TO {MONITORING_GROUP}",
)
BEAT_SQL = (
    "INSERT INTO egov_heartbeat (id, ts) VALUES (1, now())"
    " ON CONFLICT (id) DO UPDATE SET ts = excluded.ts"
)
RECOVERY_SQL = "SELECT pg_is_in_recovery()"
LAG_SQL = (
    "SELECT extract(epoch FROM now() - max(ts)) AS lag_seconds,"
    " extract(epoch FROM max(ts)) AS timestamp_seconds FROM egov_heartbeat"
)

logger = logging.getLogger("egov.heartbeat")


def make_create_database_sql() -> str:
    """psql lines creating the ``egov`` database and letting the exporter connect.

    For the primary's roles SQL (``database.make_roles_sql``); replicas receive it by streaming.
    """
    return (
        "SELECT 'CREATE DATABASE egov' WHERE NOT EXISTS "
        "(SELECT FROM pg_database WHERE datname = 'egov')\\gexec\n"
        "GRANT CONNECT ON DATABASE egov TO pg_monitor;\n"
    )


def make_exporter_queries() -> str:
    """postgres_exporter's ``--extend.query-path`` file: the heartbeat lag, as gauges."""
    queries = {
        "dr_postgres": {
            "query": LAG_SQL.replace("lag_seconds", "replication_lag_seconds").replace(
                "timestamp_seconds", "heartbeat_timestamp_seconds"
            ),
            "master": True,
            "metrics": [
                {
                    "replication_lag_seconds": {
                        "usage": "GAUGE",
                        "description": "now() minus the newest heartbeat visible here.",
                    }
                },
                {
                    "heartbeat_timestamp_seconds": {
                        "usage": "GAUGE",
                        "description": "The newest heartbeat written by the primary, seen here.",
                    }
                },
            ],
        }
    }
    header = "# postgres_exporter custom queries: written by egov deploy.\n"
    return header + yaml.safe_dump(queries, sort_keys=False)


def make_exporter_defaults(port: int) -> str:
    """/etc/default/prometheus-postgres-exporter with the heartbeat query and database."""
    return (
        f'DATA_SOURCE_NAME="user=prometheus host=/run/postgresql dbname={HEARTBEAT_DATABASE}"\n'
        f'ARGS="--web.listen-address=:{port} --extend.query-path={EXPORTER_QUERIES_PATH}"\n'
    )


def make_heartbeat_unit(egov: str) -> str:
    """The systemd unit running the writer as ``postgres`` (peer authentication, no password)."""
    return (
        "# Written by egov deploy.\n"
        "[Unit]\n"
        "Description=egov PostgreSQL heartbeat writer (true replication lag)\n"
        "After=postgresql.service\n\n"
        "[Service]\n"
        "User=postgres\n"
        "Group=postgres\n"
        f"ExecStart={egov} agent heartbeat\n"
        "Restart=always\n"
        "RestartSec=2\n"
        "NoNewPrivileges=yes\n"
        "ProtectSystem=strict\n"
        "ProtectHome=yes\n"
        "PrivateTmp=yes\n\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def run_heartbeat(
    conninfo: str,
    interval_seconds: float = HEARTBEAT_INTERVAL_SECONDS,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Write a heartbeat every ``interval_seconds`` while the cluster is a primary.

    Connection failures are logged and retried every ``RETRY_SECONDS``: the writer outlives
    restarts and failovers of its cluster.
    """
    import psycopg

    while not should_stop():
        try:
            with psycopg.connect(
                conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            ) as connection:
                ready = False
                while not should_stop():
                    row = connection.execute(RECOVERY_SQL).fetchone()
                    if row is not None and not row[0]:
                        if not ready:
                            for statement in SETUP_SQL:
                                connection.execute(statement)
                            ready = True
                        connection.execute(BEAT_SQL)
                    time.sleep(interval_seconds)
        except psycopg.Error as error:
            logger.warning("heartbeat: %s; retrying in %ss", error, RETRY_SECONDS)
            time.sleep(RETRY_SECONDS)
