"""The service path of a test failover: the recovery site's applications and load balancers
serving from the isolated database copy, on a path production cannot see.

A test's RTO is the service's own health check passing at the recovery site, so the copy must
be reached the way a user reaches the service: load balancer → application → database. The
test does not touch what production runs there: it starts a second application instance on
each app host of the site (``DRILL_APP_PORT``, on the host's address) pointed at the copy,
and a second nginx server on each of the site's balancers (``DRILL_LB_PORT``, on loopback
only), and opens the host firewalls for exactly these hops: the app hosts to the copy's port
on the database host, the balancers to the test instances. Nothing outside the site's own
hosts can reach any of it; the probe asks each balancer on its loopback over SSH. Production's
nginx is reloaded (graceful) but never started: a balancer whose nginx is down stays down and
the test fails its RTO, as the real failover would. Everything is removed by
``close-test-service``, also when the test fails.

In production the application instance is egov's canary (the same agent the app hosts run),
standing in for the province's software: it proves the path and the data, not the
province's application code.
"""

from __future__ import annotations

import json
import shlex

from egov.deploys import topology
from egov.deploys.agent import AGENT_VENV
from egov.deploys.app import CANARY_PASSWORD, CANARY_USER
from egov.drills.activity import Arguments, register
from egov.drills.context import DrillContext
from egov.errors import DrillError
from egov.hostlayout import DRILL_NGINX_SITE, DRILL_SERVICE_DIRECTORY
from egov.inventory.fields import Name, Port
from egov.inventory.model import Estate, HostRef

#: The test's application instance on each app host of the recovery site (the host's address).
DRILL_APP_PORT = 58080
#: The test's nginx server on each balancer of the recovery site (loopback only).
DRILL_LB_PORT = 58081
DRILL_CANARY_UNIT = "egov-drill-canary"
#: Every firewall rule a test adds carries this comment: the cleanup removes exactly these.
FIREWALL_COMMENT = "egov-drill-test"
CHECK_TIMEOUT_SECONDS = 5


class TestServiceArguments(Arguments):
    site: Name
    port: Port = 55432  # the isolated copy's port (create-test-database's)
    host: Name | None = None  # the copy's host at ``site`` (default: its database host)


def get_app_hosts(estate: Estate, site: str, services: list[str]) -> list[HostRef]:
    """The app hosts at ``site`` running any of ``services``, in inventory order."""
    backends = topology.get_service_backends(estate, site)
    refs = [ref for name in services for ref in backends.get(name, [])]
    return list({ref.selector: ref for ref in refs}.values())


def get_balancer(estate: Estate, service: str, site: str) -> HostRef:
    """The balancer users reach ``service`` through at ``site``; DrillError when none."""
    ref = topology.get_service_entrypoint(estate, service, site)
    if ref is None or "lb" not in ref.host.roles:
        raise DrillError(
            f"service {service} has no load balancer at site {site}",
            "a test recovers the service path: place the service behind an lb host there",
        )
    return ref


def make_open_port_script(port: int, sources: list[str]) -> str:
    """Shell: accept ``port`` from ``sources`` in the host firewall egov deploys, marked so
    the cleanup finds the rule; nothing where the host has no egov firewall."""
    addresses = ", ".join(sources)
    rule = f'ip saddr {{ {addresses} }} tcp dport {port} accept comment "{FIREWALL_COMMENT}"'
    return (
        "if nft list chain inet egov input >/dev/null 2>&1; then "
        f"nft add rule inet egov input {rule}; fi"
    )


def make_close_ports_script() -> str:
    """Shell: remove every firewall rule a test added (by its comment), and only those."""
    return (
        "nft -a list chain inet egov input 2>/dev/null | "
        f"sed -n 's/.*comment \"{FIREWALL_COMMENT}\".*# handle \\([0-9]*\\)$/\\1/p' | "
        'while read -r handle; do nft delete rule inet egov input handle "$handle"; done; true'
    )


