"""The base image: a debootstrapped Debian with systemd and sshd, cached by a hash of its recipe.

Every host's root is an overlay whose lower layer is this image, so the image is never written
after it is built. It is built in ``<cache>/images/<key>.building`` and renamed into place only
when complete: an interrupted build leaves no image that looks ready. The recipe (suite, variant,
included packages, apt repository packages, format version) is hashed into the key; changing any
of it makes a new image and leaves the old one for ``image_prune``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from egov import execute
from egov.errors import LabError, LabInputError
from egov.lab.aptrepo import (
    CHROOT_DOWNLOAD_PATH,
    CHROOT_ENV,
    CONTAINER_REPOSITORY_PATH,
    CONTAINER_SOURCES_LIST,
    REPOSITORY_PACKAGES,
    build_download_argv,
    build_index_argv,
)
from egov.lab.mirror import AptSource, get_mirror_sources
from egov.lab.paths import get_images_dir
from egov.lab.progress import NoProgress, Progress

#: Bump when the customisation below changes, so cached images are rebuilt.
IMAGE_FORMAT_VERSION = 1

BASE_PACKAGES: tuple[str, ...] = (
    "dbus",
    "iproute2",
    "iputils-ping",
    "netbase",
    "openssh-server",
    "procps",
    "python3",
    "systemd",
    "systemd-sysv",
)

#: Host keys are made per host when it is created; passwords are refused from the start.
SSHD_LAB_CONFIG = """\
# egov lab: per-host ed25519 key made at creation, keys only.
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
"""

#: Journals on the host's own disk, bounded, so idle containers do not hold them in memory.
JOURNALD_LAB_CONFIG = """\
[Journal]
Storage=persistent
SystemMaxUse=64M
RuntimeMaxUse=8M
"""

#: Units that reach outside or only cost boot time in a lab container.
MASKED_UNITS: tuple[str, ...] = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "console-getty.service",
    "systemd-networkd-wait-online.service",
)


@dataclass(frozen=True)
class ImageRecipe:
    """What goes into the image; hashed into its key."""

    suite: str = "bookworm"
    variant: str = "minbase"
    include: tuple[str, ...] = BASE_PACKAGES
    repository_packages: tuple[str, ...] = REPOSITORY_PACKAGES
    format_version: int = IMAGE_FORMAT_VERSION


DEFAULT_RECIPE = ImageRecipe()


@dataclass(frozen=True)
class ImageStatus:
    """What the cache holds for a recipe; ``state`` is ``ready`` or ``missing``."""

    key: str
    state: str
    path: Path
    built_at: str | None = None
    build_seconds: float | None = None
    repository_package_count: int | None = None
    other_keys: tuple[str, ...] = field(default=())

    @property
    def rootfs(self) -> Path:
        """The image's root, the overlays' lower layer."""
        return self.path / "rootfs"

    @property
    def repository(self) -> Path:
        """The apt repository directory, bind-mounted read-only into containers."""
        return self.path / "apt"


def make_recipe_key(recipe: ImageRecipe) -> str:
    """Return the cache key of ``recipe``: 16 hex digits of the SHA-256 of its canonical JSON.

    Package order does not matter; any other change gives a new key.
    """
    data = asdict(recipe)
    data["include"] = sorted(recipe.include)
    data["repository_packages"] = sorted(recipe.repository_packages)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def build_debootstrap_argv(recipe: ImageRecipe, rootfs: Path, mirror: str) -> tuple[str, ...]:
    """Return the debootstrap argv for ``recipe`` into ``rootfs`` from ``mirror``."""
    return (
        "debootstrap",
        f"--variant={recipe.variant}",
        f"--include={','.join(sorted(recipe.include))}",
        recipe.suite,
        str(rootfs),
        mirror,
    )


def get_image_status(recipe: ImageRecipe = DEFAULT_RECIPE) -> ImageStatus:
    """Return the cache state of ``recipe``'s image (never builds)."""
    key = make_recipe_key(recipe)
    path = get_images_dir() / key
    others = tuple(sorted(p.name for p in _list_images() if p.name != key))
    info_path = path / "image.json"
    if not info_path.is_file():
        return ImageStatus(key=key, state="missing", path=path, other_keys=others)
    info = json.loads(info_path.read_text())
    return ImageStatus(
        key=key,
        state="ready",
        path=path,
        built_at=info.get("built_at"),
        build_seconds=info.get("build_seconds"),
        repository_package_count=info.get("repository_package_count"),
        other_keys=others,
    )


def image_build(
    recipe: ImageRecipe = DEFAULT_RECIPE,
    progress: Progress | None = None,
    *,
    force: bool = False,
    in_use: frozenset[str] = frozenset(),
) -> ImageStatus:
    """Build ``recipe``'s image and apt repository unless cached; return its status.

    ``force`` rebuilds a ready image; LabInputError when its key is ``in_use`` by a lab (pass
    ``lifecycle.get_image_in_use()``): running hosts have it as their lower layer. Raise LabError
    or CommandFailed when debootstrap or apt fail; the half-built directory is removed.
    """
    progress = progress or NoProgress()
    status = get_image_status(recipe)
    if force and status.key in in_use:
        raise LabInputError(
            f"image {status.key} is in use by a lab", hint="run `egov lab down` before rebuilding"
        )
    if status.state == "ready" and not force:
        return status
    get_images_dir().mkdir(parents=True, exist_ok=True)
    with _build_lock():
        status = get_image_status(recipe)
        if status.state == "ready" and not force:
            return status
        started = time.monotonic()
        work = status.path.with_name(status.key + ".building")
        _remove_tree(work)
        work.mkdir(parents=True)
        try:
            count = _build_into(recipe, work, progress)
            info = {
                "recipe": asdict(recipe),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "build_seconds": round(time.monotonic() - started, 1),
                "repository_package_count": count,
            }
            (work / "image.json").write_text(json.dumps(info, indent=2) + "\n")
            _remove_tree(status.path)
            work.rename(status.path)
        except BaseException:
            _remove_tree(work)
            raise
    return get_image_status(recipe)


