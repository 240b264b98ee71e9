"""egov/lab/network.py: names, container network files, shaping argvs, host networks."""

from __future__ import annotations

import json
from ipaddress import IPv4Network

from egov.lab.network import (
    build_hosts_file,
    build_network_file,
    build_shaping_argvs,
    make_bridge_name,
    make_ifb_name,
    parse_host_networks,
)
from tests.lab.topology import make_lab_spec


def test_bridge_names_fit_ifnamsiz_and_are_distinct_and_stable() -> None:
    spec = make_lab_spec()
    names = [make_bridge_name(spec.name, s.name) for s in spec.sites]
    assert all(len(n) <= 15 and n.startswith("egv-") for n in names)
    assert len(set(names)) == len(names)
    assert names == [make_bridge_name(spec.name, s.name) for s in spec.sites]
    assert make_bridge_name("other-estate", "primary") != make_bridge_name(spec.name, "primary")


def test_long_site_names_are_shortened_with_a_hash() -> None:
    first = make_bridge_name("e", "a-very-long-site-name-one")
    second = make_bridge_name("e", "a-very-long-site-name-two")
    assert len(first) <= 15 and len(second) <= 15 and first != second


def test_ifb_names_differ_from_bridge_names() -> None:
    assert make_ifb_name("e", "site2").startswith("egi-")
    assert make_ifb_name("e", "site2")[4:] == make_bridge_name("e", "site2")[4:]


def test_network_file_has_static_address_and_routes_but_no_default_route() -> None:
    spec = make_lab_spec()
    text = build_network_file(spec, spec.get_host("site2-db-01"))
    assert "Name=host0" in text
    assert "Address=10.213.3.20/24" in text
    assert "Destination=10.213.1.0/24" in text and "Destination=10.213.2.0/24" in text
    assert "Destination=10.213.3.0/24" not in text
    assert text.count("Gateway=10.213.3.1") == 2
    assert "0.0.0.0" not in text and "DNS" not in text and "DHCP" not in text


def test_hosts_file_names_every_machine() -> None:
    spec = make_lab_spec()
    text = build_hosts_file(spec)
    assert "10.213.1.20\tprimary-db-01 db-01.primary" in text
    assert "10.213.3.20\tsite2-db-01 db-01.site2" in text


def test_shaping_uses_tbf_both_ways_never_netem() -> None:
    argvs = build_shaping_argvs("egv-site2-fb17", "egi-site2-fb17", 8000)
    flat = [" ".join(a) for a in argvs]
    assert any(
        f.startswith("tc qdisc replace dev egv-site2-fb17 root tbf rate 8000kbit") for f in flat
    )
    assert any("dev egi-site2-fb17 root tbf" in f for f in flat)
    assert any("mirred egress redirect dev egi-site2-fb17" in f for f in flat)
    assert not any("netem" in f for f in flat)


def test_host_networks_skip_default_route_and_excluded_links() -> None:
    addresses = json.dumps(
        [
            {
                "ifname": "lo",
                "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}],
            },
            {
                "ifname": "eth0",
                "addr_info": [{"family": "inet", "local": "192.0.2.2", "prefixlen": 24}],
            },
            {
                "ifname": "egv-x",
                "addr_info": [{"family": "inet", "local": "10.213.1.1", "prefixlen": 24}],
            },
        ]
    )
    routes = json.dumps(
        [
            {"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"},
            {"dst": "198.51.100.0/24", "dev": "eth0"},
            {"dst": "10.213.1.0/24", "dev": "egv-x"},
        ]
    )
    assert parse_host_networks(addresses, routes, exclude=["egv-x"]) == [
        IPv4Network("127.0.0.0/8"),
        IPv4Network("192.0.2.0/24"),
        IPv4Network("198.51.100.0/24"),
    ]
