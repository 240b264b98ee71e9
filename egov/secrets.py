"""Reading secrets from their references, on the control node only.

A secret is referenced in the inventory as ``file:/path`` (a root-only file) or ``env:NAME``.
Values are returned to the caller and never logged, put in argv or in an exception message;
errors name the reference, never the value.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from egov.errors import InputError

SECRET_FILE_MODE = 0o600
GENERATED_SECRET_BYTES = 24


def read_secret(reference: str) -> str:
    """The value behind ``reference``, without its trailing newline.

    Raise InputError when the file is missing, empty, or readable by anyone but its owner, or
    when the environment variable is unset.
    """
    kind, _, name = reference.partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if not value:
            raise InputError(f"secret {reference} is not set", f"export {name} before running egov")
        return value
    path = Path(name)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(
            f"secret file {path} does not exist",
            f"create it with the secret on one line, then chmod 600 {path}",
        ) from None
    if info.st_mode & 0o077:
        raise InputError(
            f"secret file {path} is readable by others (mode {stat.filemode(info.st_mode)})",
            f"chmod 600 {path}",
        )
    value = path.read_text(encoding="utf-8").rstrip("\n")
    if not value:
        raise InputError(f"secret file {path} is empty", "put the secret on its first line")
    return value


def create_missing_secrets(references: Iterable[str], under: Path) -> list[Path]:
    """Generate random values for the ``file:`` references below ``under`` that do not exist.

    Only the lab does this: production secrets are the province's to create. Returns the files
    created, each 0600 in a 0700 directory.
    """
    created = []
    for reference in references:
        kind, _, name = reference.partition(":")
        path = Path(name)
        if kind != "file" or not path.is_relative_to(under) or path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(GENERATED_SECRET_BYTES) + "\n")
        created.append(path)
    return created


def list_secret_references(value: object) -> list[str]:
    """Every secret reference in a model dump (``model_dump()``), in order, without repeats."""
    found: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, dict):
            for child in item.values():
                walk(child)
        elif isinstance(item, list):
            for child in item:
                walk(child)
        elif isinstance(item, str) and item.startswith(("file:/", "env:")):
            found.append(item)

    walk(value)
    return list(dict.fromkeys(found))
