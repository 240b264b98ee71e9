"""`egov deploy` on the lab: the 14 hosts from freshly booted to serving, then idempotent.

The first deploy runs once per session through the real console script (gevent-patched, as a
sysadmin runs it); every check looks at the hosts themselves, not at the deploy's report.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import paramiko
import pytest

from egov.cli import run
from egov.deploys import render
from tests.lab.conftest import INVENTORY, DeployRun, Lab, deploy

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]


def _by_host(run: DeployRun) -> dict[str, dict[str, Any]]:
    return {host["name"]: host for host in run.report["hosts"]}


def test_full_deploy_succeeds_and_a_second_run_changes_nothing(
    deployed: tuple[DeployRun, DeployRun],
) -> None:
    first, second = deployed
    assert len(first.report["hosts"]) == 14
    assert first.report["failed_hosts"] == []
    assert second.code == 0, second.stderr[-2000:]
    changed = {name: host["changed"] for name, host in _by_host(second).items() if host["changed"]}
    assert changed == {}
    print(f"first deploy {first.seconds:.0f} s, second {second.seconds:.0f} s")


EXPECTED_UNITS = {
    "base": ["ssh", "chrony", "nftables", "prometheus-node-exporter"],
    "lb": ["nginx"],
    "app": ["egov-canary"],
    "db": ["postgresql@15-main", "prometheus-postgres-exporter", "egov-heartbeat"],
    "db-replica": ["postgresql@15-main", "prometheus-postgres-exporter", "egov-heartbeat"],
    "monitoring": [
        "prometheus",
        "prometheus-alertmanager",
        "prometheus-blackbox-exporter",
        "egov-exporter",
    ],
}
# TCP ports each role listens on beyond loopback; anything else listening is a finding.
EXPECTED_PORTS = {
    "base": {22, 9100},
    "lb": {80, 443},
    "app": {8080},
    "db": {5432, 9187},
    "db-replica": {5432, 9187},
    "storage": {8000},
    "objectstore": {9000},
    "monitoring": {9090, 9093, 9094, 9640},
}


def _roles(lab: Lab, machine: str) -> list[str]:
    return ["base", *lab.spec.get_host(machine).roles]


@pytest.mark.usefixtures("deployed")
def test_every_service_is_active_where_its_role_says(lab: Lab) -> None:
    inactive = []
    for host in lab.spec.hosts:
        units = [
            unit for role in _roles(lab, host.machine) for unit in EXPECTED_UNITS.get(role, [])
        ]
        result = lab.exec(host.machine, "systemctl", "is-active", *units)
        states = result.stdout.split()
        inactive += [
            f"{host.machine}:{u}={s}" for u, s in zip(units, states, strict=False) if s != "active"
        ]
    assert inactive == []


@pytest.mark.usefixtures("deployed")
def test_hosts_listen_only_where_their_roles_say(lab: Lab) -> None:
    unexpected = {}
    for host in lab.spec.hosts:
        allowed = set().union(
            *(EXPECTED_PORTS.get(role, set()) for role in _roles(lab, host.machine))
        )
        result = lab.exec(host.machine, "ss", "-Hltn")
        listening = set()
        for line in result.stdout.splitlines():
            local = line.split()[3]
            address, _, port = local.rpartition(":")
            if address.strip("[]") in ("127.0.0.1", "::1", "127.0.0.53", "127.0.0.54"):
                continue
            listening.add(int(port))
        extra = listening - allowed
        missing = {22} - listening
        if extra or missing:
            unexpected[host.machine] = {"extra": sorted(extra), "missing": sorted(missing)}
    assert unexpected == {}


@pytest.mark.usefixtures("deployed")
def test_both_replicas_stream_from_the_primary(lab: Lab) -> None:
    deadline = time.monotonic() + 60
    while True:
        result = lab.exec(
            "primary-db-01",
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-XtAc",
            "SELECT client_addr, usename, state FROM pg_stat_replication ORDER BY client_addr",
        )
        rows = {tuple(line.split("|")) for line in result.stdout.split()}
        # the replicas, and the WAL archives of both storage hosts (Barman's receive-wal)
        if rows == {
            ("10.213.1.21", "replicator", "streaming"),
            ("10.213.3.20", "replicator", "streaming"),
            ("10.213.1.30", "egov_archive", "streaming"),
            ("10.213.3.30", "egov_archive", "streaming"),
        }:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(2)
    for replica in ("primary-db-02", "site2-db-01"):
        result = lab.exec(
            replica,
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-XtAc",
            "SELECT pg_is_in_recovery()",
        )
        assert result.stdout.strip() == "t"


def _http(url: str, data: bytes | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.mark.usefixtures("deployed")
def test_canary_answers_through_the_load_balancer(lab: Lab) -> None:
    balancer = lab.address("primary-lb-01")
    for service in ("portal", "motcua"):
        status, body = _http(f"http://{balancer}/{service}/health")
        assert status == 200, body
        seq = int(time.time() * 1000)
        status, body = _http(
            f"http://{balancer}/{service}/records", json.dumps({"seq": seq}).encode()
        )
        assert status == 201, body
        status, body = _http(f"http://{balancer}/{service}/records/last")
        assert body["seq"] >= seq
    # site 2 serves nothing yet: its database is a read-only replica
    status, body = _http(f"http://{lab.address('site2-app-01')}/portal/health")
    assert status == 503 and "replica" in body["status"]


@pytest.mark.usefixtures("deployed")
def test_tls_is_served_by_the_load_balancer(lab: Lab) -> None:
    address = lab.address("primary-lb-01")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the lab's certificate is self-signed
    with (
        socket.create_connection((address, 443), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="primary-lb-01") as tls,
    ):
        certificate = x509_subject(tls.getpeercert(binary_form=True) or b"")
        tls.sendall(b"GET /portal/health HTTP/1.0\r\nHost: primary-lb-01\r\n\r\n")
        reply = tls.recv(200).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 200"), reply
    assert "primary-lb-01" in certificate


def x509_subject(der: bytes) -> str:
    """The subject of a DER certificate, via openssl on this machine."""
    result = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
        input=der,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


@pytest.mark.usefixtures("deployed")
def test_password_login_is_refused(lab: Lab) -> None:
    transport = paramiko.Transport((lab.address("primary-db-01"), 22))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.BadAuthenticationType) as caught:
            transport.auth_password("root", "anything")
        assert caught.value.allowed_types == ["publickey"]
    finally:
        transport.close()


@pytest.mark.usefixtures("deployed")
def test_every_prometheus_target_is_up_on_both_monitoring_hosts(lab: Lab) -> None:
    for machine in ("primary-mon-01", "site2-mon-01"):
        deadline = time.monotonic() + 120
        while True:
            _, body = _http(f"http://{lab.address(machine)}:9090/api/v1/targets")
            targets = body.get("data", {}).get("activeTargets", [])
            down = [
                f"{t['labels'].get('job')}:{t['labels'].get('instance')}:{t.get('lastError')}"
                for t in targets
                if t["health"] != "up"
            ]
            if targets and not down:
                break
            assert time.monotonic() < deadline, down
            time.sleep(5)


@pytest.mark.usefixtures("deployed")
def test_dry_run_after_a_template_change_shows_that_diff_and_changes_nothing(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import jinja2

    changed_text = render.render("base/sshd.conf.j2") + "MaxSessions 4\n"
    loader = jinja2.ChoiceLoader(
        [jinja2.DictLoader({"base/sshd.conf.j2": changed_text}), render._ENVIRONMENT.loader]
    )
    monkeypatch.setattr(render._ENVIRONMENT, "loader", loader)
    render._ENVIRONMENT.cache.clear()  # type: ignore[union-attr]
    path = "/etc/ssh/sshd_config.d/10-egov.conf"
    before = lab.exec("primary-db-01", "sha256sum", path).stdout
    code = run(
        [
            "deploy",
            "-i",
            str(INVENTORY),
            "--limit",
            "primary/db-01",
            "--dry-run",
            "--output",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 3
    (host,) = report["hosts"]
    assert [line for line in host["diff"] if line.startswith("---")] == [f"--- {path} (modify)"]
    assert "+MaxSessions 4" in host["diff"]
    assert lab.exec("primary-db-01", "sha256sum", path).stdout == before


@pytest.mark.usefixtures("deployed")
def test_changing_one_hosts_data_redeploys_only_what_depends_on_it(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = INVENTORY.read_text().replace(
        "db-02:     {address: 10.213.1.21, roles: [db-replica], upstream: db-01}",
        "db-02:     {address: 10.213.1.21, roles: [db-replica], upstream: db-01,"
        " data: {sysctl: {net.ipv4.tcp_keepalive_time: 600}}}",
    )
    assert text != INVENTORY.read_text()
    changed_inventory = tmp_path / "lab.yaml"
    changed_inventory.write_text(text)
    try:
        code = run(["deploy", "-i", str(changed_inventory), "--output", "json"])
        report = json.loads(capsys.readouterr().out)
        assert code == 0
        changed = {h["name"]: h["changed"] for h in report["hosts"] if h["changed"]}
        assert changed == {
            "primary-db-02": [
                "base | Kernel network settings",
                "base | Apply the kernel network settings",
            ]
        }
        result = lab.exec("primary-db-02", "sysctl", "-n", "net.ipv4.tcp_keepalive_time")
        assert result.stdout.strip() == "600"
    finally:
        assert run(["deploy", "-i", str(INVENTORY), "--limit", "primary/db-02"]) == 0
        capsys.readouterr()


@pytest.mark.usefixtures("deployed")
def test_a_powered_off_host_is_unreachable_and_the_others_finish(lab: Lab) -> None:
    lab.api.power_off_host(lab.spec, "primary-portal-02")
    try:
        result = deploy("--limit", "primary/portal-*", "--limit", "primary/lb-01")
        assert result.code == 1
        statuses = {name: host["status"] for name, host in _by_host(result).items()}
        assert statuses == {
            "primary-lb-01": "ok",
            "primary-portal-01": "ok",
            "primary-portal-02": "unreachable",
        }
    finally:
        lab.api.power_on_host(lab.spec, "primary-portal-02")
