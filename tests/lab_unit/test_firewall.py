"""egov/lab/firewall.py: the nftables script builders and the counter parser."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network

from egov.lab.firewall import (
    SiteLink,
    build_cut_links_script,
    build_ruleset,
    make_table_name,
    parse_counters,
)

LINKS = [
    SiteLink("egv-primar-7914", IPv4Network("10.213.1.0/24"), IPv4Address("10.213.1.1")),
    SiteLink("egv-site2-fb17", IPv4Network("10.213.3.0/24"), IPv4Address("10.213.3.1")),
]


def test_table_name_is_per_estate() -> None:
    assert make_table_name("camau-lab") == "egov_lab_camau_lab"


def test_ruleset_recreates_only_its_own_table() -> None:
    text = build_ruleset("egov_lab_x", LINKS)
    assert text.startswith("table inet egov_lab_x { }\ndelete table inet egov_lab_x\n")
    assert "flush ruleset" not in text
    assert text.count("table inet") == 3


def test_forward_accepts_lab_to_lab_and_drops_the_rest_from_the_lab() -> None:
    text = build_ruleset("egov_lab_x", LINKS)
    bridges = '{ "egv-primar-7914", "egv-site2-fb17" }'
    assert f"iifname {bridges} oifname {bridges} accept" in text
    assert f"iifname {bridges} counter name lab_escape drop" in text
    assert f"oifname {bridges} counter name lab_intrude drop" in text
    assert "policy accept" in text and "policy drop" not in text


def test_postrouting_drops_lab_sources_leaving_by_other_interfaces() -> None:
    text = build_ruleset("egov_lab_x", LINKS)
    assert (
        'oifname != { "egv-primar-7914", "egv-site2-fb17", "lo" } '
        "ip saddr { 10.213.1.0/24, 10.213.3.0/24 } counter name lab_leak drop"
    ) in text


def test_input_accepts_only_lab_gateways_from_the_lab() -> None:
    text = build_ruleset("egov_lab_x", LINKS)
    assert "ip daddr { 10.213.1.1, 10.213.3.1 } accept" in text


def test_cut_script_keeps_same_site_traffic() -> None:
    script = build_cut_links_script("egov_lab_x", ["egv-site2-fb17"])
    assert script.splitlines() == [
        "flush chain inet egov_lab_x cut_links",
        'add rule inet egov_lab_x cut_links iifname "egv-site2-fb17" oifname != "egv-site2-fb17" '
        "counter name lab_cut drop",
        'add rule inet egov_lab_x cut_links oifname "egv-site2-fb17" iifname != "egv-site2-fb17" '
        "counter name lab_cut drop",
    ]


def test_restoring_every_link_empties_the_cut_chain() -> None:
    assert build_cut_links_script("t", []) == "flush chain inet t cut_links\n"


def test_counters_are_parsed_from_nft_json() -> None:
    listing = {
        "nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"counter": {"family": "inet", "name": "lab_escape", "packets": 3, "bytes": 252}},
            {"counter": {"family": "inet", "name": "lab_leak", "packets": 0, "bytes": 0}},
        ]
    }
    assert parse_counters(json.dumps(listing)) == {"lab_escape": 3, "lab_leak": 0}
