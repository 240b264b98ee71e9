"""The estate's drill signing key: ed25519, kept on the control node, signs every journal's close.

The hash chain alone proves nothing against someone who rewrites a journal and hashes it
again; a signature by a key that never leaves the control node does. The private key is a
PKCS#8 PEM file, mode 0600, created on first use; the public key sits beside it in OpenSSH
format (``ssh-ed25519 AAAA… egov-drill-<estate>``) so an auditor can be handed it alone, and
its fingerprint is what ``ssh-keygen -lf`` prints (``SHA256:…``).

Default place: ``/etc/egov/secrets/drill-signing-<estate>.key`` (where egov keeps the control
node's other secret files), else ``$EGOV_DRILL_KEY`` or ``--signing-key``. The private key's
bytes never reach a log, an argv, a report or an exception message: errors name the file only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from egov.errors import InputError
from egov.hostlayout import SECRET_DIRECTORY

SIGNING_KEY_ENVIRONMENT_VARIABLE = "EGOV_DRILL_KEY"
DEFAULT_KEY_DIRECTORY = Path(SECRET_DIRECTORY)
PRIVATE_KEY_MODE = 0o600
PUBLIC_KEY_MODE = 0o644
KEY_DIRECTORY_MODE = 0o700
KEY_HINT = (
    "the drill signing key is made on the control node by the first `egov drill run`; "
    "keep it (mode 0600) and a backup of it, or give --signing-key / $EGOV_DRILL_KEY"
)


class SigningKeyError(InputError):
    """The signing key cannot be made, read or trusted (the message names the file only)."""


@dataclass(frozen=True)
class SigningKey:
    """A private ed25519 key and its fingerprint; ``repr`` never shows the key."""

    private_key: Ed25519PrivateKey = field(repr=False)
    path: Path

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half, which verifies what this key signs."""
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        """``SHA256:…`` as ``ssh-keygen -lf`` prints it for the public key."""
        return make_fingerprint(self.public_key)

    def sign(self, message: bytes) -> str:
        """The base64 ed25519 signature of ``message``."""
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")


def get_signing_key_path(estate_name: str, option: Path | None = None) -> Path:
    """``option``, else ``$EGOV_DRILL_KEY``, else the default place.

    >>> get_signing_key_path("camau")  # with $EGOV_DRILL_KEY unset
    PosixPath('/etc/egov/secrets/drill-signing-camau.key')
    """
    if option is not None:
        return option
    from_environment = os.environ.get(SIGNING_KEY_ENVIRONMENT_VARIABLE)
    if from_environment:
        return Path(from_environment)
    return DEFAULT_KEY_DIRECTORY / f"drill-signing-{estate_name}.key"


def get_public_key_path(private_key_path: Path) -> Path:
    """The public key file beside the private one: ``drill-signing-lab.key`` → ``….pub``."""
    return private_key_path.with_suffix(".pub")


def make_fingerprint(public_key: Ed25519PublicKey) -> str:
    """``SHA256:<base64, unpadded>`` of the key's SSH wire blob (as ``ssh-keygen -lf``)."""
    blob = base64.b64decode(_openssh_line(public_key).split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def check_signature(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``public_key``'s signature of ``message``."""
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def get_or_create_signing_key(path: Path, estate_name: str) -> SigningKey:
    """The key at ``path``, made (0600, with its ``.pub``) when there is none yet.

    Raise SigningKeyError when the file is readable by others than its owner (a key that
    may have leaked signs nothing), unreadable, or not an ed25519 private key; and when the
    key is gone but its ``.pub`` is still there: a new key would silently replace the one the
    estate's journals verify against.
    """
    if not path.exists():
        public_path = get_public_key_path(path)
        if public_path.exists():
            raise SigningKeyError(
                f"{path}: the drill signing key is missing, its public key {public_path} is not",
                f"restore the key from its backup; or, to start a new key on purpose, move "
                f"{public_path} where auditors keep old keys (journals closed before verify "
                "with it) and run again",
            )
        _create(path, estate_name)
    return load_signing_key(path)


def load_signing_key(path: Path) -> SigningKey:
    """The private key at ``path``; SigningKeyError (naming the file only) when unusable."""
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as error:
        raise SigningKeyError(
            f"{path}: cannot read the drill signing key: {error.strerror}", KEY_HINT
        ) from None
    if mode & 0o077:
        raise SigningKeyError(
            f"{path}: the drill signing key is readable by others (mode {mode:04o})",
            f"chmod 600 {path}; if others may have read it, make a new key and say so",
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an ed25519 private key in PEM", KEY_HINT)
    return SigningKey(private_key=key, path=path)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key in ``path`` (OpenSSH ``ssh-ed25519 …``), or derived from the private key
    ``path`` when it is one. SigningKeyError when neither."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningKeyError(
            f"{path}: cannot read the drill public key: {error.strerror}", KEY_HINT
        ) from None
    if data.lstrip().startswith(b"-----BEGIN PRIVATE KEY-----"):
        return load_signing_key(path).public_key
    try:
        key = serialization.load_ssh_public_key(data.strip())
    except (ValueError, TypeError, binascii.Error):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an ed25519 public key (ssh-ed25519 …)", KEY_HINT)
    return key


def _openssh_line(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")


def _create(path: Path, estate_name: str) -> None:
    """Write a new key pair: the private file 0600 from its first byte (O_EXCL, no umask
    window), in a 0700 directory when egov makes it."""
    try:
        path.parent.mkdir(mode=KEY_DIRECTORY_MODE, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_KEY_MODE)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(pem)
            stream.flush()
            os.fsync(stream.fileno())
        path.chmod(PRIVATE_KEY_MODE)  # O_CREAT's mode is cut by the umask, never widened
        public_path = get_public_key_path(path)
        public_path.write_text(
            f"{_openssh_line(key.public_key())} egov-drill-{estate_name}\n", encoding="ascii"
        )
        public_path.chmod(PUBLIC_KEY_MODE)
    except FileExistsError:
        return  # another run made it just now: use theirs
    except OSError as error:
        raise SigningKeyError(
            f"{path}: cannot make the drill signing key: {error.strerror}", KEY_HINT
        ) from None
