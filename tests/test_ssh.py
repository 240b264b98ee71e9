"""Every ssh command line egov builds is strict and non-interactive (tests egov/ssh.py)."""

from __future__ import annotations

import dataclasses

from egov.inventory.loader import load_estate
from egov.inventory.model import SshSettings
from egov.ssh import build_ssh_argv, make_ssh_command
from tests.backup.conftest import LAB


def test_the_inventory_chooses_user_port_key_and_known_hosts_and_the_remote_is_one_word() -> None:
    estate = load_estate(LAB).estate
    ref = next(r for r in estate.iter_hosts() if r.selector == "primary/lb-01")
    assert make_ssh_command(estate, ref, ["sh", "-c", "a b; c"]) == (
        "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
        "-p", "22", "-o", "UserKnownHostsFile=/var/lib/egov/lab/ssh/known_hosts",
        "-i", "/var/lib/egov/lab/ssh/id_ed25519", "root@10.213.1.10", "sh -c 'a b; c'",
    )  # fmt: skip
    own = SshSettings(user="backup", port=2222, key="file:/k/id", known_hosts="/k/kh")
    host = dataclasses.replace(ref, host=ref.host.model_copy(update={"ssh": own}))
    argv = make_ssh_command(estate, host, ["true"])
    assert argv[-2:] == ("backup@10.213.1.10", "true")
    assert "2222" in argv and "UserKnownHostsFile=/k/kh" in argv and argv[-4:-2] == ("-i", "/k/id")


def test_more_options_come_after_the_strict_ones() -> None:
    argv = build_ssh_argv("root", "10.0.0.5", connect_timeout_seconds=5, options=["LogLevel=ERROR"])
    assert argv == [
        "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR", "root@10.0.0.5",
    ]  # fmt: skip
