"""Files compared by digest, never diffed: secrets, and archives too large to diff.

A secret must never appear in a diff, a log or a process's argv.

``files.put`` logs a diff of what it changes (pyinfra's DIFF), which would print the secret in
a dry run; this operation compares SHA-256 digests instead and uploads through SFTP into a
directory only its owner can enter, so the file is never readable by others, even briefly.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Generator
from io import StringIO
from typing import IO, Any

from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand, operation
from pyinfra.api.command import QuoteString
from pyinfra.facts.files import Directory, File, Sha256File


def _ensure_file(
    dest: str,
    source: str | IO[Any],
    digest: str,
    user: str,
    group: str,
    mode: str,
    directory_mode: str,
) -> Generator[StringCommand | FileUploadCommand, None, None]:
    """Commands making ``dest`` the file whose SHA-256 is ``digest``, compared, never diffed."""
    directory = posixpath.dirname(dest)
    if not host.get_fact(Directory, path=directory):
        yield StringCommand(
            "install", "-d", "-m", directory_mode, "-o", "root", "-g", group, QuoteString(directory)
        )
    if host.get_fact(Sha256File, path=dest) != digest:
        temporary = posixpath.join(directory, f".{posixpath.basename(dest)}.egov-upload")
        yield FileUploadCommand(source, dest, remote_temp_filename=temporary)
        yield StringCommand("chown", f"{user}:{group}", QuoteString(dest))
        yield StringCommand("chmod", mode, QuoteString(dest))
        return
    info: dict[str, Any] = host.get_fact(File, path=dest) or {}  # type: ignore[arg-type]
    if info.get("user") != user or info.get("group") != group:
        yield StringCommand("chown", f"{user}:{group}", QuoteString(dest))
    if f"{info.get('mode', '')}" != mode.lstrip("0"):
        yield StringCommand("chmod", mode, QuoteString(dest))


@operation()
def secret_file(
    dest: str,
    content: str,
    user: str = "root",
    group: str = "root",
    mode: str = "600",
    directory_mode: str = "750",
) -> Generator[StringCommand | FileUploadCommand, None, None]:
    """Ensure ``dest`` holds ``content`` (a secret), owned by ``user:group`` with ``mode``.

    The parent directory is created ``directory_mode`` first, so the upload never sits in a
    readable place. The content is compared by digest and never logged.

    Example::

        secret_file(name="Database password", dest="/etc/egov/secrets/db-portal",
                    content=password, user="egov-canary", group="egov-canary")
    """
    digest = hashlib.sha256(content.encode()).hexdigest()
    yield from _ensure_file(dest, StringIO(content), digest, user, group, mode, directory_mode)


@operation()
def binary_file(
    src: str,
    dest: str,
    digest: str,
    user: str = "root",
    group: str = "root",
    mode: str = "644",
) -> Generator[StringCommand | FileUploadCommand, None, None]:
    """Ensure ``dest`` is a copy of the local file ``src`` whose SHA-256 is ``digest``.

    For archives (wheelhouses): ``files.put`` would fetch the remote copy to show a text diff
    of a binary file, tens of megabytes through the SSH channel, for nothing.
    """
    yield from _ensure_file(dest, src, digest, user, group, mode, "755")
