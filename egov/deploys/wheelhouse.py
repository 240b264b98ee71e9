"""The agent's wheelhouse: egov and its dependencies as wheels, packed in one stable tar.

Hosts are offline (the lab's are closed, a government data centre's often are), so the control
node builds the wheels and the deploy uploads them. The tar is byte-for-byte stable for the
same source, so an unchanged estate re-deploys without reinstalling anything.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from egov.errors import InputError
from egov.execute import run_command
from egov.hostlayout import CACHE_DIRECTORY

SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip (a wheel) can hold
CACHE_ENVIRONMENT_VARIABLE = "EGOV_CACHE"
DEFAULT_CACHE = Path(CACHE_DIRECTORY)


def get_source_tree() -> Path:
    """The egov source checkout this process runs from (an editable install)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise InputError(
            "egov is not running from a source checkout, so it cannot build the agent's wheels",
            "run egov deploy from a checkout (pip install -e .) or pass --no-agent",
        )
    return root


def get_cache_directory() -> Path:
    """Where built wheelhouses are kept between runs."""
    return Path(os.environ.get(CACHE_ENVIRONMENT_VARIABLE, str(DEFAULT_CACHE))) / "wheelhouse"


def make_source_key(root: Path) -> str:
    """A hash of everything that goes into egov's wheel: the package and its metadata."""
    digest = hashlib.sha256()
    paths = [root / "pyproject.toml", root / "README.md"]
    paths += sorted(path for path in (root / "egov").rglob("*") if path.is_file())
    for path in paths:
        if "__pycache__" in path.parts or not path.exists():
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def pack_wheels(wheels: list[Path], target: Path) -> Path:
    """Write ``wheels`` into a tar whose bytes depend only on the wheels' names and bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for wheel in sorted(wheels, key=lambda path: path.name):
            data = wheel.read_bytes()
            info = tarfile.TarInfo(wheel.name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(SOURCE_DATE_EPOCH)
            archive.addfile(info, io.BytesIO(data))
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".partial")
    temporary.write_bytes(buffer.getvalue())
    temporary.replace(target)
    return target


def build_wheelhouse(cache: Path | None = None) -> Path:
    """The wheelhouse tar for the current source tree, built once per source state."""
    root = get_source_tree()
    cache = cache or get_cache_directory()
    target = cache / f"egov-wheelhouse-{make_source_key(root)}.tar"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(prefix="egov-wheels-") as scratch:
        wheels = Path(scratch)
        environment = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
        pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
        run_command(
            (*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(root)),
            environment=environment,
        )
        egov_wheel = next(wheels.glob("egov-*.whl"))
        run_command(
            (
                *pip,
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--dest",
                str(wheels),
                str(egov_wheel),
            ),
            environment=environment,
        )
        return pack_wheels(sorted(wheels.glob("*.whl")), target)


def make_requirements_key(requirements: Sequence[str]) -> str:
    """A hash of a requirement list and of the interpreter the wheels are picked for.

    pip picks binary wheels for this interpreter's version and platform, which the hosts
    share (Debian 12's Python 3.11 on the same architecture), so both belong in the key.
    """
    digest = hashlib.sha256()
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}\n".encode())
    digest.update(f"{platform.machine()}\n".encode())
    digest.update("\n".join(sorted(requirements)).encode())
    return digest.hexdigest()[:20]


def build_requirements_wheelhouse(
    name: str, requirements: Sequence[str], cache: Path | None = None
) -> Path:
    """A stable wheelhouse tar of ``requirements`` and their dependencies, built once per list.

    For the hosts' extra tools (the lab's S3 server); ``name`` prefixes the cached file.
    Requirements should be pinned: the cache is keyed on the list, not on what the index
    offers later. Raise CommandFailed when pip cannot download them.
    """
    cache = cache or get_cache_directory()
    target = cache / f"{name}-wheelhouse-{make_requirements_key(requirements)}.tar"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(prefix=f"{name}-wheels-") as scratch:
        wheels = Path(scratch)
        run_command(
            (
                sys.executable,
                "-m",
                "pip",
                "--disable-pip-version-check",
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--dest",
                str(wheels),
                *requirements,
            ),
        )
        return pack_wheels(sorted(wheels.glob("*.whl")), target)
