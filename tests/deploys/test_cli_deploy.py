"""`egov deploy` before any host is touched: bad input, placeholders, unreachable hosts.

These run without the lab: they prove that refusals happen before any connection and that an
unreachable host (a closed port on loopback) is reported as such, with exit code 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import paramiko
import pytest

from egov.cli import run

ROOT = Path(__file__).resolve().parents[2]

LOOPBACK_ESTATE = """\
name: loop
title: Loopback estate
ssh: {user: root, port: 1, key: "file:KEY", known_hosts: KNOWN_HOSTS}
sites:
  here:
    role: primary
    title: Here
    network: 127.0.0.0/24
    hosts:
      one: {address: 127.0.0.2}
      two: {address: 127.0.0.3}
"""


@pytest.fixture(autouse=True)
def _audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("EGOV_AUDIT_LOG", str(path))
    return path


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail the test if pyinfra tries to open any SSH connection."""
    from pyinfra.connectors.ssh import SSHConnector

    attempts: list[str] = []

    def refuse(self: SSHConnector, *args: object, **kwargs: object) -> None:
        attempts.append(self.host.name)
        raise AssertionError(f"connection attempted to {self.host.name}")

    monkeypatch.setattr(SSHConnector, "connect", refuse)
    return attempts


def test_placeholder_inventory_connects_nowhere_and_exits_2(
    no_connections: list[str], capsys: pytest.CaptureFixture[str], _audit_log: Path
) -> None:
    code = run(["deploy", "-i", str(ROOT / "inventory" / "camau.yaml"), "--no-agent"])
    err = capsys.readouterr().err
    assert code == 2
    assert "placeholder addresses" in err and "192.0.2.20" in err
    assert no_connections == []
    assert not _audit_log.exists()


@pytest.mark.parametrize(
    "arguments",
    [
        ["--limit", "primary/nope-*"],
        ["--site", "moon"],
        ["--role", "mailserver"],
        ["--limit", "role:mailserver"],
        ["--exclude", "rol:db"],
        ["--limit", "site:vnpt", "--exclude", "vnpt-s3-01"],
    ],
)
def test_selection_that_matches_nothing_exits_2(
    arguments: list[str], no_connections: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["deploy", "-i", str(ROOT / "inventory" / "lab.yaml"), "--no-agent", *arguments])
    assert code == 2
    assert "egov: " in capsys.readouterr().err
    assert no_connections == []


def test_broken_inventory_exits_2_before_anything(
    tmp_path: Path, no_connections: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    broken = LOOPBACK_ESTATE.replace("127.0.0.3", "127.0.1.3")
    path.write_text(broken.replace("KEY", "/k").replace("KNOWN_HOSTS", "/kh"))
    assert run(["deploy", "-i", str(path), "--no-agent"]) == 2
    assert "outside its site's network" in capsys.readouterr().err
    assert no_connections == []


def write_loopback_estate(directory: Path, *, with_key: bool = True) -> Path:
    """The loopback estate with a real (throwaway) key and an empty known_hosts."""
    key = directory / "key"
    if with_key:
        paramiko.RSAKey.generate(2048).write_private_key_file(str(key))
        key.chmod(0o600)
    (directory / "known_hosts").write_text("")
    path = directory / "loop.yaml"
    path.write_text(
        LOOPBACK_ESTATE.replace("KEY", str(key)).replace(
            "KNOWN_HOSTS", str(directory / "known_hosts")
        )
    )
    return path


def test_missing_ssh_key_exits_2_before_connecting(
    tmp_path: Path, no_connections: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_loopback_estate(tmp_path, with_key=False)
    assert run(["deploy", "-i", str(path), "--no-agent"]) == 2
    assert f"secret file {tmp_path / 'key'} does not exist" in capsys.readouterr().err
    assert no_connections == []


def test_unreachable_hosts_are_reported_and_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], _audit_log: Path
) -> None:
    path = write_loopback_estate(tmp_path)
    code = run(["deploy", "-i", str(path), "--no-agent", "--output", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["failed_hosts"] == ["here-one", "here-two"]
    assert {host["status"] for host in report["hosts"]} == {"unreachable"}
    record = json.loads(_audit_log.read_text().splitlines()[-1])
    assert record["action"] == "deploy" and record["exit_code"] == 1
    assert record["hosts"]["here-one"]["status"] == "unreachable"


@pytest.mark.parametrize(
    "selection",
    [
        ["--limit", "here/one"],
        ["--limit", "here-one"],
        ["--limit", "host:one"],
        ["--limit", "site:here", "--exclude", "here-two"],
        ["--exclude", "*-two"],
    ],
)
def test_limit_and_exclude_take_every_selector_form(
    selection: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], _audit_log: Path
) -> None:
    path = write_loopback_estate(tmp_path)
    code = run(["deploy", "-i", str(path), "--no-agent", "--output", "json", *selection])
    assert code == 1  # unreachable: nothing listens on loopback port 1
    assert json.loads(capsys.readouterr().out)["failed_hosts"] == ["here-one"]
    assert json.loads(_audit_log.read_text().splitlines()[-1])["selection"]["limit"] == (
        [selection[1]] if selection[0] == "--limit" else None
    )
