"""egov/lab/spec.py: the checks a spec passes before anything is created."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest

from egov.errors import LabInputError
from egov.lab.spec import LabHost, LabSite, LabSpec, check_lab_spec, spec_from_dict, spec_to_dict
from tests.lab.topology import make_lab_spec

HOST_NETWORKS = [IPv4Network("192.0.2.0/24"), IPv4Network("127.0.0.0/8"), IPv4Network("0.0.0.0/0")]


def _with_host(spec: LabSpec, site_index: int, host: LabHost) -> LabSpec:
    sites = list(spec.sites)
    sites[site_index] = replace(sites[site_index], hosts=(*sites[site_index].hosts, host))
    return replace(spec, sites=tuple(sites))


def _problems(spec: LabSpec, host_networks: list[IPv4Network] = HOST_NETWORKS) -> str:
    with pytest.raises(LabInputError) as caught:
        check_lab_spec(spec, host_networks)
    assert caught.value.exit_code == 2
    return caught.value.message


def test_lab_topology_is_valid_and_has_14_machines() -> None:
    spec = make_lab_spec()
    check_lab_spec(spec, HOST_NETWORKS)
    assert len(spec.hosts) == 14
    assert len({h.machine for h in spec.hosts}) == 14


def test_same_host_name_in_two_sites_gives_distinct_machines() -> None:
    spec = make_lab_spec()
    assert spec.get_host("primary-db-01").address == IPv4Address("10.213.1.20")
    assert spec.get_host("site2-db-01").address == IPv4Address("10.213.3.20")


@pytest.mark.parametrize("name", ["DB-01", "db_01", "-db", "db-", "d b", "x" * 60, ""])
def test_bad_machine_names_are_refused(name: str) -> None:
    host = LabHost(site="primary", name=name, address=IPv4Address("10.213.1.99"))
    assert "not a valid host/machine name" in _problems(_with_host(make_lab_spec(), 0, host))


def test_address_outside_site_network_is_refused() -> None:
    host = LabHost(site="primary", name="x-01", address=IPv4Address("10.213.9.5"))
    assert "outside site network" in _problems(_with_host(make_lab_spec(), 0, host))


@pytest.mark.parametrize("last", [0, 1, 255])
def test_network_gateway_and_broadcast_addresses_are_refused(last: int) -> None:
    host = LabHost(site="primary", name="x-01", address=IPv4Address(f"10.213.1.{last}"))
    message = _problems(_with_host(make_lab_spec(), 0, host))
    assert "reserved for the lab" in message or "not a usable host address" in message


def test_duplicate_machine_and_address_are_refused() -> None:
    duplicate = LabHost(site="primary", name="db-01", address=IPv4Address("10.213.1.10"))
    message = _problems(_with_host(make_lab_spec(), 0, duplicate))
    assert "used twice" in message
    assert "also used by primary-lb-01" in message


def test_site_network_overlapping_this_machine_is_refused() -> None:
    spec = make_lab_spec()
    message = _problems(spec, [*HOST_NETWORKS, IPv4Network("10.213.0.0/16")])
    assert "overlaps this machine's network 10.213.0.0/16" in message


def test_default_route_does_not_count_as_overlap() -> None:
    check_lab_spec(make_lab_spec(), [IPv4Network("0.0.0.0/0")])


def test_overlapping_sites_are_refused() -> None:
    spec = make_lab_spec()
    sites = list(spec.sites)
    sites[1] = replace(sites[1], network=IPv4Network("10.213.1.128/25"), hosts=())
    assert "overlaps site 'vnpt'" in _problems(replace(spec, sites=tuple(sites)))


def test_unknown_host_and_site_raise_input_errors() -> None:
    spec = make_lab_spec()
    with pytest.raises(LabInputError, match="does not exist"):
        spec.get_host("primary-db-99")
    with pytest.raises(LabInputError, match="does not exist"):
        spec.get_site("moon")


def test_spec_round_trips_through_dict() -> None:
    spec = make_lab_spec()
    assert spec_from_dict(spec_to_dict(spec)) == spec


def test_site_gateway_is_dot_one() -> None:
    site = LabSite(name="a", network=IPv4Network("10.9.0.0/24"), hosts=())
    assert site.gateway == IPv4Address("10.9.0.1")
