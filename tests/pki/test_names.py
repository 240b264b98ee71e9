"""The names a host's certificate carries come from the inventory alone."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from egov.errors import InputError
from egov.inventory.model import Estate
from egov.inventory.selectors import resolve_host
from egov.pki.names import make_host_names


def test_a_lab_host_is_named_by_its_qualified_and_short_names_and_its_address(
    lab_estate: Estate,
) -> None:
    names = make_host_names(lab_estate, resolve_host(lab_estate, "primary/db-01"))
    assert names.dns_names == ("primary-db-01", "db-01", "db-01.primary")
    assert names.addresses == (IPv4Address("10.213.1.20"),)
    assert names.common_name == "primary-db-01"
    assert names.as_strings() == ("primary-db-01", "db-01", "db-01.primary", "10.213.1.20")


def test_the_same_short_name_at_two_sites_gives_two_distinct_qualified_names(
    lab_estate: Estate,
) -> None:
    primary = make_host_names(lab_estate, resolve_host(lab_estate, "primary/db-01"))
    site2 = make_host_names(lab_estate, resolve_host(lab_estate, "site2-db-01"))
    assert site2.as_strings() == ("site2-db-01", "db-01", "db-01.site2", "10.213.3.20")
    assert primary.common_name != site2.common_name


def test_songxanh_hosts_are_named_from_their_own_inventory(songxanh_estate: Estate) -> None:
    names = make_host_names(songxanh_estate, resolve_host(songxanh_estate, "dc-north/pg-a"))
    assert names.as_strings() == ("dc-north-pg-a", "pg-a", "pg-a.dc-north", "172.20.10.3")


def test_a_host_of_another_estate_is_refused(lab_estate: Estate, songxanh_estate: Estate) -> None:
    foreign = resolve_host(songxanh_estate, "dc-north/pg-a")
    with pytest.raises(InputError, match="dc-north/pg-a is not in the estate"):
        make_host_names(lab_estate, foreign)
