"""Every lab host answers SSH with strict host-key checking (tests egov/lab/ssh.py)."""

from __future__ import annotations

import concurrent.futures
import subprocess
from pathlib import Path

import paramiko
import pytest

from egov.lab.paths import get_known_hosts_path, get_ssh_key_path
from egov.lab.ssh import build_ssh_argv
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab


def test_every_host_answers_ssh_with_its_own_name(lab: Lab) -> None:
    machines = [h.machine for h in lab.spec.hosts]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(machines)) as pool:
        results = dict(
            zip(machines, pool.map(lambda m: lab.ssh(m, "hostname"), machines), strict=True)
        )
    for machine, result in results.items():
        assert result.returncode == 0, (machine, result.stderr)
        assert result.stdout.strip() == machine


def test_paramiko_connects_with_reject_policy_and_lab_known_hosts(lab: Lab) -> None:
    for machine in ("primary-db-01", "vnpt-s3-01", "site2-db-01"):
        client = paramiko.SSHClient()
        client.load_host_keys(str(get_known_hosts_path()))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            lab.address(machine),
            username="root",
            key_filename=str(get_ssh_key_path()),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        try:
            _, stdout, _ = client.exec_command("hostname")
            assert stdout.read().decode().strip() == machine
        finally:
            client.close()


def test_host_keys_differ_between_hosts(lab: Lab) -> None:
    lines = get_known_hosts_path().read_text().splitlines()
    keys = [
        line.split()[2]
        for line in lines
        if line.split()[0].split(",")[1] in {h.machine for h in lab.spec.hosts}
    ]
    assert len(keys) == 14 and len(set(keys)) == 14


def test_a_wrong_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    # Give db-01's address the key of db-02: strict checking must refuse the connection.
    entries = {
        line.split()[0].split(",")[1]: line.split()[1:]
        for line in get_known_hosts_path().read_text().splitlines()
    }
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{lab.address('primary-db-01')} {' '.join(entries['primary-db-02'])}\n")
    argv = build_ssh_argv(lab.address("primary-db-01"), get_ssh_key_path(), wrong, ["true"])
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode != 0
    assert "host key" in result.stderr.lower() or "identification" in result.stderr.lower()


def test_passwords_are_refused(lab: Lab) -> None:
    result = lab.exec("primary-db-01", "sshd", "-T")
    assert "passwordauthentication no" in result.stdout
    assert "kbdinteractiveauthentication no" in result.stdout