def make_test_canary_config(
    estate: Estate, ref: HostRef, services: list[str], database: HostRef, port: int
) -> dict[str, object]:
    """The test instance's configuration on app host ``ref``: each of ``services`` placed
    there, its database on the isolated copy (``database``'s address, ``port``)."""
    placed = {}
    for name in services:
        placement = estate.services[name].sites.get(ref.site)
        databases = estate.services[name].data.databases
        if placement is None or ref.name not in placement.hosts or not databases:
            continue
        placed[name] = {
            "host": str(database.host.address),
            "port": port,
            "database": databases[0].name,
            "user": name,
            "password_file": CANARY_PASSWORD,
        }
    return {
        "listen_address": str(ref.host.address),
        "port": DRILL_APP_PORT,
        "site": ref.site,
        "services": placed,
    }


def make_test_nginx_site(backends: dict[str, list[HostRef]]) -> str:
    """The balancer's test server: loopback only, each service to its test instances."""
    lines = ["# Written by an egov test failover; removed by its cleanup."]
    for name, refs in backends.items():
        lines.append(f"upstream egov_drill_{name.replace('-', '_')} {{")
        lines += [f"    server {ref.host.address}:{DRILL_APP_PORT};" for ref in refs]
        lines.append("}")
    lines += ["server {", f"    listen 127.0.0.1:{DRILL_LB_PORT};"]
    for name in backends:
        lines += [
            f"    location /{name}/ {{",
            f"        proxy_pass http://egov_drill_{name.replace('-', '_')};",
            "        proxy_connect_timeout 2s;",
            "        proxy_read_timeout 10s;",
            "    }",
        ]
    lines += ["}", ""]
    return "\n".join(lines)


#: Run on a balancer (``python3 - BASE SERVICE SINCE``): its health check through the test
#: server, then the records from SINCE on; one JSON line. Only the standard library.
CHECK_PROGRAM = """
import json, sys, urllib.error, urllib.request
base, service, since = sys.argv[1:4]
def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=TIMEOUT) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError as error:
        return None, str(error)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, None
health, _ = get("/" + service + "/health")
records = None
if health == 200:
    status, body = get("/" + service + "/records?since=" + since)
    if status == 200 and isinstance(body, dict):
        records = body.get("seqs")
print(json.dumps({"health": health, "records": records}))
""".replace("TIMEOUT", str(CHECK_TIMEOUT_SECONDS))


def parse_service_check(output: str) -> tuple[bool, frozenset[int] | None]:
    """``CHECK_PROGRAM``'s answer: whether the health check passed, and the records read
    through the service (None: not read)."""
    lines = output.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return False, None
    if not isinstance(answer, dict):
        return False, None
    records = answer.get("records")
    healthy = answer.get("health") == 200
    if not isinstance(records, list):
        return healthy, None
    return healthy, frozenset(seq for seq in records if isinstance(seq, int))


