from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from egov.monitoring.heartbeat import (
    EXPORTER_QUERIES_PATH,
    LAG_SQL,
    make_create_database_sql,
    make_exporter_defaults,
    make_exporter_queries,
    make_heartbeat_unit,
    run_heartbeat,
)


def test_postgres_exporter_query_yields_the_lag_and_the_heartbeat_time() -> None:
    queries = yaml.safe_load(make_exporter_queries())
    query = queries["dr_postgres"]
    names = [next(iter(metric)) for metric in query["metrics"]]
    assert names == ["replication_lag_seconds", "heartbeat_timestamp_seconds"]
    assert "now() - max(ts)" in query["query"]
    assert all(next(iter(m.values()))["usage"] == "GAUGE" for m in query["metrics"])


def test_exporter_reads_the_egov_database_with_the_custom_query() -> None:
    defaults = make_exporter_defaults(9187)
    assert "dbname=egov" in defaults
    assert f"--extend.query-path={EXPORTER_QUERIES_PATH}" in defaults


def test_the_writer_runs_as_postgres_from_the_agent() -> None:
    unit = make_heartbeat_unit("/opt/egov/venv-0123/bin/egov")
    assert "User=postgres" in unit
    assert "ExecStart=/opt/egov/venv-0123/bin/egov agent heartbeat" in unit


def test_the_database_is_created_once_and_the_monitor_may_connect() -> None:
    sql = make_create_database_sql()
    assert "WHERE NOT EXISTS" in sql and "\\gexec" in sql
    assert "GRANT CONNECT ON DATABASE egov TO pg_monitor" in sql


# A real PostgreSQL 15 (Debian's) in a temporary directory: the writer and the lag query.

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def cluster() -> Iterator[str]:
    """A throwaway cluster on a Unix socket only; its libpq conninfo for database egov."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None or os.getuid() != 0:
        pytest.skip("needs root and Debian's postgresql-15 (initdb refuses to run as root)")
    # pytest's tmp_path sits under a 0700 directory the postgres user cannot traverse
    directory = Path(tempfile.mkdtemp(prefix="egov-pg-"))
    shutil.chown(directory, "postgres", "postgres")

    def as_postgres(*argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True)

    as_postgres(str(PG_BIN / "initdb"), "-D", str(directory / "data"), "-A", "trust")
    as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(directory / "data"),
        "-w",
        "-l",
        str(directory / "log"),
        "-o",
        f"-c listen_addresses='' -k {directory}",
        "start",
    )
    try:
        sql = make_create_database_sql()
        as_postgres(
            str(PG_BIN / "psql"),
            "-h",
            str(directory),
            "-X",
            "-q",
            "-d",
            "postgres",
            "-c",
            sql.splitlines()[0].replace("\\gexec", "").split("'")[1],
        )
        yield f"host={directory} dbname=egov user=postgres"
    finally:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(directory / "data"), "-m", "fast", "stop")
        shutil.rmtree(directory, ignore_errors=True)


def test_the_writer_keeps_the_heartbeat_within_a_second(cluster: str) -> None:
    import psycopg

    beats = iter(range(4))
    run_heartbeat(cluster, interval_seconds=0.2, should_stop=lambda: next(beats, None) is None)
    with psycopg.connect(cluster) as connection:
        row = connection.execute(LAG_SQL).fetchone()
        granted = connection.execute(
            "SELECT has_table_privilege('pg_monitor', 'egov_heartbeat', 'SELECT')"
        ).fetchone()
    assert row is not None and 0 <= row[0] < 1.0
    assert granted == (True,)
