"""Host firewalls open only what each role needs, to the peers that need it."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Network

import pytest

from egov.deploys.firewall import make_firewall_rules, render_nftables
from egov.inventory.model import Estate
from tests.deploys.conftest import host


def _open(estate: Estate, selector: str) -> dict[int, set[str] | None]:
    rules = make_firewall_rules(estate, host(estate, selector))
    return {
        rule.port: None if rule.sources is None else {str(s) for s in rule.sources}
        for rule in rules
    }


def test_database_port_is_open_to_its_apps_and_replicas_only(lab: Estate) -> None:
    allowed = _open(lab, "primary/db-01")[5432]
    assert allowed is not None
    assert "10.213.1.11/32" in allowed  # portal-01
    assert "10.213.3.10/32" in allowed  # site2 app-01, for after a failover
    assert {"10.213.1.21/32", "10.213.3.20/32"} <= allowed  # the replicas
    assert "10.213.1.10/32" not in allowed  # the load balancer has no business there
    assert "10.213.2.10/32" not in allowed  # nor the object store


def test_replica_accepts_the_same_clients_as_its_primary(lab: Estate) -> None:
    primary = _open(lab, "primary/db-01")[5432]
    replica = _open(lab, "site2/db-01")[5432]
    assert primary is not None and replica is not None
    assert primary - {"10.213.3.20/32"} <= replica


def test_load_balancer_is_open_to_everyone_and_apps_only_to_balancers(lab: Estate) -> None:
    assert _open(lab, "primary/lb-01")[80] is None
    apps = _open(lab, "primary/portal-01")[8080]
    assert apps is not None and "10.213.1.10/32" in apps and "10.213.3.10/32" in apps
    assert 80 not in _open(lab, "primary/portal-01")


def test_ssh_only_from_control_nodes(lab: Estate) -> None:
    ssh = _open(lab, "vnpt/s3-01")[22]
    assert ssh == {
        "10.213.1.1/32",
        "10.213.2.1/32",
        "10.213.3.1/32",
        "10.213.1.40/32",
        "10.213.3.40/32",
    }


def test_repository_port_follows_the_inventory(songxanh: Estate) -> None:
    opened = _open(songxanh, "dc-north/nas")
    assert 8000 in opened
    assert IPv4Network("172.20.20.0/24").compressed in (opened[8000] or set())


def test_rendered_ruleset_drops_by_default(lab: Estate) -> None:
    text = render_nftables(make_firewall_rules(lab, host(lab, "primary/db-01")), "primary-db-01")
    assert "policy drop;" in text
    assert 'tcp dport 5432 accept comment "postgresql' in text
    assert "flush ruleset" in text


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed here")
@pytest.mark.parametrize(
    "selector", ["primary/db-01", "primary/mon-01", "site2/app-01", "vnpt/s3-01"]
)
def test_rendered_ruleset_parses_with_nft(lab: Estate, selector: str, tmp_path) -> None:
    path = tmp_path / "rules.nft"
    path.write_text(render_nftables(make_firewall_rules(lab, host(lab, selector)), selector))
    result = subprocess.run(
        ["nft", "-c", "-f", str(path)], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_a_services_own_port_is_open_on_its_entrypoints(songxanh: Estate) -> None:
    assert _open(songxanh, "dc-north/gw")[8443] is None
    assert _open(songxanh, "dc-south/web-b")[8443] is None
    assert 8443 not in _open(songxanh, "dc-north/pg-a")
