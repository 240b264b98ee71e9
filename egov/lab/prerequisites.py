"""What the machine needs before the lab can touch it: root, systemd-nspawn, debootstrap.

The checks take the effective user id and the program lookup as parameters so that tests can
simulate a non-root user or a missing program without being either.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from egov.errors import LabInputError
from egov.execute import find_program

#: Programs the lab runs, with the Debian package that provides each.
REQUIRED_PROGRAMS: tuple[tuple[str, str], ...] = (
    ("systemd-nspawn", "systemd-container"),
    ("debootstrap", "debootstrap"),
    ("nsenter", "util-linux"),
    ("nft", "nftables"),
    ("tc", "iproute2"),
    ("ip", "iproute2"),
    ("mkfs.ext4", "e2fsprogs"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("apt-ftparchive", "apt-utils"),
)
INSTALL_HINT_PACKAGES = ("systemd-container", "debootstrap")


def check_host_prerequisites(
    euid: int | None = None,
    which: Callable[[str], str | None] = find_program,
) -> None:
    """Raise LabInputError (exit 2) unless we are root and every required program is present.

    ``euid`` defaults to the real effective user id; ``which`` to a $PATH (plus sbin) lookup.
    """
    uid = os.geteuid() if euid is None else euid
    if uid != 0:
        raise LabInputError(
            "the lab needs root (it creates containers, bridges, mounts and nftables rules)",
            hint="run it as root, e.g. with sudo",
        )
    missing = [
        (program, package) for program, package in REQUIRED_PROGRAMS if which(program) is None
    ]
    if missing:
        programs = ", ".join(program for program, _ in missing)
        packages = sorted({*INSTALL_HINT_PACKAGES, *(package for _, package in missing)})
        command = f"apt-get install {' '.join(packages)}"
        raise LabInputError(
            f"the lab needs programs that are not installed: {programs} (install: {command})",
            hint=f"run `{command}` as root",
        )
