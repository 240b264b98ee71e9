"""Host firewalls: open only what a host's roles need, to the peers that need it.

``make_firewall_rules`` is pure: it derives the rules from roles and placements, so a test can
assert that the database port is closed to the load balancer, and the deploy only renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network

from egov.backup.walarchive import get_cluster_archives
from egov.deploys import topology
from egov.inventory import derive
from egov.inventory.model import Estate, HostRef


@dataclass(frozen=True)
class Rule:
    """Accept ``protocol``/``port`` from ``sources`` (None: from anywhere)."""

    port: int
    protocol: str
    sources: tuple[IPv4Network, ...] | None
    why: str


def _hosts(refs: list[HostRef]) -> list[IPv4Network]:
    return [IPv4Network(f"{ref.host.address}/32") for ref in refs]


def _sources(*groups: list[IPv4Network]) -> tuple[IPv4Network, ...]:
    return tuple(dict.fromkeys(network for group in groups for network in group))


def make_firewall_rules(estate: Estate, ref: HostRef) -> list[Rule]:
    """The inbound rules of one host, in a stable order."""
    control = topology.get_control_networks(estate)
    monitoring = _hosts(topology.get_hosts_with_role(estate, "monitoring"))
    everywhere = topology.get_estate_networks(estate)
    roles = set(ref.host.roles)
    rules = [
        Rule(topology.SSH_PORT, "tcp", _sources(control), "ssh from the control nodes"),
        Rule(topology.NODE_EXPORTER_PORT, "tcp", _sources(monitoring, control), "node_exporter"),
    ]
    if "lb" in roles:
        rules.append(Rule(topology.HTTP_PORT, "tcp", None, "http from users"))
        rules.append(Rule(topology.HTTPS_PORT, "tcp", None, "https from users"))
    for name, service in estate.services.items():
        entrypoint = topology.get_service_entrypoint(estate, name, ref.site)
        port = service.health_check.port
        if entrypoint == ref and not any(rule.port == port for rule in rules):
            rules.append(Rule(port, "tcp", None, f"{name} for its users"))
    if "app" in roles:
        balancers = _hosts(topology.get_hosts_with_role(estate, "lb"))
        rules.append(
            Rule(topology.APP_PORT, "tcp", _sources(balancers, monitoring, control), "app")
        )
    if roles & {"db", "db-replica"}:
        root = derive.get_replication_root(estate, ref)
        chain = [root, *derive.get_chain_replicas(estate, root)]
        clients = _hosts(topology.get_database_clients(estate, root))
        archives = _hosts([pair.archive_host for pair in get_cluster_archives(estate, root)])
        rules.append(
            Rule(
                topology.POSTGRES_PORT,
                "tcp",
                _sources(clients, _hosts(chain), archives, control),
                "postgresql from its apps, replicas, WAL archives and the control nodes",
            )
        )
        rules.append(
            Rule(
                topology.POSTGRES_EXPORTER_PORT, "tcp", _sources(monitoring, control), "pg exporter"
            )
        )
    if "storage" in roles:
        for name, port in topology.get_rest_repositories_served_by(estate, ref).items():
            rules.append(
                Rule(port, "tcp", _sources(everywhere, control), f"restic repository {name}")
            )
    if "objectstore" in roles:
        port = topology.get_object_store_port(estate, ref.site)
        rules.append(Rule(port, "tcp", _sources(everywhere, control), "s3 object store"))
    if "monitoring" in roles:
        peers = _sources(monitoring, control)
        rules += [
            Rule(topology.PROMETHEUS_PORT, "tcp", peers, "prometheus"),
            Rule(topology.ALERTMANAGER_PORT, "tcp", peers, "alertmanager"),
            Rule(topology.ALERTMANAGER_CLUSTER_PORT, "tcp", peers, "alertmanager cluster"),
            Rule(topology.ALERTMANAGER_CLUSTER_PORT, "udp", peers, "alertmanager cluster"),
            Rule(topology.EGOV_EXPORTER_PORT, "tcp", peers, "egov exporter"),
            Rule(topology.NTP_PORT, "udp", _sources(everywhere), "time for the site"),
        ]
    return rules


def render_nftables(rules: list[Rule], title: str) -> str:
    """The ``/etc/nftables.conf`` enforcing ``rules``: inbound denied unless listed."""
    lines = [
        "#!/usr/sbin/nft -f",
        f"# {title}: written by egov deploy from the inventory; local edits are overwritten.",
        "flush ruleset",
        "",
        "table inet egov {",
        "  chain input {",
        "    type filter hook input priority filter; policy drop;",
        "    ct state established,related accept",
        "    ct state invalid drop",
        '    iif "lo" accept',
        "    ip protocol icmp accept",
        "    meta l4proto ipv6-icmp accept",
    ]
    for rule in rules:
        if rule.sources == ():
            continue  # nobody needs it: an empty set is also invalid nft syntax
        match = f"{rule.protocol} dport {rule.port}"
        if rule.sources is not None:
            addresses = ", ".join(str(source) for source in rule.sources)
            match = f"ip saddr {{ {addresses} }} {match}"
        lines.append(f'    {match} accept comment "{rule.why}"')
    lines += [
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy drop;",
        "  }",
        "}",
        "",
    ]
    return "\n".join(lines)
