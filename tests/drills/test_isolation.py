"""The test failover's service path (``egov/drills/isolation.py``): what it opens, serves and
removes, built from the lab inventory; the check program run for real against a local server.
The lab test (tests/lab/test_drill.py) runs the whole path on site 2's real hosts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from egov.deploys.app import CANARY_PASSWORD
from egov.drills.context import DrillContext
from egov.drills.isolation import (
    CHECK_PROGRAM,
    DRILL_APP_PORT,
    DRILL_LB_PORT,
    FIREWALL_COMMENT,
    get_app_hosts,
    get_balancer,
    make_close_ports_script,
    make_open_port_script,
    make_test_canary_config,
    make_test_nginx_site,
    parse_service_check,
)
from egov.drills.journal import Journal
from egov.drills.remote import Remote
from egov.drills.scenario import Mode
from egov.drills.testcopy import make_test_hba
from egov.errors import DrillError
from egov.inventory import load_estate
from egov.inventory.model import Estate
from tests.drills.support import write_lab_inventory
from tests.loopback import serving


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return load_estate(write_lab_inventory(tmp_path)).estate


def test_the_test_instances_run_on_site2s_app_hosts_against_the_copy(estate: Estate) -> None:
    services = list(estate.services)
    (app,) = get_app_hosts(estate, "site2", services)
    database = estate.find_host("site2", "db-01")
    assert app.selector == "site2/app-01" and database is not None
    config = make_test_canary_config(estate, app, services, database, 55432)
    assert config["listen_address"] == str(app.host.address)
    assert config["port"] == DRILL_APP_PORT
    placed = config["services"]
    assert isinstance(placed, dict) and set(placed) == set(services)
    for name, entry in placed.items():
        assert entry["host"] == str(database.host.address) and entry["port"] == 55432
        assert entry["user"] == name and entry["password_file"] == CANARY_PASSWORD


def test_the_balancers_test_server_listens_on_loopback_only(estate: Estate) -> None:
    services = list(estate.services)
    (app,) = get_app_hosts(estate, "site2", services)
    text = make_test_nginx_site({name: [app] for name in services})
    listens = [line.strip() for line in text.splitlines() if "listen" in line]
    assert listens == [f"listen 127.0.0.1:{DRILL_LB_PORT};"]
    for name in services:
        assert f"location /{name}/ {{" in text
    assert text.count(f"server {app.host.address}:{DRILL_APP_PORT};") == len(services)


def test_a_service_without_a_balancer_at_the_site_is_refused(estate: Estate) -> None:
    assert get_balancer(estate, "portal", "site2").selector == "site2/app-01"
    with pytest.raises(DrillError, match="no load balancer at site vnpt"):
        get_balancer(estate, "portal", "vnpt")


def test_the_copy_admits_each_services_role_from_its_sites_app_hosts_only(
    estate: Estate, tmp_path: Path
) -> None:
    context = DrillContext(
        estate=estate,
        remote=Remote(estate),
        journal=Journal.create(tmp_path / "journal.jsonl"),
        mode=Mode.TEST,
        services=list(estate.services),
        targets={},
    )
    database = estate.find_host("site2", "db-01")
    assert database is not None
    lines = make_test_hba(context, database, database.site).splitlines()
    assert lines[0] == "local all all peer"
    hosts = [line.split()[3] for line in lines[1:]]
    assert hosts and set(hosts) == {"10.213.3.10/32"}  # site2/app-01, nothing of the primary
    assert all(line.endswith("scram-sha-256") for line in lines[1:])


NFT_LISTING = f"""table inet egov {{
	chain input {{ # handle 1
		tcp dport 22 accept comment "ssh from the control nodes" # handle 4
		ip saddr {{ 10.213.3.10 }} tcp dport 55432 accept comment "{FIREWALL_COMMENT}" # handle 31
		tcp dport 5432 accept comment "postgresql" # handle 7
		ip saddr {{ 10.213.3.10 }} tcp dport 58080 accept comment "{FIREWALL_COMMENT}" # handle 32
	}}
}}
"""


def test_the_cleanup_removes_the_tests_firewall_rules_and_only_those(tmp_path: Path) -> None:
    """The real script, with `nft` a shell function that lists and records deletions."""
    log = tmp_path / "deleted"
    listing = tmp_path / "listing"
    listing.write_text(NFT_LISTING, encoding="utf-8")
    fake = f'nft() {{ if [ "$1" = -a ]; then cat {listing}; else echo "$*" >> {log}; fi; }}\n'
    subprocess.run(["sh", "-c", fake + make_close_ports_script()], check=True)
    assert log.read_text(encoding="utf-8").splitlines() == [
        "delete rule inet egov input handle 31",
        "delete rule inet egov input handle 32",
    ]


def test_an_opening_names_its_sources_and_port_and_carries_the_mark() -> None:
    script = make_open_port_script(55432, ["10.213.3.10", "10.213.3.11"])
    assert "ip saddr { 10.213.3.10, 10.213.3.11 } tcp dport 55432 accept" in script
    assert f'comment "{FIREWALL_COMMENT}"' in script
    assert script.startswith("if nft list chain inet egov input")  # no egov firewall: nothing


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('{"health": 200, "records": [3, 1, 2]}\n', (True, frozenset({1, 2, 3}))),
        ('{"health": 200, "records": []}', (True, frozenset())),
        ('{"health": 503, "records": null}', (False, None)),
        ('{"health": null, "records": "connection refused"}', (False, None)),
        ('{"health": 200, "records": null}', (True, None)),
        ("", (False, None)),
        ("Traceback …", (False, None)),
        ("[1, 2]", (False, None)),
    ],
)
def test_the_check_answer_is_parsed_without_trust(
    output: str, expected: tuple[bool, frozenset[int] | None]
) -> None:
    assert parse_service_check(output) == expected


@pytest.fixture
def balancer() -> Iterator[tuple[str, dict[str, int]]]:
    """A stand-in for the balancer's test server: ``state["health"]`` is its answer."""
    state = {"health": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/portal/health":
                self.send_response(state["health"])
                self.end_headers()
                return
            if self.path == "/portal/records?since=7":
                body = json.dumps({"service": "portal", "seqs": [7, 8, 10]}).encode()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url, state


def _check(base: str) -> tuple[bool, frozenset[int] | None]:
    result = subprocess.run(
        [sys.executable, "-", base, "portal", "7"],
        input=CHECK_PROGRAM,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return parse_service_check(result.stdout)


def test_the_check_program_reads_health_then_the_records(
    balancer: tuple[str, dict[str, int]],
) -> None:
    base, state = balancer
    assert _check(base) == (True, frozenset({7, 8, 10}))
    state["health"] = 503
    assert _check(base) == (False, None)
    assert _check("http://127.0.0.1:1") == (False, None)  # nothing listening: not healthy
