"""Where the lab keeps its state and its image cache.

State (per-host disks, the state file, the lab SSH key) lives under ``EGOV_LAB_DIR``
(default ``/var/lib/egov/lab``); the image cache (base images and their apt repositories), which
``down --purge`` keeps, under ``EGOV_LAB_CACHE`` (default ``/var/cache/egov/lab``). Functions, not
constants, so tests can point them elsewhere through the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "EGOV_LAB_DIR"
CACHE_DIR_ENV = "EGOV_LAB_CACHE"
DEFAULT_STATE_DIR = Path("/var/lib/egov/lab")
DEFAULT_CACHE_DIR = Path("/var/cache/egov/lab")
#: Each container's nspawn runs in its own cgroup, in both the named systemd hierarchy and the
#: unified one (cgroup v1 hybrid): with ``--keep-unit`` nspawn builds ``supervisor``/``payload``
#: inside the caller's cgroup (read from the unified hierarchy, created in both), so containers
#: started from one cgroup would share one and their systemds would fight.
CGROUP_ROOTS: tuple[Path, ...] = (
    Path("/sys/fs/cgroup/unified/egov-lab"),
    Path("/sys/fs/cgroup/systemd/egov-lab"),
)


def get_state_dir() -> Path:
    """Return the root of the lab state (``EGOV_LAB_DIR``)."""
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def get_cache_dir() -> Path:
    """Return the root of the image cache (``EGOV_LAB_CACHE``)."""
    return Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)


def get_ssh_dir() -> Path:
    """Return the directory of the lab SSH key and known_hosts, shared by every estate."""
    return get_state_dir() / "ssh"


def get_ssh_key_path() -> Path:
    """Return the lab's private SSH key (``<state>/ssh/id_ed25519``, mode 0600)."""
    return get_ssh_dir() / "id_ed25519"


def get_known_hosts_path() -> Path:
    """Return the lab known_hosts file, filled with each host's key when it is created."""
    return get_ssh_dir() / "known_hosts"


def get_estates_dir() -> Path:
    """Return the directory holding one state directory per estate."""
    return get_state_dir() / "estates"


def get_estate_dir(estate: str) -> Path:
    """Return the state directory of one estate (its state file, lock and hosts)."""
    return get_estates_dir() / estate


def get_host_dir(estate: str, machine: str) -> Path:
    """Return the state directory of one host: its disk image, mount points and console log."""
    return get_estate_dir(estate) / "hosts" / machine


def get_images_dir() -> Path:
    """Return the directory of cached images, one sub-directory per recipe key."""
    return get_cache_dir() / "images"


def get_cgroup_dirs(estate: str, machine: str | None = None) -> tuple[Path, ...]:
    """Return the cgroups (one per hierarchy) a host's nspawn runs in, or the estate's."""
    tail = (estate, machine) if machine else (estate,)
    return tuple(root.joinpath(*tail) for root in CGROUP_ROOTS if root.parent.is_dir())
