"""Installing the egov agent on a host from an uploaded wheelhouse: hosts need no index.

The wheelhouse travels as one tar file; the installed venv records the tar's SHA-256, so the
agent is reinstalled exactly when the wheelhouse changed or a previous install did not finish.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from pyinfra import host
from pyinfra.facts.files import FileContents
from pyinfra.operations import files, server

from egov.deploys.context import DeployContext
from egov.deploys.secretfile import binary_file
from egov.hostlayout import COMMAND_LINK, INSTALL_ROOT

AGENT_ROOT = INSTALL_ROOT
AGENT_VENV = f"{AGENT_ROOT}/venv"
AGENT_STAMP = f"{AGENT_VENV}/.wheelhouse-sha256"
WHEELHOUSE_TAR = f"{AGENT_ROOT}/wheelhouse.tar"


def get_wheelhouse_digest(tar: Path) -> str:
    """SHA-256 of a wheelhouse tar, computed once per file state (every host asks)."""
    stat = tar.stat()
    return _digest(str(tar), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key only
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def get_agent_venv(digest: str) -> str:
    """The venv an agent built from the wheelhouse ``digest`` lives in.

    Units point at this versioned path, so a new agent changes their files and restarts them.
    """
    return f"{AGENT_ROOT}/venv-{digest[:16]}"


def make_install_commands(digest: str) -> list[str]:
    """Shell commands installing the agent from the uploaded tar into a fresh venv.

    venvs hard-code their own path, so each install gets its own directory and the
    ``venv`` symlink is switched to it only once it works: a failed install leaves the
    previous agent in place.
    """
    target = get_agent_venv(digest)
    wheelhouse = f"{AGENT_ROOT}/wheelhouse"
    return [
        f"rm -rf {wheelhouse} {target} && mkdir -p {wheelhouse}",
        f"tar -xf {WHEELHOUSE_TAR} -C {wheelhouse}",
        f"python3 -m venv {target}",
        f"{target}/bin/pip install --quiet --no-index --find-links {wheelhouse} egov",
        f"echo {digest} > {target}/.wheelhouse-sha256",
        f"ln -sfn {target} {AGENT_VENV}.new && mv -T {AGENT_VENV}.new {AGENT_VENV}",
        f"find {AGENT_ROOT} -maxdepth 1 -name 'venv-*' ! -path {target} -exec rm -rf {{}} +",
    ]


def install_agent(context: DeployContext) -> None:
    """Upload the wheelhouse and (re)install the agent when it changed."""
    if context.wheelhouse is None:
        host.noop("no wheelhouse given: the egov agent is left as it is")
        return
    digest = get_wheelhouse_digest(Path(context.wheelhouse))
    files.directory(name="Agent directory", path=AGENT_ROOT, mode="755")
    binary_file(
        name="Upload the agent's wheelhouse",
        src=str(context.wheelhouse),
        dest=WHEELHOUSE_TAR,
        digest=digest,
    )
    stamp = host.get_fact(FileContents, path=AGENT_STAMP)
    if not stamp or stamp[0].strip() != digest:
        server.shell(name="Install the egov agent", commands=make_install_commands(digest))
    files.link(
        name="Put egov on the PATH",
        path=COMMAND_LINK,
        target=f"{AGENT_VENV}/bin/egov",
    )
