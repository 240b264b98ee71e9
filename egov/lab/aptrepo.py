"""The lab's internal apt mirror: every package a deploy may install, downloaded once.

Production data centres of this kind install from an internal mirror; the lab does the same. The
packages (with their dependencies and recommends) are downloaded inside the image chroot at image
build time, indexed with ``apt-ftparchive``, stored beside the image and bind-mounted read-only
into every container at ``/srv/lab-apt``, the containers' only apt source. Deploys then really
install, offline. Adding a package here changes the image key, so the next ``lab up`` rebuilds.
"""

from __future__ import annotations

from pathlib import Path

from egov.deploys.packages import get_all_packages

#: Tools the lab's hosts carry for people and tests, beyond what the deploys install.
LAB_TOOLS: tuple[str, ...] = ("curl", "jq", "rsync", "python3-pip")

#: Every package a deploy installs (egov.deploys.packages is the one list) plus the lab tools.
REPOSITORY_PACKAGES: tuple[str, ...] = tuple(sorted({*get_all_packages(), *LAB_TOOLS}))

#: Where the repository appears inside each container.
CONTAINER_REPOSITORY_PATH = "/srv/lab-apt"
#: Where packages are downloaded inside the chroot while the image is built.
CHROOT_DOWNLOAD_PATH = "/var/cache/egov-lab-apt"
#: The containers' one and only apt source.
CONTAINER_SOURCES_LIST = f"deb [trusted=yes] file:{CONTAINER_REPOSITORY_PATH} ./\n"

CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND": "noninteractive",
    "LC_ALL": "C.UTF-8",
    "HOME": "/root",
}


def build_download_argv(rootfs: Path, packages: tuple[str, ...]) -> tuple[str, ...]:
    """Return the argv that downloads ``packages`` and their dependencies into the chroot.

    Packages already in the image are not downloaded again: containers have them installed.
    """
    return (
        "chroot",
        str(rootfs),
        "apt-get",
        "install",
        "--download-only",
        "--yes",
        "-o",
        f"Dir::Cache::archives={CHROOT_DOWNLOAD_PATH}/",
        *packages,
    )


def build_index_argv() -> tuple[str, ...]:
    """Return the argv, run inside the repository directory, that prints its Packages index."""
    return ("apt-ftparchive", "packages", ".")
