"""The lab network: sites reach each other through the host and nothing leaves the lab.

Tests egov/lab/network.py and firewall.py on the running lab.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.lab.firewall import get_counters, make_table_name
from egov.lab.network import make_bridge_name
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab

OUTSIDE_GATEWAY = "192.0.2.1"


def _ping(lab: Lab, machine: str, address: str) -> bool:
    return lab.exec(machine, "ping", "-c", "1", "-W", "1", address).returncode == 0


def test_hosts_of_one_site_reach_the_other_sites_through_the_host(lab: Lab) -> None:
    assert _ping(lab, "primary-db-01", lab.address("site2-db-01"))
    assert _ping(lab, "site2-db-01", lab.address("vnpt-s3-01"))
    assert _ping(lab, "vnpt-s3-01", lab.address("primary-store-01"))
    route = lab.exec("primary-db-01", "ip", "route", "get", lab.address("site2-db-01")).stdout
    assert "via 10.213.1.1" in route


def test_hosts_resolve_each_other_by_machine_name(lab: Lab) -> None:
    assert _ping(lab, "primary-mon-01", "site2-mon-01")


def test_containers_have_no_default_route_and_no_outside_dns(lab: Lab) -> None:
    for machine in ("primary-lb-01", "vnpt-s3-01", "site2-app-01"):
        routes = lab.exec(machine, "ip", "-4", "route", "show").stdout
        assert "default" not in routes
        assert lab.exec(machine, "cat", "/etc/resolv.conf").stdout.strip() == ""
    assert not _ping(lab, "primary-lb-01", OUTSIDE_GATEWAY)


def test_outside_traffic_dies_at_the_lab_firewall_even_with_a_rogue_route(lab: Lab) -> None:
    """A host that adds a default route through the host still gets nothing out."""
    table = make_table_name(lab.spec.name)
    before = get_counters(table)
    machine = "primary-portal-01"
    lab.exec(machine, "ip", "route", "add", "default", "via", "10.213.1.1")
    try:
        assert not _ping(lab, machine, OUTSIDE_GATEWAY)
        assert not _ping(lab, machine, "192.0.2.2")  # this machine's own outside address
    finally:
        lab.exec(machine, "ip", "route", "del", "default")
    after = get_counters(table)
    assert after["lab_escape"] >= before["lab_escape"] + 2
    assert after["lab_leak"] == before["lab_leak"] == 0


def test_every_host_has_its_own_port_on_its_site_bridge(lab: Lab) -> None:
    """nspawn shortens long veth names with a hash: primary-db-01 and -02 must not collide."""
    for site in lab.spec.sites:
        bridge = make_bridge_name(lab.spec.name, site.name)
        ports = list(Path(f"/sys/class/net/{bridge}/brif").iterdir())
        assert len(ports) == len(site.hosts), (bridge, ports)


def test_packages_install_offline_from_the_lab_repository(lab: Lab) -> None:
    result = lab.exec(
        "primary-mon-01",
        "apt-get",
        "install",
        "--yes",
        "--no-install-recommends",
        "jq",
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert lab.exec("primary-mon-01", "jq", "--version").stdout.startswith("jq-")


def test_apt_uses_only_the_lab_repository(lab: Lab) -> None:
    sources = lab.exec(
        "site2-db-01", "sh", "-c", "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null"
    )
    assert sources.stdout.strip() == "deb [trusted=yes] file:/srv/lab-apt ./"
    policy = lab.exec("site2-db-01", "apt-cache", "policy", "postgresql-15", "restic").stdout
    assert "file:/srv/lab-apt ./ Packages" in policy
    assert "http" not in policy
