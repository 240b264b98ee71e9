"""``egov backup status --archives``: the archive hosts' series judged against the archive's
limits, read over HTTP from a real server on loopback, and shown in text and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from egov.backup import archivestatus
from egov.backup.archivemetrics import make_archive_registry
from egov.backup.archivestate import ServerState
from egov.backup.archivestatus import (
    fetch_archive_states,
    get_metrics_url,
    make_archive_status,
)
from egov.backup.walarchive import get_archived_clusters
from egov.cli import run
from egov.cli.app import stdout
from egov.inventory.model import Estate
from tests.backup.conftest import LAB
from tests.loopback import serving

SERVER = "databases-primary-db-01"
NOW = 2_000_000_000.0
HEALTHY_CHECKS = (("postgresql", True), ("minimum_redundancy_requirements", True))


def _state(host: str, site: str, **values: object) -> ServerState:
    healthy = ServerState(
        SERVER, "databases", site, host,
        last_wal_at=NOW - 40, first_wal_at=NOW - 86400, stream_at=NOW - 1,
        last_base_backup_at=NOW - 3600, base_backups=1, checks=HEALTHY_CHECKS, collected_at=NOW,
    )  # fmt: skip
    return replace(healthy, **values)  # type: ignore[arg-type]


def _exposition(*states: ServerState) -> str:
    from prometheus_client import generate_latest

    noise = "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.5\n"
    return noise + generate_latest(make_archive_registry(states)).decode()


def test_each_archive_host_is_judged_against_the_archive_limits(lab: Estate) -> None:
    pairs = get_archived_clusters(lab)
    states = {
        "primary-store-01": [_state("primary-store-01", "primary")],
        "site2-store-01": [
            _state(
                "site2-store-01", "site2",
                last_wal_at=NOW - 300, last_base_backup_at=None, base_backups=0,
                checks=(("postgresql", False), ("minimum_redundancy_requirements", False)),
            )
        ],
    }  # fmt: skip
    primary, site2 = make_archive_status(pairs, states, {}, NOW)
    assert (primary.wal_age_seconds, primary.wal_limit_seconds, primary.wal_fresh) == (40, 90, True)
    assert primary.base_backup_fresh and primary.checks_ok and primary.failing_checks == ()
    assert (site2.wal_age_seconds, site2.wal_fresh) == (300, False)
    assert site2.base_backup_age_seconds is None and not site2.base_backup_fresh
    assert site2.checks_ok is False and site2.failing_checks == ("postgresql",)


def test_a_host_that_does_not_answer_is_a_row_saying_why(lab: Estate) -> None:
    pairs = get_archived_clusters(lab)
    states = {"primary-store-01": [_state("primary-store-01", "primary")]}
    errors = {"site2-store-01": "http://10.213.3.30:9100/metrics: timed out"}
    primary, site2 = make_archive_status(pairs, states, errors, NOW)
    assert primary.error is None and site2.error == errors["site2-store-01"]
    assert site2.wal_fresh is False and site2.checks_ok is None


def test_the_metrics_url_is_the_archive_hosts_node_exporter(lab: Estate) -> None:
    urls = [get_metrics_url(pair) for pair in get_archived_clusters(lab)]
    assert urls == ["http://10.213.1.30:9100/metrics", "http://10.213.3.30:9100/metrics"]


@pytest.fixture
def exporter() -> Iterator[str]:
    """A node_exporter stand-in on loopback serving the archive's series among others."""
    page = _exposition(_state("site2-store-01", "site2")).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/metrics" else 404)
            self.end_headers()
            self.wfile.write(page if self.path == "/metrics" else b"")

        def log_message(self, *_: object) -> None:
            pass

    with serving(Handler) as url:
        yield url


def test_states_are_read_over_http_and_a_dead_host_is_named(exporter: str) -> None:
    urls = {"site2-store-01": f"{exporter}/metrics", "primary-store-01": f"{exporter}/nothing"}
    states, errors = fetch_archive_states(urls)
    assert states["site2-store-01"] == [_state("site2-store-01", "site2")]
    assert set(errors) == {"primary-store-01"} and "/nothing" in errors["primary-store-01"]


def test_status_with_archives_shows_them_in_json_and_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lab's archive hosts are not reachable from the unit tests: the page each would
    # serve is handed over instead of read over the network.
    import time

    now = time.time()
    pages = {
        "http://10.213.1.30:9100/metrics": _exposition(
            _state("primary-store-01", "primary", last_wal_at=now - 30, collected_at=now,
                   last_base_backup_at=now - 60)
        ),
        "http://10.213.3.30:9100/metrics": "garbage {{{",
    }  # fmt: skip
    monkeypatch.setattr(archivestatus, "_read_url", lambda url: pages[url])
    argv = ["backup", "status", "-i", str(LAB), "--state-dir", str(tmp_path), "--archives"]
    assert run([*argv, "-o", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {row["dataset"] for row in shown["datasets"]} == {"databases", "files", "etc"}
    primary, site2 = shown["archives"]
    assert primary["host"] == "primary-store-01" and primary["wal_fresh"] is True
    assert primary["checks_ok"] is True and primary["base_backup_fresh"] is True
    assert site2["host"] == "site2-store-01" and "not a metrics page" in site2["error"]
    monkeypatch.setattr(stdout, "width", 300)  # the table unwrapped
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "WAL archive" in out and "primary-store-01" in out and "not a metrics page" in out


def test_status_without_archives_reads_no_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(url: str) -> str:
        raise AssertionError(f"read {url}")

    monkeypatch.setattr(archivestatus, "_read_url", refuse)
    assert (
        run(["backup", "status", "-i", str(LAB), "--state-dir", str(tmp_path), "-o", "json"]) == 0
    )
    assert isinstance(json.loads(capsys.readouterr().out), list)
