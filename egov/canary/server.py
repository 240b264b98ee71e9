"""The canary service: the lab's stand-in for the province's applications.

It answers each service's health check and records numbered writes through the real service
path (nginx → app host → PostgreSQL). Drills write records at a steady rate and, after a
failover, read the highest record present at the recovery site: that is the data lost.

Routes, per service placed on the host::

    GET  /<service>/health        200 when its database answers and accepts writes, else 503
    POST /<service>/records       {"seq": N} → 201 once committed (the acknowledgement)
    GET  /<service>/records/last  {"seq": highest recorded or null, "site": ...}
    GET  /<service>/records?since=N  {"seqs": [every record numbered N or higher], "site": ...}
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from egov.inputfile import JSON_INPUT, read_input_text

CONNECT_TIMEOUT_SECONDS = 2
MAX_BODY_BYTES = 4096
#: A drill's records at 4 a second for two hours: more is not a drill's.
MAX_RECORDS = 30_000
TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS egov_canary ("
    " seq bigint PRIMARY KEY,"
    " written_at timestamptz NOT NULL DEFAULT now(),"
    " site text NOT NULL)"
)

logger = logging.getLogger("egov.canary")


@dataclass(frozen=True)
class ServiceDatabase:
    """Where one service keeps its records."""

    host: str
    port: int
    database: str
    user: str
    password_file: str

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection (one per request: it must follow a failover at once).

        With several hosts (the site's members of the replication chain), libpq tries them in
        order and keeps the one that takes writes; with one, that host whatever its role (a
        replica answers reads and reports itself unhealthy).
        """
        return psycopg.connect(
            host=self.host,
            target_session_attrs="read-write" if "," in self.host else "any",
            port=self.port,
            dbname=self.database,
            user=self.user,
            password=Path(self.password_file).read_text(encoding="utf-8").strip(),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="egov-canary",
        )


@dataclass(frozen=True)
class CanaryConfig:
    """The canary's configuration file (written by the app deploy)."""

    listen_address: str
    port: int
    site: str
    services: dict[str, ServiceDatabase]

    @classmethod
    def load(cls, path: Path) -> CanaryConfig:
        """Read the JSON configuration at ``path``."""
        data = json.loads(read_input_text(path, JSON_INPUT))
        return cls(
            listen_address=data["listen_address"],
            port=int(data["port"]),
            site=data["site"],
            services={name: ServiceDatabase(**value) for name, value in data["services"].items()},
        )


def check_health(database: ServiceDatabase) -> tuple[bool, str]:
    """Whether the service can take writes now, and why not."""
    try:
        with database.connect() as connection:
            row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
    except (psycopg.Error, OSError) as error:
        return False, f"database unreachable: {type(error).__name__}"
    if row is None or row[0]:
        return False, "database is a read-only replica"
    return True, "ok"


def record(database: ServiceDatabase, seq: int, site: str) -> None:
    """Commit record ``seq``; returning means it is durable on the primary."""
    with database.connect() as connection:
        connection.execute(TABLE_SQL)
        connection.execute(
            "INSERT INTO egov_canary (seq, site) VALUES (%s, %s) ON CONFLICT (seq) DO NOTHING",
            (seq, site),
        )


def get_last_record(database: ServiceDatabase) -> int | None:
    """The highest record present, or None when there is none yet."""
    with database.connect() as connection:
        exists = connection.execute("SELECT to_regclass('egov_canary') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return None
        row = connection.execute("SELECT max(seq) FROM egov_canary").fetchone()
    return None if row is None else row[0]


def get_records(database: ServiceDatabase, since: int) -> list[int]:
    """Every record numbered ``since`` or higher, ascending (a drill checks each for gaps)."""
    with database.connect() as connection:
        exists = connection.execute("SELECT to_regclass('egov_canary') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return []
        rows = connection.execute(
            "SELECT seq FROM egov_canary WHERE seq >= %s ORDER BY seq LIMIT %s",
            (since, MAX_RECORDS),
        ).fetchall()
    return [int(row[0]) for row in rows]


def make_handler(config: CanaryConfig) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``config``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "egov-canary"

        def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _service(self) -> tuple[str, ServiceDatabase, str] | None:
            parts = self.path.split("?")[0].strip("/").split("/", 1)
            database = config.services.get(parts[0])
            if database is None or len(parts) < 2:
                self._reply(HTTPStatus.NOT_FOUND, {"error": "no such service or route"})
                return None
            return parts[0], database, parts[1]

        def do_GET(self) -> None:
            found = self._service()
            if found is None:
                return
            name, database, route = found
            if route == "health":
                healthy, reason = check_health(database)
                status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
                self._reply(status, {"service": name, "site": config.site, "status": reason})
            elif route == "records/last":
                try:
                    last = get_last_record(database)
                except (psycopg.Error, OSError) as error:
                    self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": type(error).__name__})
                    return
                self._reply(HTTPStatus.OK, {"service": name, "site": config.site, "seq": last})
            elif route == "records":
                query = parse_qs(urlsplit(self.path).query)
                try:
                    since = int(query.get("since", ["0"])[0])
                except ValueError:
                    self._reply(HTTPStatus.BAD_REQUEST, {"error": "since=<integer>"})
                    return
                try:
                    seqs = get_records(database, since)
                except (psycopg.Error, OSError) as error:
                    self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": type(error).__name__})
                    return
                self._reply(HTTPStatus.OK, {"service": name, "site": config.site, "seqs": seqs})
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": "no such route"})

        def do_POST(self) -> None:
            found = self._service()
            if found is None:
                return
            name, database, route = found
            if route != "records":
                self._reply(HTTPStatus.NOT_FOUND, {"error": "no such route"})
                return
            try:
                length = min(int(self.headers.get("Content-Length", "0")), MAX_BODY_BYTES)
                seq = int(json.loads(self.rfile.read(length))["seq"])
            except (ValueError, KeyError, TypeError):
                self._reply(HTTPStatus.BAD_REQUEST, {"error": 'send {"seq": <integer>}'})
                return
            try:
                record(database, seq, config.site)
            except (psycopg.Error, OSError) as error:
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": type(error).__name__})
                return
            self._reply(HTTPStatus.CREATED, {"service": name, "seq": seq, "site": config.site})

        def log_message(self, format: str, *args: Any) -> None:
            logger.info("%s " + format, self.client_address[0], *args)

    return Handler


def serve(config: CanaryConfig) -> None:
    """Serve until the process is stopped (systemd runs it)."""
    server = ThreadingHTTPServer((config.listen_address, config.port), make_handler(config))
    server.daemon_threads = True
    logger.info(
        "canary of %s listening on %s:%d", ", ".join(config.services), *server.server_address[:2]
    )
    server.serve_forever()
