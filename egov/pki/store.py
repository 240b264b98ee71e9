"""Where the estate's CA lives on the control node, and the one way its files are read and
written.

One directory per estate, outside the inventory (the inventory is in version control; a CA
key must never be): ``$EGOV_PKI_DIR/<estate>/``, by default ``/var/lib/egov/pki/<estate>/``.
``EGOV_PKI_DIR`` names the root, not the estate's directory, so that two inventories never
share a CA by accident::

    <estate>/          0700
      ca.key           0600  the CA's private key (PKCS#8 PEM); never in argv, logs or errors
      ca.crt           0644  the CA's certificate: what every host will trust
      index.json       0644  every certificate issued (``index.py``)
      crl.pem          0644  the current revocation list (``revocation.py``)
      .lock                  held while a command changes the CA

Every file is replaced atomically (a temporary file beside it, fsync, rename), so a crash
leaves the old file or the new one. Every read goes through ``egov/inputfile.py``: a FIFO, a
directory, a huge or garbled file is one InputError naming the file and the fix (exit 2).
A ``ca.key`` readable by group or others is refused: a CA key that may have leaked signs
nothing more.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from egov.errors import EgovError, InputError
from egov.inputfile import JSON_INPUT, InputLimit, read_input_bytes
from egov.pki.index import CertificateIndex

PKI_DIR_ENVIRONMENT_VARIABLE = "EGOV_PKI_DIR"
DEFAULT_PKI_ROOT = Path("/var/lib/egov/pki")
DIRECTORY_MODE = 0o700
KEY_MODE = 0o600
PUBLIC_MODE = 0o644
KIBIBYTE = 1024
#: a PEM key, certificate or CSR is a few KiB even for RSA 8192; a CRL grows with revocations
KEY_INPUT = InputLimit("private key (PEM)", 64 * KIBIBYTE)
CERTIFICATE_INPUT = InputLimit("certificate (PEM)", 64 * KIBIBYTE)
CSR_INPUT = InputLimit("certificate signing request (PEM)", 64 * KIBIBYTE)
INIT_HINT = "make the estate's CA with `egov pki init -i INVENTORY`"
BACKUP_HINT = "restore the CA directory from its backup (it cannot be remade: hosts trust it)"


@dataclass(frozen=True)
class CaFiles:
    """The files of one estate's CA, under ``directory``."""

    directory: Path

    @property
    def key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def certificate(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def index(self) -> Path:
        return self.directory / "index.json"

    @property
    def crl(self) -> Path:
        return self.directory / "crl.pem"

    @property
    def lock(self) -> Path:
        return self.directory / ".lock"

    def exists(self) -> bool:
        """Whether any part of a CA is there (init refuses to overwrite even half a CA)."""
        return any(path.exists() for path in (self.key, self.certificate, self.index))


def get_pki_dir(estate_name: str) -> Path:
    """The estate's CA directory: ``$EGOV_PKI_DIR/<estate>``, else /var/lib/egov/pki/<estate>.

    >>> get_pki_dir("camau")  # with $EGOV_PKI_DIR unset
    PosixPath('/var/lib/egov/pki/camau')
    """
    root = os.environ.get(PKI_DIR_ENVIRONMENT_VARIABLE) or str(DEFAULT_PKI_ROOT)
    return Path(root) / estate_name


def check_ca_files(files: CaFiles) -> None:
    """InputError unless the CA's key, certificate and index are all there."""
    if not files.exists():
        raise InputError(f"{files.directory}: no CA for this estate yet", INIT_HINT)
    for path in (files.key, files.certificate, files.index):
        if not path.exists():
            raise InputError(f"{path}: missing from the estate's CA", BACKUP_HINT)


def make_directory(directory: Path) -> None:
    """Make ``directory`` (and its parents) mode 0700; InputError when it cannot be."""
    try:
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        directory.chmod(DIRECTORY_MODE)
    except OSError as error:
        raise InputError(
            f"{directory}: cannot make the CA directory: {error.strerror}",
            f"run as a user who may write there, or set ${PKI_DIR_ENVIRONMENT_VARIABLE}",
        ) from None


@contextmanager
def hold_lock(files: CaFiles) -> Iterator[None]:
    """Hold the CA's lock: two commands issuing at once would each supersede, or lose,
    the other's index entry."""
    try:
        descriptor = os.open(files.lock, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, KEY_MODE)
    except OSError as error:
        raise InputError(
            f"{files.lock}: cannot lock the CA: {error.strerror}",
            f"run as the user who owns {files.directory}",
        ) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write ``key`` as PKCS#8 PEM, 0600 from its first byte (O_EXCL: never over a key)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, KEY_MODE)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(pem)
        stream.flush()
        os.fsync(stream.fileno())
    path.chmod(KEY_MODE)  # O_CREAT's mode is cut by the umask, never widened


def write_file_atomic(path: Path, data: bytes, mode: int = PUBLIC_MODE) -> None:
    """Replace ``path`` with ``data``: a reader sees the old file or the new, never half.

    EgovError (exit 1: the work failed, the old file is intact) when it cannot be written.
    """
    try:
        _replace(path, data, mode)
    except OSError as error:
        raise EgovError(
            f"{path}: cannot write: {error.strerror}",
            "free space or fix the permissions, then run again (the old file is intact)",
        ) from None


def _replace(path: Path, data: bytes, mode: int) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def load_ca_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The CA's private key; InputError (naming the file, never its content) when it is
    readable by others, unreadable, or not an EC private key in PEM."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError as error:
        raise InputError(f"{path}: cannot read the CA key: {error.strerror}", BACKUP_HINT) from None
    if mode & 0o077:
        raise InputError(
            f"{path}: the CA key is readable by others than its owner (mode {mode:04o})",
            f"chmod 600 {path}; if anyone else may have read it, make a new CA and reissue",
        )
    data = read_input_bytes(path, KEY_INPUT)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError(f"{path}: not the CA's EC private key in PEM", BACKUP_HINT)
    return key


def load_certificate(path: Path) -> x509.Certificate:
    """The PEM certificate at ``path``; InputError naming the file when it is not one."""
    data = read_input_bytes(path, CERTIFICATE_INPUT)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise InputError(f"{path}: not a PEM certificate", BACKUP_HINT) from None


def read_index(path: Path) -> CertificateIndex:
    """The index at ``path``; InputError naming the file when it is not one."""
    data = read_input_bytes(path, JSON_INPUT)
    try:
        return CertificateIndex.model_validate_json(data)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the file"
        raise InputError(
            f"{path}: not the CA's certificate index ({where}: {problem['msg']})", BACKUP_HINT
        ) from None


def make_index_bytes(index: CertificateIndex) -> bytes:
    """The index as the JSON ``read_index`` reads."""
    return (index.model_dump_json(indent=1) + "\n").encode("utf-8")


def read_csr(path: Path) -> x509.CertificateSigningRequest:
    """The CSR at ``path`` (PEM, or DER); InputError naming the file when it is not one."""
    data = read_input_bytes(path, CSR_INPUT)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError:
        raise InputError(
            f"{path}: not a certificate signing request (PEM or DER)",
            "give the CSR the host made (openssl req -new, or egov.pki.hostkey.make_csr)",
        ) from None