@register("action", "open-test-service", TestServiceArguments)
def open_test_service(context: DrillContext, arguments: TestServiceArguments) -> str:
    """Serve every drilled service at the site from the isolated copy, on the test's path."""
    estate, site = context.estate, arguments.site
    database = context.get_copy_host(site, arguments.host)
    apps = get_app_hosts(estate, site, context.services)
    if not apps:
        raise DrillError(f"no app host at site {site} runs {', '.join(context.services)}")
    context.remote.run(
        database,
        make_open_port_script(arguments.port, [str(ref.host.address) for ref in apps]),
    )
    balancers = {name: get_balancer(estate, name, site) for name in context.services}
    for ref in apps:
        config = make_test_canary_config(estate, ref, context.services, database, arguments.port)
        context.remote.run(
            ref,
            "\n".join(
                [
                    "set -e",
                    f"systemctl stop {DRILL_CANARY_UNIT} 2>/dev/null || true",
                    f"systemctl reset-failed {DRILL_CANARY_UNIT} 2>/dev/null || true",
                    f"install -d -m 755 {DRILL_SERVICE_DIRECTORY}",
                    f"cat > {DRILL_SERVICE_DIRECTORY}/canary.json",
                    make_open_port_script(
                        DRILL_APP_PORT,
                        sorted({str(b.host.address) for b in balancers.values()}),
                    ),
                    f"systemd-run --unit={DRILL_CANARY_UNIT} --property=User={CANARY_USER} "
                    f"--property=Group={CANARY_USER} {AGENT_VENV}/bin/egov agent canary "
                    f"--config {DRILL_SERVICE_DIRECTORY}/canary.json",
                ]
            ),
            input_text=json.dumps(config, indent=2, sort_keys=True) + "\n",
        )
    backends = {
        name: refs
        for name, refs in topology.get_service_backends(estate, site).items()
        if name in context.services
    }
    site_text = make_test_nginx_site(backends)
    for ref in {b.selector: b for b in balancers.values()}.values():
        # never started here: a balancer that is down stays down, and the test fails its RTO
        context.remote.run(
            ref,
            f"cat > {DRILL_NGINX_SITE} && if systemctl is-active -q nginx; then "
            "nginx -t -q && systemctl reload nginx; fi",
            input_text=site_text,
        )
    return (
        f"{', '.join(context.services)} served at {site} from the isolated copy: "
        f"{len(apps)} app instances on :{DRILL_APP_PORT}, balancers on 127.0.0.1:{DRILL_LB_PORT}"
    )


@register("action", "close-test-service", TestServiceArguments)
def close_test_service(context: DrillContext, arguments: TestServiceArguments) -> str:
    """Remove the test's service path: instances, nginx server, firewall openings."""
    estate, site = context.estate, arguments.site
    balancers = {
        ref.selector: ref
        for name in context.services
        if (ref := topology.get_service_entrypoint(estate, name, site)) is not None
        and "lb" in ref.host.roles
    }
    for ref in balancers.values():
        context.remote.run(
            ref,
            f"if [ -e {DRILL_NGINX_SITE} ]; then rm -f {DRILL_NGINX_SITE}; "
            "if systemctl is-active -q nginx; then systemctl reload nginx; fi; fi",
        )
    for ref in get_app_hosts(estate, site, context.services):
        context.remote.run(
            ref,
            f"systemctl stop {DRILL_CANARY_UNIT} 2>/dev/null || true; "
            f"systemctl reset-failed {DRILL_CANARY_UNIT} 2>/dev/null || true; "
            f"rm -rf {DRILL_SERVICE_DIRECTORY}; " + make_close_ports_script(),
        )
    context.remote.run(context.get_copy_host(site, arguments.host), make_close_ports_script())
    return f"the test's service path at {site} removed"


@register("probe", "test-service-healthy", TestServiceArguments)
def is_test_service_healthy(context: DrillContext, arguments: TestServiceArguments) -> bool:
    """Whether every drilled service answers its health check through the site's balancer
    from the isolated copy; the first time it does is its RTO, the records read through it
    its measure of data lost."""
    healthy = True
    for service in context.services:
        if service in context.recovered:
            continue
        ref = get_balancer(context.estate, service, arguments.site)
        argv = " ".join(
            shlex.quote(part)
            for part in (
                f"http://127.0.0.1:{DRILL_LB_PORT}",
                service,
                str(context.get_first_record(service)),
            )
        )
        try:
            output = context.remote.run(
                ref, f"python3 - {argv}", input_text=CHECK_PROGRAM, timeout_seconds=30
            )
        except DrillError as error:
            context.progress(f"{service}: {error}")
            healthy = False
            continue
        answered, records = parse_service_check(output)
        if not answered or records is None:
            healthy = False
            continue
        now = context.clock()
        where = f"through {ref.selector}'s balancer, from the isolated copy"
        context.record_rto(service, arguments.site, now, where)
        context.record_rpo(service, records, where)
    return healthy
