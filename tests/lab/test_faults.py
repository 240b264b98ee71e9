"""Each fault cuts what it says, shows in status, and is undone (tests egov/lab/faults.py)."""

from __future__ import annotations

import concurrent.futures
import json

import pytest

from egov.errors import LabInputError
from egov.lab.state import Fault, load_state
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab

RECEIVER = """
import socket, sys, time
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 5001))
server.listen(1)
server.settimeout(20)
connection, _ = server.accept()
received, started = 0, time.monotonic()
while True:
    data = connection.recv(65536)
    if not data:
        break
    received += len(data)
print(received / (time.monotonic() - started))
"""
SENDER = """
import socket, sys, time
for attempt in range(50):
    try:
        connection = socket.create_connection((sys.argv[1], 5001), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
block, deadline = b"x" * 65536, time.monotonic() + 2
while time.monotonic() < deadline:
    connection.sendall(block)
connection.close()
"""


def _ping(lab: Lab, machine: str, address: str) -> bool:
    return lab.exec(machine, "ping", "-c", "1", "-W", "1", address).returncode == 0


# A deployed host's firewall admits only what its roles need: open the test port for the
# measurement, then reload the host's own rules (a no-op on a host not yet deployed).
OPEN_TEST_PORT = "nft insert rule inet egov input tcp dport 5001 accept 2>/dev/null || true"
RELOAD_RULES = "if [ -f /etc/nftables.conf ]; then nft -f /etc/nftables.conf; fi"


def _throughput(lab: Lab, sender: str, receiver: str) -> float:
    """Return bytes/s received by ``receiver`` while ``sender`` sends for 2 s."""
    lab.exec(receiver, "sh", "-c", OPEN_TEST_PORT)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            measured = pool.submit(lab.exec, receiver, "python3", "-c", RECEIVER)
            lab.exec(sender, "python3", "-c", SENDER, lab.address(receiver))
            result = measured.result(timeout=60)
    finally:
        lab.exec(receiver, "sh", "-c", RELOAD_RULES)
    assert result.returncode == 0, result.stderr
    return float(result.stdout.strip())


def _faults(lab: Lab) -> list[Fault]:
    return list(lab.api.lab_status(lab.spec, check_ssh=False).faults)


def test_power_off_host_stops_ssh_and_power_on_brings_it_back(lab: Lab) -> None:
    machine = "primary-motcua-02"
    marker = "/root/survives-power-off"
    lab.exec(machine, "sh", "-c", f"echo kept > {marker} && sync")
    lab.api.power_off_host(lab.spec, machine)
    try:
        assert lab.ssh(machine, "true").returncode != 0
        status = lab.api.lab_status(lab.spec, check_ssh=False)
        assert machine not in status.running
        assert Fault("power-off-host", machine) in status.faults
    finally:
        lab.api.power_on_host(lab.spec, machine)
    assert lab.ssh(machine, "cat", marker).stdout.strip() == "kept"
    assert Fault("power-off-host", machine) not in _faults(lab)


def test_power_off_site_stops_every_host_of_the_site(lab: Lab) -> None:
    site = lab.spec.get_site("site2")
    lab.api.power_off_site(lab.spec, "site2")
    try:
        status = lab.api.lab_status(lab.spec, check_ssh=False)
        assert not set(status.running) & {h.machine for h in site.hosts}
        assert "primary-db-01" in status.running
        assert not _ping(lab, "primary-db-01", lab.address("site2-db-01"))
    finally:
        lab.api.power_on_site(lab.spec, "site2")
    for host in site.hosts:
        assert lab.ssh(host.machine, "true").returncode == 0


def test_cut_link_isolates_the_site_and_restore_reconnects_it(lab: Lab) -> None:
    lab.api.cut_link(lab.spec, "site2")
    try:
        assert not _ping(lab, "primary-db-01", lab.address("site2-db-01"))
        assert not _ping(lab, "site2-db-01", lab.address("vnpt-s3-01"))
        # Inside the site the hosts still talk; the host reaches it only through nsenter.
        assert _ping(lab, "site2-db-01", lab.address("site2-store-01"))
        assert lab.ssh("site2-db-01", "true", timeout=20).returncode != 0
        status = lab.api.lab_status(lab.spec, check_ssh=False)
        assert {s.name: s.link for s in status.sites}["site2"] == "cut"
        assert status.counters["lab_cut"] > 0
    finally:
        lab.api.restore_link(lab.spec, "site2")
    assert _ping(lab, "primary-db-01", lab.address("site2-db-01"))
    assert lab.ssh("site2-db-01", "true").returncode == 0


