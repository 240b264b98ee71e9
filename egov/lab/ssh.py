"""SSH into the lab with strict host-key checking, as in production.

One lab key pair (``<state>/ssh/id_ed25519``) is authorised for root on every host. Each host's
ed25519 host key is generated on this machine when the host is created (never baked into the
image, so no two hosts share one) and written straight into its disk; the lab known_hosts is
filled from those files, which is more trustworthy than scanning the network for them.
"""

from __future__ import annotations

import concurrent.futures
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from egov import execute
from egov.errors import CommandFailed
from egov.lab.paths import get_known_hosts_path, get_ssh_dir, get_ssh_key_path
from egov.lab.spec import LabHost, LabSpec
from egov.ssh import build_ssh_argv as build_strict_ssh_argv

HOST_KEY_PATH = "etc/ssh/ssh_host_ed25519_key"
SSH_PORT = 22
CONNECT_TIMEOUT_SECONDS = 5
BANNER_PREFIX = b"SSH-"
POLL_SECONDS = 0.2
#: Only the lab key is offered, only the lab known_hosts is read, and ssh's warnings (a host
#: added to known_hosts) stay out of the commands' output.
LAB_SSH_OPTIONS = ("IdentitiesOnly=yes", "GlobalKnownHostsFile=/dev/null", "LogLevel=ERROR")


def build_ssh_argv(
    address: str, key: Path, known_hosts: Path, command: Iterable[str] = ()
) -> list[str]:
    """Return an ssh argv to ``root@address`` using only the lab key and the lab known_hosts."""
    argv = build_strict_ssh_argv(
        "root",
        address,
        connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        known_hosts=known_hosts,
        key=key,
        options=LAB_SSH_OPTIONS,
    )
    return [*argv, *command]


def ssh_argv(spec: LabSpec, machine: str, command: Iterable[str] = ()) -> list[str]:
    """Return the argv for ``egov lab ssh MACHINE [COMMAND…]``; LabInputError for unknown hosts."""
    host = spec.get_host(machine)
    return build_ssh_argv(str(host.address), get_ssh_key_path(), get_known_hosts_path(), command)


def make_known_hosts_line(host: LabHost, public_key: str) -> str:
    """Return the known_hosts line of ``host``: ``10.213.1.20,primary-db-01 ssh-ed25519 AAAA…``."""
    key_type, key_data = public_key.split()[:2]
    return f"{host.address},{host.machine} {key_type} {key_data}"


def merge_known_hosts(existing: str, replaced: Iterable[LabHost], lines: Iterable[str]) -> str:
    """Return ``existing`` known_hosts text, the ``replaced`` hosts' lines swapped for ``lines``.

    Lines naming one of the replaced hosts' addresses or machine names are dropped, so a host
    recreated with a new key does not leave its old key behind; other estates' lines are kept.
    """
    names = {str(h.address) for h in replaced} | {h.machine for h in replaced}
    kept = [
        line
        for line in existing.splitlines()
        if line.strip() and not names & set(line.split()[0].split(","))
    ]
    return "\n".join([*kept, *lines]) + "\n"


def run_ensure_key() -> Path:
    """Create the lab key pair once (mode 0600); return the private key path."""
    key = get_ssh_key_path()
    if not key.is_file():
        get_ssh_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        execute.run_command(
            ("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "egov-lab", "-f", str(key))
        )
    key.chmod(0o600)
    return key


def run_ensure_host_key(root: Path, machine: str) -> str:
    """Create the host's own ed25519 host key in its root if missing; return the public key."""
    private = root / HOST_KEY_PATH
    if not private.is_file():
        execute.run_command(
            (
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"root@{machine}",
                "-f",
                str(private),
            )
        )
    return private.with_suffix(".pub").read_text().strip()


def run_authorise_lab_key(root: Path) -> None:
    """Install the lab public key as root's only authorized key on the host."""
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    public = get_ssh_key_path().with_suffix(".pub").read_text()
    authorized = ssh_dir / "authorized_keys"
    authorized.write_text(public)
    authorized.chmod(0o600)


def run_write_known_hosts(spec: LabSpec, public_keys: Mapping[str, str]) -> None:
    """Record ``public_keys`` (machine → host public key) in the lab known_hosts."""
    path = get_known_hosts_path()
    existing = path.read_text() if path.is_file() else ""
    hosts = [h for h in spec.hosts if h.machine in public_keys]
    lines = [make_known_hosts_line(h, public_keys[h.machine]) for h in hosts]
    path.write_text(merge_known_hosts(existing, spec.hosts, lines))


def run_forget_known_hosts(spec: LabSpec) -> None:
    """Remove the estate's hosts from the lab known_hosts."""
    path = get_known_hosts_path()
    if path.is_file():
        path.write_text(merge_known_hosts(path.read_text(), spec.hosts, []))


def has_banner(address: str, timeout_seconds: float = 1.0) -> bool:
    """Return whether ``address:22`` answers with an SSH banner."""
    try:
        with socket.create_connection((address, SSH_PORT), timeout=timeout_seconds) as sock:
            return sock.recv(len(BANNER_PREFIX)) == BANNER_PREFIX
    except OSError:
        return False


def wait_for_banners(addresses: Iterable[str], timeout_seconds: float) -> list[str]:
    """Wait until every address answers with an SSH banner; return those that did not in time."""
    deadline = time.monotonic() + timeout_seconds
    pending = list(addresses)
    while pending:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(pending)) as pool:
            answered = list(pool.map(has_banner, pending))
        pending = [a for a, ok in zip(pending, answered, strict=True) if not ok]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    return pending


def run_login_check(spec: LabSpec, machines: Iterable[str]) -> dict[str, bool]:
    """Log in to each host with strict host keys and run ``true``; return machine → success."""
    names = list(machines)
    if not names:
        return {}

    def probe(machine: str) -> bool:
        argv = ssh_argv(spec, machine, ["true"])
        try:
            return execute.run_command(argv, check=False, timeout_seconds=15).returncode == 0
        except CommandFailed:
            return False

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        return dict(zip(names, pool.map(probe, names), strict=True))
