"""The lab's nftables table: lab traffic stays between lab bridges, and cut links drop there.

One table per estate (``inet egov_lab_<estate>``), created whole at ``up`` and deleted whole at
``down``; nothing else of the host's ruleset is touched. Its chains run before the usual filter
priority and only ever match lab bridges or lab source addresses, so other traffic of the host is
not affected.

- forward: lab bridge → lab bridge is accepted; anything else from a lab bridge is dropped and
  counted (``lab_escape``); anything from elsewhere into a lab bridge is dropped (``lab_intrude``).
- input: from a lab bridge the host accepts only its own lab addresses and replies.
- postrouting: a packet with a lab source address leaving by any interface but a lab bridge or
  loopback is dropped and counted (``lab_leak``): the proof that nothing leaves the lab.
- cut_links (jumped to from forward, input and output): one pair of rules per cut site. A cut
  site is isolated like a site whose WAN link is down: no other site *and not the host* reach it
  (SSH from the host fails too); hosts within the site still talk to each other (bridged traffic
  has the same bridge in and out), and ``lab exec`` still works because it enters the container
  with nsenter, not over the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from egov import execute

TABLE_PREFIX = "egov_lab_"
COUNTERS: tuple[str, ...] = ("lab_escape", "lab_intrude", "lab_leak", "lab_cut")
#: Before the usual ``filter`` priority (0) so a host firewall accepting first does not bypass us.
CHAIN_PRIORITY = "filter - 10"


@dataclass(frozen=True)
class SiteLink:
    """What the firewall needs of a site: its bridge, network and host-side address."""

    bridge: str
    network: IPv4Network
    gateway: IPv4Address


def make_table_name(estate: str) -> str:
    """Return the estate's nftables table name: ``egov_lab_camau_lab``."""
    return TABLE_PREFIX + estate.replace("-", "_")


def _set(items: Iterable[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def build_ruleset(table: str, links: Sequence[SiteLink]) -> str:
    """Return an ``nft -f`` script that (re)creates the whole table for ``links``.

    The script first declares then deletes the table so that it works whether or not the table
    exists, all in one transaction.
    """
    bridges = _set(f'"{link.bridge}"' for link in links)
    gateways = _set(str(link.gateway) for link in links)
    networks = _set(str(link.network) for link in links)
    outside = _set([*(f'"{link.bridge}"' for link in links), '"lo"'])
    hook = f"priority {CHAIN_PRIORITY}; policy accept;"
    counters = "\n".join(f"\tcounter {name} {{ }}" for name in COUNTERS)
    return f"""\
table inet {table} {{ }}
delete table inet {table}
table inet {table} {{
{counters}
\tchain cut_links {{
\t}}
\tchain forward {{
\t\ttype filter hook forward {hook}
\t\tjump cut_links
\t\tiifname {bridges} oifname {bridges} accept
\t\tiifname {bridges} counter name lab_escape drop
\t\toifname {bridges} counter name lab_intrude drop
\t}}
\tchain input {{
\t\ttype filter hook input {hook}
\t\tjump cut_links
\t\tiifname {bridges} ct state established,related accept
\t\tiifname {bridges} ip daddr {gateways} accept
\t\tiifname {bridges} counter name lab_escape drop
\t}}
\tchain output {{
\t\ttype filter hook output {hook}
\t\tjump cut_links
\t}}
\tchain postrouting {{
\t\ttype filter hook postrouting {hook}
\t\toifname != {outside} ip saddr {networks} counter name lab_leak drop
\t}}
}}
"""


def build_cut_links_script(table: str, cut_bridges: Sequence[str]) -> str:
    """Return an ``nft -f`` script that sets the cut_links chain to cut exactly ``cut_bridges``.

    Flushing the chain keeps the table's counters (deleting the table would reset them).
    """
    lines = [f"flush chain inet {table} cut_links"]
    for bridge in cut_bridges:
        lines.append(
            f'add rule inet {table} cut_links iifname "{bridge}" oifname != "{bridge}" '
            "counter name lab_cut drop"
        )
        lines.append(
            f'add rule inet {table} cut_links oifname "{bridge}" iifname != "{bridge}" '
            "counter name lab_cut drop"
        )
    return "\n".join(lines) + "\n"


def parse_counters(listing_json: str) -> dict[str, int]:
    """Return packets per named counter from ``nft -j list counters table …`` output."""
    counters: dict[str, int] = {}
    for item in json.loads(listing_json).get("nftables", []):
        counter = item.get("counter")
        if isinstance(counter, dict):
            counters[str(counter["name"])] = int(counter.get("packets", 0))
    return counters


def run_apply(script: str) -> None:
    """Apply an ``nft -f`` script atomically."""
    execute.run_command(("nft", "-f", "-"), input_text=script)


def table_exists(table: str) -> bool:
    """Return whether the estate's table is loaded."""
    return execute.run_command(("nft", "list", "table", "inet", table), check=False).returncode == 0


def run_delete_table(table: str) -> None:
    """Delete the estate's table if it is loaded; the rest of the ruleset is untouched."""
    if table_exists(table):
        execute.run_command(("nft", "delete", "table", "inet", table))


def get_counters(table: str) -> dict[str, int]:
    """Return the packet count of each lab counter (empty when the table is not loaded)."""
    result = execute.run_command(
        ("nft", "-j", "list", "counters", "table", "inet", table), check=False
    )
    if result.returncode != 0:
        return {}
    return parse_counters(result.stdout)
