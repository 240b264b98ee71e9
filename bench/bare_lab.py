"""The baseline of ``lab_up.py``: the same hosts booted by a minimal script of plain commands.

Same work as ``egov lab up`` / ``lab down`` on hosts whose disks exist (egov's first ``up``
made them, with their identity, network files and keys, which live on each host's disk):
the site bridges with their ``.1``, the lab's nftables table (the same ruleset text: the
lab must stay closed in the baseline too), forwarding on; per host the loop-mounted disk,
the overlay root over the image, and ``systemd-nspawn`` with the same flags, started
detached; then wait until every host's port 22 answers with an SSH banner. Down: SIGTERM
to every nspawn (a clean halt of the container's init), SIGKILL after 12 s, unmount,
delete the bridges and the table, forwarding back.

Left out, as a minimal script would: egov's state file and lock, the spec and
prerequisite checks, the image cache's freshness check, rewriting each host's identity
files, the cgroups egov puts each container in, and the progress output.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from egov.lab.aptrepo import CONTAINER_REPOSITORY_PATH
from egov.lab.firewall import SiteLink, build_ruleset, make_table_name
from egov.lab.image import ImageStatus
from egov.lab.network import make_bridge_name
from egov.lab.paths import get_host_dir
from egov.lab.spec import LabSpec

HALT_SECONDS = 12.0
BOOT_SECONDS = 120.0
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def _run(*argv: str, text: str | None = None) -> None:
    subprocess.run(argv, input=text, text=True, check=True, capture_output=True)


def _has_banner(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=1.0) as connection:
            return connection.recv(4) == b"SSH-"
    except OSError:
        return False


@dataclass
class BareLab:
    """What ``bare_up`` started, for ``bare_down`` to stop."""

    spec: LabSpec
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    mounts: list[Path] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)
    forward_before: str = "0"


def bare_up(spec: LabSpec, image: ImageStatus) -> BareLab:
    """Boot ``spec``'s hosts from their existing disks; return once all answer SSH.

    Raise RuntimeError when a host's disk is missing or a host stays silent.
    """
    lab = BareLab(spec, forward_before=IP_FORWARD.read_text().strip())
    links = []
    for site in spec.sites:
        bridge = make_bridge_name(spec.name, site.name)
        _run("ip", "link", "add", bridge, "type", "bridge")
        lab.bridges.append(bridge)
        _run("ip", "addr", "add", f"{site.gateway}/{site.network.prefixlen}", "dev", bridge)
        _run("ip", "link", "set", bridge, "up")
        links.append(SiteLink(bridge, site.network, site.gateway))
    _run("nft", "-f", "-", text=build_ruleset(make_table_name(spec.name), links))
    IP_FORWARD.write_text("1\n")
    for host in spec.hosts:
        directory = get_host_dir(spec.name, host.machine)
        if not (directory / "disk.img").is_file():
            raise RuntimeError(f"{host.machine}: no disk (run egov's up once first)")
        _run("mount", "-o", "loop", str(directory / "disk.img"), str(directory / "disk"))
        lab.mounts.append(directory / "disk")
        options = (
            f"lowerdir={image.rootfs},upperdir={directory / 'disk/upper'},"
            f"workdir={directory / 'disk/work'}"
        )
        _run("mount", "-t", "overlay", "overlay", "-o", options, str(directory / "root"))
        lab.mounts.append(directory / "root")
        with (directory / "console.log").open("ab") as log:
            lab.processes.append(
                subprocess.Popen(
                    ["systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
                     f"--machine={host.machine}", f"--directory={directory / 'root'}",
                     f"--network-bridge={make_bridge_name(spec.name, host.site)}",
                     "--resolv-conf=off", "--timezone=off", "--link-journal=no",
                     "--console=passive",
                     f"--bind-ro={image.repository}:{CONTAINER_REPOSITORY_PATH}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                )
            )  # fmt: skip
    pending = [str(host.address) for host in spec.hosts]
    deadline = time.monotonic() + BOOT_SECONDS
    while pending and time.monotonic() < deadline:
        pending = [address for address in pending if not _has_banner(address)]
        if pending:
            time.sleep(0.05)
    if pending:
        raise RuntimeError(f"no SSH banner within {BOOT_SECONDS:.0f} s: {', '.join(pending)}")
    return lab


def bare_down(lab: BareLab) -> None:
    """Halt every container, then undo the mounts, the bridges, the table and forwarding."""
    for process in lab.processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + HALT_SECONDS
    for process in lab.processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            # power off: SIGKILL the container's init (nspawn's child), nspawn then exits
            for task in Path(f"/proc/{process.pid}/task").iterdir():
                for child in (task / "children").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(child), signal.SIGKILL)
            process.wait()
    for mount in reversed(lab.mounts):
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("umount", str(mount))
    for bridge in lab.bridges:
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("ip", "link", "delete", bridge)
    with contextlib.suppress(subprocess.CalledProcessError):
        _run("nft", "delete", "table", "inet", make_table_name(lab.spec.name))
    IP_FORWARD.write_text(lab.forward_before + "\n")
