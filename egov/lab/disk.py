"""Each host's own disk: a sparse ext4 image, loop-mounted, holding the overlay's upper layer.

Why not the upper layer straight on the host's disk: filling a host's filesystem (a fault the
drills need) would then fill the real machine's disk. With its own bounded ext4
(``LabHost.disk_bytes``: 4 GiB unless the host's ``data: {lab_disk: …}`` says otherwise; no
reserved blocks) a host sees a disk of that size (overlayfs reports the upper filesystem in
``df``), filling it fills only that file, and ``fallocate`` leaves the sparse image nearly
empty on the real disk. The disk survives power off/on, like a server's;
``down --purge`` removes it.

Layout under ``<state>/estates/<estate>/hosts/<machine>/``: ``disk.img``, ``disk/`` (its mount:
``upper/``, ``work/``), ``root/`` (the overlay the container boots), ``image-key``.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from egov import execute
from egov.errors import LabError, LabInputError

FILL_FILE_NAME = ".egov-lab-fill"
FILL_CHUNK_BYTES = 1024**2
MIN_FILL_CHUNK_BYTES = 4096


def build_overlay_options(lower: Path, disk_mount: Path) -> str:
    """Return the overlay mount options for a host root: image below, the host's disk above."""
    return f"lowerdir={lower},upperdir={disk_mount / 'upper'},workdir={disk_mount / 'work'}"


def get_mount_points() -> list[str]:
    """Return the host's mount points in mount order (later mounts may sit on earlier ones)."""
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 1:
            points.append(fields[1].replace("\\040", " "))
    return points


def is_mounted(path: Path) -> bool:
    """Return whether something is mounted on ``path``."""
    return str(path) in get_mount_points()


def check_disk_image_key(host_dir: Path, image_key: str) -> None:
    """Raise LabInputError when the host's disk exists and was made over another image.

    Its upper layer holds changes to that image's files; over another lower layer it would be
    a different, inconsistent system.
    """
    key_file = host_dir / "image-key"
    if key_file.is_file() and key_file.read_text().strip() != image_key:
        raise LabInputError(
            f"host disk in {host_dir} was made over image {key_file.read_text().strip()}, "
            f"not the current image {image_key}",
            hint="run `egov lab down --purge` to recreate the hosts over the new image",
        )


def run_prepare_root(host_dir: Path, image_rootfs: Path, image_key: str, disk_bytes: int) -> Path:
    """Create (first time) and mount the host's disk and overlay root; return the root path.

    ``disk_bytes`` sizes a new disk only: an existing disk keeps the size it was made with.

    Idempotent: what is already there and mounted is kept. Raise LabInputError when the host's
    disk was made over another image (its upper layer would not match this lower layer).
    """
    check_disk_image_key(host_dir, image_key)
    host_dir.mkdir(parents=True, exist_ok=True)
    image = host_dir / "disk.img"
    key_file = host_dir / "image-key"
    if not image.is_file():
        execute.run_command(("truncate", "--size", str(disk_bytes), str(image) + ".new"))
        execute.run_command(("mkfs.ext4", "-q", "-F", "-m", "0", str(image) + ".new"))
        Path(str(image) + ".new").replace(image)
        key_file.write_text(image_key + "\n")
    disk = host_dir / "disk"
    root = host_dir / "root"
    disk.mkdir(exist_ok=True)
    root.mkdir(exist_ok=True)
    if not is_mounted(disk):
        execute.run_command(("mount", "-o", "loop", str(image), str(disk)))
    (disk / "upper").mkdir(exist_ok=True)
    (disk / "work").mkdir(exist_ok=True)
    if not is_mounted(root):
        options = build_overlay_options(image_rootfs, disk)
        execute.run_command(("mount", "-t", "overlay", "overlay", "-o", options, str(root)))
    return root


def run_unmount_under(directory: Path) -> list[str]:
    """Unmount everything mounted below ``directory``, newest first; return what was unmounted.

    Loop devices go with their mount (``mount -o loop`` sets autoclear).
    """
    prefix = str(directory).rstrip("/") + "/"
    inside = [p for p in get_mount_points() if p.startswith(prefix)]
    done = []
    for point in reversed(inside):
        if point in done:
            continue
        execute.run_command(("umount", point))
        done.append(point)
    return done


def run_fill(root: Path, path_in_host: str) -> Path:
    """Fill the filesystem holding ``path_in_host`` (inside the host root ``root``) to the brim;
    called again, take what was freed since.

    Only the host's own disk can be filled: a path on another filesystem (the read-only apt
    repository, /proc, a tmpfs) raises LabInputError. Return the fill file created.
    """
    target = root / path_in_host.lstrip("/")
    if not target.is_dir():
        raise LabInputError(f"{path_in_host} is not a directory on the host")
    if target.stat().st_dev != root.stat().st_dev:
        raise LabInputError(
            f"{path_in_host} is not on the host's own disk; only the host disk can be filled"
        )
    fill = target / FILL_FILE_NAME
    stats = os.statvfs(target)
    descriptor = os.open(fill, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    free = stats.f_bavail * stats.f_frsize
    try:
        try:
            if free:  # zero bytes is EINVAL: a disk filled already is only topped up below
                os.posix_fallocate(descriptor, 0, free)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise LabError(f"cannot fill {path_in_host}: {error}") from error
        # fallocate stops short by the metadata it needs; top up until the disk refuses.
        chunk = FILL_CHUNK_BYTES
        while chunk >= MIN_FILL_CHUNK_BYTES:
            try:
                os.write(descriptor, b"\0" * chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise LabError(f"cannot fill {path_in_host}: {error}") from error
                chunk //= 2
    finally:
        os.close(descriptor)
    return fill


def run_unfill(root: Path, path_in_host: str) -> None:
    """Remove the fill file from ``path_in_host``; nothing happens if it is gone."""
    (root / path_in_host.lstrip("/") / FILL_FILE_NAME).unlink(missing_ok=True)


def run_remove_host_dir(host_dir: Path) -> None:
    """Delete a host's state (disk image included); it must not be mounted."""
    if host_dir.exists():
        shutil.rmtree(host_dir)
