"""The inventory as a pyinfra Inventory: groups, host data, strict host keys, placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.errors import InputError
from egov.inventory import load_estate
from egov.inventory.pyinfra_bridge import make_group_name, make_pyinfra_inventory

ROOT = Path(__file__).resolve().parents[2]


def test_groups_per_site_role_and_service() -> None:
    estate = load_estate(ROOT / "inventory" / "lab.yaml").estate
    inventory = make_pyinfra_inventory(estate)
    assert len(inventory) == 14

    def members(group: str) -> set[str]:
        return {host.name for host in inventory.get_group(group)}

    assert members("site_vnpt") == {"vnpt-s3-01"}
    assert members("role_db_replica") == {"primary-db-02", "site2-db-01"}
    assert members("service_portal") == {
        "primary-portal-01",
        "primary-portal-02",
        "primary-lb-01",
        "site2-app-01",
    }
    assert make_group_name("role", "db-replica") == "role_db_replica"


def test_host_data_carries_ssh_settings_with_strict_host_keys() -> None:
    estate = load_estate(ROOT / "tests" / "inventory" / "data" / "songxanh.yaml").estate
    inventory = make_pyinfra_inventory(estate)
    replica = inventory.get_host("dc-south-pg-b")
    assert replica.data.ssh_hostname == "172.20.20.3"
    assert replica.data.ssh_port == 22  # the host's own port wins over the estate's 2222
    assert replica.data.ssh_user == "deploy"
    assert replica.data.ssh_strict_host_key_checking == "yes"
    assert replica.data.ssh_known_hosts_file == "/etc/egov/known_hosts"
    assert replica.data.ssh_key == "/etc/egov/secrets/deploy"
    assert replica.data.egov_roles == ("db-replica",)
    assert replica.data.egov_upstream == "dc-north/pg-a"
    assert inventory.get_host("dc-north-gw").data.ssh_port == 2222


def test_placeholder_addresses_are_refused_before_any_connection() -> None:
    estate = load_estate(ROOT / "inventory" / "camau.yaml").estate
    with pytest.raises(InputError, match="placeholder addresses") as caught:
        make_pyinfra_inventory(estate)
    assert caught.value.exit_code == 2
    assert "primary/db-01 (192.0.2.20)" in caught.value.message
