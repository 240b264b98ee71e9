"""The pure parts of the roles: what each deploy would write, from the inventory alone."""

from __future__ import annotations

import json
from pathlib import Path

from egov.deploys.app import make_canary_config
from egov.deploys.base import make_chrony_conf, make_sudoers
from egov.deploys.context import DeployContext
from egov.deploys.database import (
    make_client_rules,
    make_clone_commands,
    make_replication_peers,
    make_roles_sql,
    make_slot_name,
)
from egov.deploys.loadbalancer import make_certificate_command, make_nginx_site
from egov.deploys.render import render
from egov.inventory.derive import get_site_database
from egov.inventory.model import Estate
from tests.deploys.conftest import host


def context(estate: Estate, selector: str) -> DeployContext:
    return DeployContext(estate=estate, ref=host(estate, selector), wheelhouse=Path("/w.tar"))


def test_hosts_file_names_every_host(lab: Estate) -> None:
    text = render("base/hosts.j2", estate=lab, ref=host(lab, "site2/db-01"))
    assert "127.0.1.1\tsite2-db-01 db-01" in text
    assert "10.213.1.20\tprimary-db-01\n" in text  # another site's db-01 is not "db-01" here
    assert "10.213.3.30\tsite2-store-01 store-01" in text


def test_time_comes_from_the_site_monitoring_host(lab: Estate) -> None:
    assert "server 10.213.1.40 iburst" in make_chrony_conf(context(lab, "primary/db-01"))
    assert "server 10.213.3.40 iburst" in make_chrony_conf(context(lab, "site2/db-01"))
    primary_mon = make_chrony_conf(context(lab, "primary/mon-01"))
    assert "local stratum 8" in primary_mon and "server" not in primary_mon.split("local")[0]
    assert "allow 10.213.2.0/24" in primary_mon
    # site 2's time server follows the primary's, and serves alone if the primary is lost
    site2_mon = make_chrony_conf(context(lab, "site2/mon-01"))
    assert "server 10.213.1.40 iburst" in site2_mon and "local stratum 8" in site2_mon
    # the offsite site has no monitoring host: it follows the primary's
    assert "server 10.213.1.40 iburst" in make_chrony_conf(context(lab, "vnpt/s3-01"))


def test_time_never_comes_from_outside(lab: Estate, songxanh: Estate) -> None:
    for estate in (lab, songxanh):
        for ref in estate.iter_hosts():
            text = make_chrony_conf(DeployContext(estate, ref, None))
            assert "pool" not in text and "debian" not in text


def test_sudoers_for_the_inventory_admins(lab: Estate) -> None:
    assert "labadmin ALL=(ALL:ALL) NOPASSWD: ALL" in make_sudoers(context(lab, "vnpt/s3-01"))


def test_sshd_refuses_passwords() -> None:
    text = render("base/sshd.conf.j2")
    assert "PasswordAuthentication no" in text and "AuthenticationMethods publickey" in text


def test_pg_hba_lets_each_service_reach_its_own_database(lab: Estate) -> None:
    rules = make_client_rules(lab, host(lab, "primary/db-01"))
    assert {(r.database, r.role, r.address) for r in rules} >= {
        ("portal", "portal", "10.213.1.11"),
        ("portal", "portal", "10.213.3.10"),
        ("motcua", "motcua", "10.213.1.14"),
    }
    assert not any(r.database == "portal" and r.address == "10.213.1.13" for r in rules)
    # the replica carries the same rules, ready for a promotion
    assert make_client_rules(lab, host(lab, "site2/db-01")) == rules


def test_replication_peers_are_the_other_chain_members(lab: Estate) -> None:
    assert make_replication_peers(lab, host(lab, "primary/db-01")) == ["10.213.1.21", "10.213.3.20"]
    assert "10.213.1.20" in make_replication_peers(lab, host(lab, "site2/db-01"))


def test_roles_sql_is_idempotent_and_creates_slots(lab: Estate) -> None:
    sql = make_roles_sql(lab, host(lab, "primary/db-01"), "r'pw", "app-pw")
    assert "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'replicator')" in sql
    assert "PASSWORD 'r''pw'" in sql  # quotes are doubled
    assert "CREATE DATABASE portal OWNER portal" in sql
    assert "pg_create_physical_replication_slot('egov_site2_db_01')" in sql
    assert "pg_create_physical_replication_slot('egov_primary_db_02')" in sql
    assert make_slot_name(host(lab, "site2/db-01")) == "egov_site2_db_01"


def test_clone_swaps_in_the_copy_only_when_complete() -> None:
    commands = make_clone_commands("/var/lib/postgresql/15/main", "pg.service", "10.0.0.1", "s")
    clone = next(i for i, c in enumerate(commands) if "pg_basebackup" in c)
    swap = next(i for i, c in enumerate(commands) if "mv /var/lib/postgresql/15/main " in c)
    assert clone < swap
    assert "--slot=s" in commands[clone] and "--no-password" in commands[clone]


def test_nginx_site_has_one_upstream_per_service(lab: Estate) -> None:
    site = make_nginx_site(context(lab, "primary/lb-01"))
    assert "upstream egov_portal {" in site and "server 10.213.1.12:8080" in site
    assert "location /motcua/" in site and "ssl_certificate /etc/egov/tls/egov.crt" in site
    site2 = make_nginx_site(context(lab, "site2/app-01"))
    assert "server 10.213.3.10:8080" in site2 and "10.213.1." not in site2


def test_self_signed_certificate_names_the_host(lab: Estate) -> None:
    command = make_certificate_command(context(lab, "site2/app-01"))
    assert "IP:10.213.3.10" in command and "umask 077" in command


def test_canary_talks_to_its_own_sites_database(lab: Estate) -> None:
    primary = make_canary_config(context(lab, "primary/portal-01"))
    assert primary["services"] == {
        "portal": {
            "host": "10.213.1.20,10.213.1.21",  # db-01, then its local replica db-02
            "port": 5432,
            "database": "portal",
            "user": "portal",
            "password_file": "/etc/egov/secrets/canary-db",
        }
    }
    site2 = make_canary_config(context(lab, "site2/app-01"))
    services = site2["services"]
    assert isinstance(services, dict) and set(services) == {"portal", "motcua"}
    assert services["motcua"]["host"] == "10.213.3.20"
    assert "password" not in json.dumps(site2).replace("password_file", "")


def test_site_database_follows_the_chain(lab: Estate, songxanh: Estate) -> None:
    found = get_site_database(lab, "db-01", "site2")
    assert found is not None and found.selector == "site2/db-01"
    assert get_site_database(lab, "db-01", "vnpt") is None
    south = get_site_database(songxanh, "pg-a", "dc-south")
    assert south is not None and south.selector == "dc-south/pg-b"
