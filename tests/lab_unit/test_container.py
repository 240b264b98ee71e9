"""egov/lab/container.py and ssh.py: the argvs that start, enter and reach a container."""

from __future__ import annotations

from pathlib import Path

from egov.lab.container import (
    ContainerConfig,
    build_enter_argv,
    build_launcher_argv,
    build_nspawn_argv,
    parse_start_ticks,
)
from egov.lab.ssh import build_ssh_argv, make_known_hosts_line, merge_known_hosts
from tests.lab.topology import make_lab_spec

CONFIG = ContainerConfig(
    machine="primary-db-01",
    root=Path("/s/hosts/primary-db-01/root"),
    bridge="egv-primar-7914",
    repository=Path("/c/images/k/apt"),
    cgroups=(
        Path("/sys/fs/cgroup/unified/egov-lab/e/m"),
        Path("/sys/fs/cgroup/systemd/egov-lab/e/m"),
    ),
    log=Path("/s/console.log"),
)


def test_nspawn_boots_unregistered_on_the_site_bridge_without_host_resolver() -> None:
    argv = build_nspawn_argv(CONFIG)
    for flag in (
        "--boot",
        "--register=no",
        "--keep-unit",
        "--machine=primary-db-01",
        "--network-bridge=egv-primar-7914",
        "--resolv-conf=off",
        "--bind-ro=/c/images/k/apt:/srv/lab-apt",
    ):
        assert flag in argv


def test_launcher_joins_every_cgroup_before_exec() -> None:
    argv = build_launcher_argv(CONFIG)
    separator = argv.index("--")
    assert argv[separator - 2 : separator] == (
        "/sys/fs/cgroup/unified/egov-lab/e/m/cgroup.procs",
        "/sys/fs/cgroup/systemd/egov-lab/e/m/cgroup.procs",
    )
    assert argv[separator + 1] == "systemd-nspawn"


def test_enter_uses_every_namespace_and_a_clean_environment() -> None:
    argv = build_enter_argv(4242, ["systemctl", "is-active", "ssh"])
    assert argv[:2] == ("nsenter", "--target=4242")
    assert {"--mount", "--net", "--pid", "--root", "--wd"} <= set(argv)
    assert argv[-3:] == ("systemctl", "is-active", "ssh")
    assert "-i" in argv


def test_start_ticks_survive_spaces_and_parentheses_in_the_name() -> None:
    stat = "123 (a (b) c) S 1 123 123 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 98765 1 2"
    assert parse_start_ticks(stat) == 98765


def test_ssh_is_strict_and_uses_only_lab_files() -> None:
    argv = build_ssh_argv("10.213.1.20", Path("/k"), Path("/kh"), ["true"])
    assert "StrictHostKeyChecking=yes" in argv
    assert "UserKnownHostsFile=/kh" in argv and "GlobalKnownHostsFile=/dev/null" in argv
    assert argv[-2:] == ["root@10.213.1.20", "true"]


def test_known_hosts_replace_only_the_estates_hosts() -> None:
    spec = make_lab_spec()
    host = spec.get_host("primary-db-01")
    line = make_known_hosts_line(host, "ssh-ed25519 AAAANEW root@primary-db-01")
    assert line == "10.213.1.20,primary-db-01 ssh-ed25519 AAAANEW"
    existing = "10.213.1.20,primary-db-01 ssh-ed25519 AAAAOLD\n10.9.9.9,other ssh-ed25519 AAAAX\n"
    merged = merge_known_hosts(existing, [host], [line])
    assert merged == "10.9.9.9,other ssh-ed25519 AAAAX\n" + line + "\n"


def test_a_zombie_is_not_alive() -> None:
    """A process that ended but is not reaped yet (its parent is busy) counts as gone."""
    import subprocess
    import time

    from egov.lab.container import get_process_record

    child = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert get_process_record(child.pid) is None
    finally:
        child.wait()