def image_prune(in_use: frozenset[str] = frozenset(), *, keep_current: bool = True) -> list[str]:
    """Remove cached images other than the current recipe's and those in ``in_use``.

    With ``keep_current`` false the current image goes too (unless in use). Return the keys
    removed. Leftover ``.building`` directories of interrupted builds are removed as well.
    """
    current = make_recipe_key(DEFAULT_RECIPE)
    removed = []
    with _build_lock():
        for path in _list_images(include_partial=True):
            key = path.name.removesuffix(".building")
            if key in in_use and not path.name.endswith(".building"):
                continue
            if keep_current and key == current and not path.name.endswith(".building"):
                continue
            _remove_tree(path)
            removed.append(path.name)
    return removed


def _build_into(recipe: ImageRecipe, work: Path, progress: Progress) -> int:
    """Debootstrap, fill the apt repository and customise the image in ``work``."""
    rootfs = work / "rootfs"
    repository = work / "apt"
    sources = get_mirror_sources(recipe.suite)
    progress.step(f"debootstrap {recipe.suite} ({recipe.variant}) from {sources[0].uri}")
    execute.run_command(build_debootstrap_argv(recipe, rootfs, sources[0].uri))
    progress.step(
        f"downloading {len(recipe.repository_packages)} packages for the lab apt repository"
    )
    count = _fill_repository(rootfs, repository, sources, recipe.repository_packages)
    progress.step("customising the image")
    _customise(rootfs, repository)
    return count


def _fill_repository(
    rootfs: Path, repository: Path, sources: tuple[AptSource, ...], packages: tuple[str, ...]
) -> int:
    """Download ``packages`` with dependencies inside the chroot, index them; return the count."""
    (rootfs / "etc/apt/sources.list").write_text("".join(s.to_line() + "\n" for s in sources))
    download = rootfs / CHROOT_DOWNLOAD_PATH.lstrip("/")
    (download / "partial").mkdir(parents=True, exist_ok=True)
    execute.run_command(("chroot", str(rootfs), "apt-get", "update"), environment=CHROOT_ENV)
    execute.run_command(build_download_argv(rootfs, packages), environment=CHROOT_ENV)
    repository.mkdir()
    debs = sorted(download.glob("*.deb"))
    for deb in debs:
        deb.rename(repository / deb.name)
    shutil.rmtree(download)
    index = execute.run_command(build_index_argv(), cwd=repository)
    (repository / "Packages").write_text(index.stdout)
    if not debs:
        raise LabError("the lab apt repository is empty: apt downloaded nothing")
    return len(debs)


def _customise(rootfs: Path, repository: Path) -> None:
    """Make the image host-neutral, closed and lean (see the module constants for why)."""
    etc = rootfs / "etc"
    for key in (etc / "ssh").glob("ssh_host_*"):
        key.unlink()
    (etc / "ssh/sshd_config.d").mkdir(exist_ok=True)
    (etc / "ssh/sshd_config.d/10-egov-lab.conf").write_text(SSHD_LAB_CONFIG)
    (etc / "systemd/journald.conf.d").mkdir(parents=True, exist_ok=True)
    (etc / "systemd/journald.conf.d/10-egov-lab.conf").write_text(JOURNALD_LAB_CONFIG)
    # Empty: systemd makes a machine-id per container at first boot.
    (etc / "machine-id").write_text("")
    (etc / "hostname").unlink(missing_ok=True)
    # debootstrap copied the build machine's resolver: the lab has no DNS beyond itself.
    (etc / "resolv.conf").unlink(missing_ok=True)
    (etc / "resolv.conf").write_text("")
    (etc / "apt/sources.list").write_text(CONTAINER_SOURCES_LIST)
    for extra in (etc / "apt/sources.list.d").glob("*"):
        extra.unlink()
    execute.run_command(("systemctl", f"--root={rootfs}", "enable", "systemd-networkd.service"))
    execute.run_command(("systemctl", f"--root={rootfs}", "mask", *MASKED_UNITS))
    mount_point = rootfs / CONTAINER_REPOSITORY_PATH.lstrip("/")
    mount_point.mkdir(parents=True, exist_ok=True)
    # Index the lab repository once here, so a fresh container can install without an update.
    execute.run_command(("mount", "--bind", "-o", "ro", str(repository), str(mount_point)))
    try:
        execute.run_command(("chroot", str(rootfs), "apt-get", "update"), environment=CHROOT_ENV)
    finally:
        execute.run_command(("umount", str(mount_point)))
    execute.run_command(("chroot", str(rootfs), "apt-get", "clean"), environment=CHROOT_ENV)


def _list_images(*, include_partial: bool = False) -> list[Path]:
    directory = get_images_dir()
    if not directory.is_dir():
        return []
    return [
        p
        for p in directory.iterdir()
        if p.is_dir() and (include_partial or not p.name.endswith(".building"))
    ]


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise image builds and prunes between processes."""
    get_images_dir().mkdir(parents=True, exist_ok=True)
    with (get_images_dir() / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _remove_tree(path: Path) -> None:
    """Remove ``path`` after unmounting anything an interrupted build left mounted in it."""
    if not path.exists():
        return
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    inside = [line.split()[1] for line in mounts if line.split()[1].startswith(str(path) + "/")]
    for mount_point in sorted(inside, reverse=True):
        execute.run_command(("umount", "--lazy", mount_point), check=False)
    shutil.rmtree(path)
