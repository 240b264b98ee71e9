"""The one place egov builds an ``ssh`` command line: strict host keys, no prompt, ever.

Every connection egov makes with the ``ssh`` client (``egov backup run``, the drills, the
records ``egov backup plan --from-hosts`` reads, the lab) is built here, so all of them run
in batch mode (a missing key fails instead of asking for a password) and check the host key
against a known_hosts file (``StrictHostKeyChecking=yes``: a host never seen is refused, not
trusted on first use). The inventory's SSH settings (a host's own, else the estate's) say
which user, port, key and known_hosts; the lab passes its own key and known_hosts.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from egov.inventory.model import Estate, HostRef

CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_USER = "root"
DEFAULT_PORT = 22


def build_ssh_argv(
    user: str,
    address: str,
    *,
    connect_timeout_seconds: int = CONNECT_TIMEOUT_SECONDS,
    port: int | None = None,
    known_hosts: str | Path | None = None,
    key: str | Path | None = None,
    options: Iterable[str] = (),
) -> list[str]:
    """``ssh`` to ``user@address`` in batch mode with strict host keys, without the remote
    command (the caller appends it: one quoted word, or the words ssh joins itself).

    ``key`` is the private key's path (never its content); ``options`` are more ``-o`` values
    (``IdentitiesOnly=yes``). For example ``["ssh", "-o", "BatchMode=yes", "-o",
    "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10", "-p", "22", "-o",
    "UserKnownHostsFile=/etc/egov/known_hosts", "-i", "/etc/egov/id", "root@10.0.0.5"]``.
    """
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-o", f"ConnectTimeout={connect_timeout_seconds}"]
    if port is not None:
        argv += ["-p", str(port)]
    if known_hosts:
        argv += ["-o", f"UserKnownHostsFile={known_hosts}"]
    for option in options:
        argv += ["-o", option]
    if key:
        argv += ["-i", str(key)]
    return [*argv, f"{user}@{address}"]


def make_ssh_command(estate: Estate, ref: HostRef, remote: Sequence[str]) -> tuple[str, ...]:
    """``ssh`` to ``ref`` as the inventory says (the host's settings, else the estate's),
    running ``remote`` (quoted into one word, as the remote shell reads it)."""
    settings = ref.host.ssh
    key = settings.key or estate.ssh.key
    argv = build_ssh_argv(
        settings.user or estate.ssh.user or DEFAULT_USER,
        str(ref.host.address),
        port=settings.port or estate.ssh.port or DEFAULT_PORT,
        known_hosts=settings.known_hosts or estate.ssh.known_hosts,
        # a key that is not a file: reference is passed to no process: its path only
        key=key.removeprefix("file:") if key and key.startswith("file:") else None,
    )
    return (*argv, shlex.join(remote))