def test_shaping_a_link_limits_throughput_both_ways(lab: Lab) -> None:
    rate_kbit = 4000
    free_in = _throughput(lab, "primary-store-01", "site2-store-01")
    lab.api.shape_link(lab.spec, "site2", rate_kbit)
    try:
        shaped_in = _throughput(lab, "primary-store-01", "site2-store-01")
        shaped_out = _throughput(lab, "site2-store-01", "primary-store-01")
        status = lab.api.lab_status(lab.spec, check_ssh=False)
        assert {s.name: s.shaping_kbit for s in status.sites}["site2"] == rate_kbit
    finally:
        lab.api.unshape_link(lab.spec, "site2")
    limit = rate_kbit * 1000 / 8
    assert shaped_in < 1.5 * limit < free_in / 5, (free_in, shaped_in)
    assert shaped_out < 1.5 * limit, shaped_out
    restored = _throughput(lab, "primary-store-01", "site2-store-01")
    assert restored > 5 * limit
    assert {s.name: s.shaping_kbit for s in lab.api.lab_status(lab.spec, check_ssh=False).sites}[
        "site2"
    ] is None


def test_stop_service_stops_it_and_start_brings_it_back(lab: Lab) -> None:
    machine = "primary-store-01"
    lab.api.stop_service(lab.spec, machine, "ssh.service")
    try:
        assert (
            lab.exec(machine, "systemctl", "is-active", "ssh.service").stdout.strip() == "inactive"
        )
        assert lab.ssh(machine, "true").returncode != 0
        # Other hosts' sshd is untouched: each container has its own cgroups.
        assert lab.ssh("primary-mon-01", "true").returncode == 0
        assert any(f.kind == "stop-service" for f in _faults(lab))
    finally:
        lab.api.start_service(lab.spec, machine, "ssh.service")
    assert lab.ssh(machine, "true").returncode == 0
    assert not any(f.kind == "stop-service" for f in _faults(lab))


def _disk_use(lab: Lab, machine: str) -> tuple[int, int]:
    """Return (available bytes, use percent) of / on ``machine``."""
    out = lab.exec(machine, "df", "--output=avail,pcent", "-B1", "/").stdout.splitlines()[1].split()
    return int(out[0]), int(out[1].rstrip("%"))


def test_fill_filesystem_fills_the_hosts_disk_and_unfill_frees_it(lab: Lab) -> None:
    machine = "primary-db-02"
    available_before, _ = _disk_use(lab, machine)
    lab.api.fill_filesystem(lab.spec, machine, "/var")
    try:
        available, percent = _disk_use(lab, machine)
        assert available == 0 and percent == 100
        write = lab.exec(
            machine, "dd", "if=/dev/zero", "of=/root/full-test", "bs=64k", "count=1", "conv=fsync"
        )
        assert write.returncode != 0 and "No space left" in write.stderr
        assert any(f.kind == "fill-filesystem" for f in _faults(lab))
    finally:
        lab.api.unfill_filesystem(lab.spec, machine, "/var")
        lab.exec(machine, "rm", "-f", "/root/full-test")
    available_after, _ = _disk_use(lab, machine)
    assert available_after > available_before * 0.9
    assert not any(f.kind == "fill-filesystem" for f in _faults(lab))


def test_faults_on_unknown_targets_are_refused_and_not_recorded(lab: Lab) -> None:
    before = load_state(lab.spec.name)
    assert before is not None
    for fault in (
        lambda: lab.api.power_off_host(lab.spec, "primary-db-99"),
        lambda: lab.api.power_off_site(lab.spec, "moon"),
        lambda: lab.api.cut_link(lab.spec, "moon"),
        lambda: lab.api.shape_link(lab.spec, "moon", 1000),
        lambda: lab.api.stop_service(lab.spec, "nowhere-01", "ssh.service"),
        lambda: lab.api.fill_filesystem(lab.spec, "nowhere-01"),
    ):
        with pytest.raises(LabInputError):
            fault()
    with pytest.raises(LabInputError):
        lab.api.stop_service(lab.spec, "primary-db-01", "no-such-unit.service")
    with pytest.raises(LabInputError):
        lab.api.shape_link(lab.spec, "site2", 0)
    after = load_state(lab.spec.name)
    assert after is not None and after.faults == before.faults


def test_status_is_json_serialisable(lab: Lab) -> None:
    status = lab.api.lab_status(lab.spec)
    assert status.is_up
    data = json.loads(json.dumps(status.to_dict()))
    assert len(data["hosts"]) == 14 and all(h["ssh_ok"] for h in data["hosts"])
