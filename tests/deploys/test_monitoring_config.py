"""The monitoring configurations derived from the inventory, checked by Prometheus's own tools.

Pure tests against the lab and a fictional province; real-tool tests (promtool, amtool, the
blackbox exporter, a live probe on loopback) run where the Debian packages are installed.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from egov.deploys import monitoring, topology
from egov.deploys.firewall import make_firewall_rules
from egov.inventory.model import Environment, Estate, SiteStatus
from egov.monitoring import prometheus_config as config
from tests.deploys.conftest import host
from tests.deploys.support import get_free_port, get_site_role_calls, plan_deploy, wait_for_port


def job(configuration: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in configuration["scrape_configs"] if item["job_name"] == name)


def targets(scrape: dict[str, Any]) -> list[str]:
    return [target for group in scrape["static_configs"] for target in group["targets"]]


def labels_of(scrape: dict[str, Any]) -> list[dict[str, str]]:
    return [group["labels"] for group in scrape["static_configs"]]


@pytest.fixture(params=["lab_with_secrets", "songxanh"], ids=["lab", "songxanh"])
def estate(request: pytest.FixtureRequest) -> Estate:
    value: Estate = request.getfixturevalue(request.param)
    return value


def monitoring_hosts(estate: Estate) -> list[str]:
    return [ref.selector for ref in config.get_monitoring_hosts(estate)]


def test_monitoring_hosts_are_those_with_the_role(lab: Estate, songxanh: Estate) -> None:
    assert monitoring_hosts(lab) == ["primary/mon-01", "site2/mon-01"]
    assert monitoring_hosts(songxanh) == ["dc-north/nas", "dc-south/nas-b"]


def prometheus_yaml(estate: Estate, selector: str) -> dict[str, Any]:
    return config.build_prometheus_config(estate, host(estate, selector))


def test_node_exporter_is_scraped_on_every_host_of_every_site(estate: Estate) -> None:
    scrape = job(prometheus_yaml(estate, monitoring_hosts(estate)[0]), "node")
    expected = [f"{ref.host.address}:{topology.NODE_EXPORTER_PORT}" for ref in estate.iter_hosts()]
    assert targets(scrape) == expected


def test_postgres_exporter_is_scraped_on_database_hosts_only(lab: Estate, songxanh: Estate) -> None:
    assert targets(job(prometheus_yaml(lab, "primary/mon-01"), "postgres")) == [
        "10.213.1.20:9187",
        "10.213.1.21:9187",
        "10.213.3.20:9187",
    ]
    assert targets(job(prometheus_yaml(songxanh, "dc-north/nas"), "postgres")) == [
        "172.20.10.3:9187",
        "172.20.20.3:9187",
    ]


def test_every_target_says_its_site_and_host(estate: Estate) -> None:
    configuration = prometheus_yaml(estate, monitoring_hosts(estate)[0])
    qualified = {ref.qualified_name: ref.site for ref in estate.iter_hosts()}
    for scrape in configuration["scrape_configs"]:
        for labels in labels_of(scrape):
            assert qualified[labels["host"]] == labels["site"]


def test_roles_label_lists_the_inventory_roles(songxanh: Estate) -> None:
    labels = labels_of(job(prometheus_yaml(songxanh, "dc-north/nas"), "node"))
    assert {"site": "dc-north", "host": "dc-north-gw", "roles": "lb,app"} in labels


def test_every_site_probes_every_service_at_every_entrypoint(lab: Estate) -> None:
    configuration = prometheus_yaml(lab, "site2/mon-01")
    portal = job(configuration, "probe-portal")
    assert targets(portal) == [
        "http://10.213.1.10:80/portal/health",
        "http://10.213.3.10:80/portal/health",
    ]
    assert [labels["__param_module"] for labels in labels_of(portal)] == ["http_2xx"] * 2
    assert [labels["site"] for labels in labels_of(portal)] == ["primary", "site2"]
    assert {labels["service"] for labels in labels_of(portal)} == {"portal"}
    assert {"source_labels": ["__param_target"], "target_label": "instance"} in portal[
        "relabel_configs"
    ]
    assert portal["relabel_configs"][-1]["replacement"] == "127.0.0.1:9115"


def test_tcp_health_checks_use_tcp_connect(songxanh: Estate) -> None:
    probe = job(prometheus_yaml(songxanh, "dc-south/nas-b"), "probe-hoso")
    assert targets(probe) == ["172.20.10.2:8443", "172.20.20.2:8443"]
    assert {labels["__param_module"] for labels in labels_of(probe)} == {"tcp_connect"}


def test_monitoring_hosts_differ_only_in_their_own_identity(estate: Estate) -> None:
    first, second = (prometheus_yaml(estate, selector) for selector in monitoring_hosts(estate))
    assert first["global"]["external_labels"] == {
        "estate": estate.name,
        "prometheus_site": host(estate, monitoring_hosts(estate)[0]).site,
    }
    assert (
        first["global"]["external_labels"]["prometheus_site"]
        != (second["global"]["external_labels"]["prometheus_site"])
    )
    for configuration in (first, second):
        del configuration["global"]["external_labels"]
        job(configuration, "blackbox")["static_configs"] = []
    assert first == second


def test_alerts_go_to_every_alertmanager_and_rules_load_from_the_directory(lab: Estate) -> None:
    configuration = prometheus_yaml(lab, "primary/mon-01")
    alertmanagers = configuration["alerting"]["alertmanagers"][0]["static_configs"][0]
    assert alertmanagers["targets"] == ["10.213.1.40:9093", "10.213.3.40:9093"]
    assert configuration["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_monitoring_scrapes_its_peers_and_own_blackbox(lab: Estate) -> None:
    configuration = prometheus_yaml(lab, "site2/mon-01")
    for name, port in (("prometheus", 9090), ("alertmanager", 9093)):
        assert targets(job(configuration, name)) == [f"10.213.1.40:{port}", f"10.213.3.40:{port}"]
    blackbox = job(configuration, "blackbox")
    assert targets(blackbox) == ["127.0.0.1:9115"]
    assert labels_of(blackbox)[0]["host"] == "site2-mon-01"


def test_planned_sites_are_not_scraped(lab: Estate) -> None:
    sites = dict(lab.sites)
    sites["site2"] = sites["site2"].model_copy(update={"status": SiteStatus.PLANNED})
    estate = lab.model_copy(update={"sites": sites})
    configuration = prometheus_yaml(estate, "primary/mon-01")
    everything = [
        target for scrape in configuration["scrape_configs"] for target in targets(scrape)
    ]
    assert not [target for target in everything if "10.213.3." in target]


def test_probe_timeout_is_the_services_capped_at_the_interval(lab: Estate) -> None:
    assert job(prometheus_yaml(lab, "primary/mon-01"), "probe-portal")["scrape_timeout"] == "5s"
    service = lab.services["portal"]
    slow = service.model_copy(
        update={
            "health_check": service.health_check.model_copy(
                update={"timeout": timedelta(minutes=2)}
            )
        }
    )
    estate = lab.model_copy(update={"services": {**lab.services, "portal": slow}})
    assert job(prometheus_yaml(estate, "primary/mon-01"), "probe-portal")["scrape_timeout"] == "15s"


def test_other_expected_statuses_get_their_own_module(lab: Estate) -> None:
    service = lab.services["motcua"]
    redirect = service.model_copy(
        update={"health_check": service.health_check.model_copy(update={"expect_status": 302})}
    )
    estate = lab.model_copy(update={"services": {**lab.services, "motcua": redirect}})
    modules = config.build_blackbox_config(estate)["modules"]
    assert set(modules) == {"http_2xx", "tcp_connect", "http_302"}
    assert modules["http_302"]["http"]["valid_status_codes"] == [302]
    labels = labels_of(job(prometheus_yaml(estate, "primary/mon-01"), "probe-motcua"))
    assert {item["__param_module"] for item in labels} == {"http_302"}


def test_tls_is_verified_except_against_the_labs_self_signed_certificates(
    lab: Estate, songxanh: Estate
) -> None:
    assert lab.environment is Environment.LAB
    for estate, skip in ((lab, True), (songxanh, False)):
        http = config.build_blackbox_config(estate)["modules"]["http_2xx"]["http"]
        assert http["tls_config"] == {"insecure_skip_verify": skip}
        assert http["preferred_ip_protocol"] == "ip4"


def test_alertmanagers_cluster_with_the_other_monitoring_hosts(estate: Estate) -> None:
    first, second = (host(estate, selector) for selector in monitoring_hosts(estate))
    arguments = monitoring.make_alertmanager_arguments(estate, first)
    assert f"--cluster.peer={second.host.address}:9094" in arguments
    assert f"--cluster.peer={first.host.address}:9094" not in arguments
    assert f"--cluster.advertise-address={first.host.address}:9094" in arguments


def test_a_lone_alertmanager_does_not_cluster(lab: Estate) -> None:
    sites = {name: site for name, site in lab.sites.items() if name != "site2"}
    estate = lab.model_copy(update={"sites": sites, "services": {}})
    arguments = monitoring.make_alertmanager_arguments(estate, host(estate, "primary/mon-01"))
    assert "--cluster.listen-address=" in arguments
    assert not [argument for argument in arguments if argument.startswith("--cluster.peer")]


def test_flags_files_keep_retention_modest_and_blackbox_on_loopback() -> None:
    prometheus = monitoring.make_defaults_file(
        monitoring.PROMETHEUS, monitoring.make_prometheus_arguments()
    )
    assert "--storage.tsdb.retention.time=15d" in prometheus
    assert prometheus.splitlines()[-1].startswith('ARGS="--config.file=')
    assert "--web.listen-address=127.0.0.1:9115" in monitoring.make_blackbox_arguments()


def test_firewall_lets_every_monitoring_host_reach_what_it_scrapes(estate: Estate) -> None:
    by_address = {ref.host.address: ref for ref in estate.iter_hosts()}
    for selector in monitoring_hosts(estate):
        source = host(estate, selector).host.address
        configuration = prometheus_yaml(estate, selector)
        for scrape in configuration["scrape_configs"]:
            if scrape["job_name"] == "blackbox" or scrape["job_name"].startswith("probe-"):
                continue
            for target in targets(scrape):
                address, _, port = target.rpartition(":")
                rules = make_firewall_rules(estate, by_address[IPv4Address(address)])
                assert any(
                    rule.port == int(port)
                    and rule.protocol == "tcp"
                    and (rule.sources is None or any(source in net for net in rule.sources))
                    for rule in rules
                ), f"{selector} cannot reach {target} ({scrape['job_name']})"


def test_lab_probes_reach_open_ports(lab: Estate) -> None:
    # The lab's health checks go through the balancers' port 80, open to everyone.
    for probe in config.make_probes(lab):
        rules = make_firewall_rules(lab, probe.entrypoint)
        assert any(rule.port == 80 and rule.sources is None for rule in rules)


def test_site_dispatches_the_monitoring_role() -> None:
    assert "monitoring.monitoring" in get_site_role_calls()
    assert callable(monitoring.monitoring)


def test_monitoring_role_plans_check_then_reload_each_daemon(estate: Estate) -> None:
    names, _ = plan_deploy(estate, monitoring_hosts(estate)[1], monitoring.monitoring)
    for title in ("Prometheus", "Alertmanager", "blackbox exporter"):
        position = names.index(f"monitoring | {title} configuration")
        assert names[position + 1 : position + 5] == [
            f"monitoring | Check the {title} configuration",
            f"monitoring | Restart {title}",
            f"monitoring | Reload {title}",
            f"monitoring | Keep {title} running",
        ]


# Real tools: Debian's prometheus, prometheus-alertmanager, prometheus-blackbox-exporter.


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(
            f"{tool} is not installed (apt-get install prometheus prometheus-alertmanager "
            "prometheus-blackbox-exporter)"
        )
    return path


def run_tool(*argv: str) -> None:
    result = subprocess.run(list(argv), check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def write(tmp_path: Path, name: str, configuration: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(config.to_yaml(configuration, name), encoding="utf-8")
    return path


def test_promtool_accepts_the_prometheus_config(estate: Estate, tmp_path: Path) -> None:
    promtool = need("promtool")
    for selector in monitoring_hosts(estate):
        path = write(tmp_path, "prometheus.yml", prometheus_yaml(estate, selector))
        run_tool(promtool, "check", "config", str(path))


def test_blackbox_accepts_its_config(estate: Estate, tmp_path: Path) -> None:
    exporter = need("prometheus-blackbox-exporter")
    path = write(tmp_path, "blackbox.yml", config.build_blackbox_config(estate))
    run_tool(exporter, "--config.check", f"--config.file={path}")


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path.endswith("/health") else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def health_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_blackbox_modules_probe_for_real(lab: Estate, tmp_path: Path, health_server: int) -> None:
    exporter = need("prometheus-blackbox-exporter")
    path = write(tmp_path, "blackbox.yml", config.build_blackbox_config(lab))
    port = get_free_port()
    process = subprocess.Popen(
        [exporter, f"--config.file={path}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)

        def probe(module: str, target: str) -> bool:
            url = f"http://127.0.0.1:{port}/probe?module={module}&target={target}"
            with urllib.request.urlopen(url, timeout=10) as response:
                return "probe_success 1" in response.read().decode()

        base = f"127.0.0.1:{health_server}"
        assert probe("http_2xx", f"http://{base}/portal/health")
        assert not probe("http_2xx", f"http://{base}/down")
        assert probe("tcp_connect", base)
        assert not probe("tcp_connect", f"127.0.0.1:{get_free_port()}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_egov_exporters_are_scraped_keeping_their_own_site_label(lab: Estate) -> None:
    configuration = prometheus_yaml(lab, "site2/mon-01")
    egov = job(configuration, "egov")
    assert targets(egov) == ["10.213.1.40:9640", "10.213.3.40:9640"]
    assert egov["honor_labels"] is True


def test_monitoring_role_checks_the_rules_then_reloads(estate: Estate) -> None:
    names, _ = plan_deploy(estate, monitoring_hosts(estate)[0], monitoring.monitoring)
    position = names.index("monitoring | egov alert rules")
    assert names[position + 1 : position + 3] == [
        "monitoring | Check the egov alert rules",
        "monitoring | Reload Prometheus for the rules",
    ]


def test_exporter_unit_serves_on_the_hosts_address_from_the_agent(lab: Estate) -> None:
    from egov.deploys.context import DeployContext

    unit = monitoring.make_exporter_unit(
        DeployContext(lab, host(lab, "primary/mon-01"), None), "/opt/egov/venv-0123/bin/egov"
    )
    assert (
        "ExecStart=/opt/egov/venv-0123/bin/egov monitor exporter --address 10.213.1.40 "
        "--port 9640 --state-dir /var/lib/egov/state --targets /etc/egov/monitoring-targets.json"
    ) in unit
    assert "SupplementaryGroups=egov-state" in unit


def test_alertmanager_configuration_and_its_secrets_are_private_and_never_logged(
    lab_with_secrets: Estate,
) -> None:
    commands: dict[str, list[str]] = {}
    names, logs = plan_deploy(
        lab_with_secrets, "site2/mon-01", monitoring.monitoring, commands=commands
    )
    private = "/etc/prometheus/egov-alerting"
    assert commands["monitoring | Alerting directory"][1:] == [
        f"chmod 750 {private}",
        f"chown root:prometheus {private}",
    ]
    for name, path in (
        ("Alertmanager configuration", f"{private}/alertmanager.yml"),
        ("Alerting secret (smtp)", f"{private}/smtp-password"),
        ("Alerting secret (webhook:truc-van-hanh:0)", f"{private}/webhook-truc-van-hanh-0.token"),
    ):
        assert commands[f"monitoring | {name}"][-3:] == [
            f"upload {path}",
            f"chown root:prometheus {path}",
            f"chmod 640 {path}",
        ]
    assert commands["monitoring | Check the Alertmanager configuration"] == [
        f"amtool check-config {private}/alertmanager.yml"
    ]
    templates = names.index("monitoring | Alertmanager notification templates")
    assert templates < names.index("monitoring | Check the Alertmanager configuration")
    secrets = [value for name, value in os.environ.items() if name.startswith("EGOV_TEST_ALERT")]
    assert secrets
    for value in secrets:
        assert value not in logs
        assert not any(value in name for name in names)


def test_alertmanager_runs_in_the_estates_timezone(lab: Estate) -> None:
    text = monitoring.make_defaults_file(
        monitoring.ALERTMANAGER, ["--config.file=x"], {"TZ": lab.timezone}
    )
    assert 'TZ="Asia/Ho_Chi_Minh"\n' in text
    assert text.splitlines()[-1] == 'ARGS="--config.file=x"'
