"""``egov pki`` init, issue, list, revoke and crl: the pure parts composed with the files.

Each action checks everything it reads before it writes anything: a refused CSR, a garbled
index, a CA key others can read is an InputError (exit 2) and leaves the CA as it was. The
actions that change the CA hold its lock (``store.hold_lock``) and write the index and the
CRL atomically. They return results; ``egov/cli/pki.py`` renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from egov.errors import InputError
from egov.inventory.model import Estate, HostRef
from egov.inventory.selectors import resolve_host
from egov.pki import authority, index, revocation, store
from egov.pki.index import CertificateIndex, IndexEntry, RevocationReason
from egov.pki.names import make_host_names


@dataclass(frozen=True)
class Initialised:
    """A new CA: where it is and its certificate."""

    directory: Path
    certificate: x509.Certificate


@dataclass(frozen=True)
class Issued:
    """A signed certificate, its PEM and its index entry."""

    pem: bytes
    entry: IndexEntry


@dataclass(frozen=True)
class Listing:
    """The CA's expiry and every certificate it issued, with ``now`` to count days from."""

    directory: Path
    ca_subject: str
    ca_not_after: datetime
    certificates: tuple[IndexEntry, ...]
    now: datetime

    def get_days_left(self, not_after: datetime) -> int:
        """Whole days from ``now`` until ``not_after`` (negative once it has passed)."""
        return (not_after - self.now).days


@dataclass(frozen=True)
class Revoked:
    """The certificates just revoked and the CRL that now lists them."""

    entries: tuple[IndexEntry, ...]
    crl_pem: bytes


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _check_days(days: int, most: int) -> None:
    if not 1 <= days <= most:
        raise InputError(f"--days {days}: not between 1 and {most}", f"give 1 to {most} days")


def run_init(estate: Estate, days: int | None = None) -> Initialised:
    """Make the estate's CA, valid ``days`` (default 10 years): its key, certificate, an
    empty index and an empty CRL.

    InputError, and nothing touched, when any part of a CA is already there: a second CA
    would silently cut every host off the one they trust.
    """
    days = authority.CA_VALIDITY_DAYS if days is None else days
    _check_days(days, 2 * authority.CA_VALIDITY_DAYS)
    files = store.CaFiles(store.get_pki_dir(estate.name))
    if files.exists():
        raise InputError(
            f"{files.directory}: the estate {estate.name} has a CA already",
            "keep it (hosts trust it); to start again on purpose, move the directory away first",
        )
    store.make_directory(files.directory)
    with store.hold_lock(files):
        now = _now()
        key = authority.generate_ca_key()
        certificate = authority.make_ca_certificate(
            key, estate.name, days, now, x509.random_serial_number()
        )
        empty = CertificateIndex()
        store.write_private_key(files.key, key)
        store.write_file_atomic(files.certificate, _pem(certificate))
        crl = revocation.make_crl((), key, certificate, number=1, now=now)
        store.write_file_atomic(files.crl, crl.public_bytes(serialization.Encoding.PEM))
        store.write_file_atomic(
            files.index, store.make_index_bytes(empty.model_copy(update={"crl_number": 1}))
        )
    return Initialised(files.directory, certificate)


def run_issue(estate: Estate, ref: HostRef, csr_path: Path, days: int | None = None) -> Issued:
    """Sign the CSR at ``csr_path`` for ``ref``, valid ``days`` (default 90), with the names
    the inventory gives it, and record it; the host's previous certificate becomes
    superseded. InputError (nothing changed) for a CSR that is unreadable, garbled, badly
    signed or of a refused key."""
    days = authority.HOST_VALIDITY_DAYS if days is None else days
    _check_days(days, authority.CA_VALIDITY_DAYS)
    files = _existing(estate)
    names = make_host_names(estate, ref)
    csr = store.read_csr(csr_path)
    try:
        authority.check_csr(csr)
    except authority.CsrRefused as error:
        raise InputError(
            f"{csr_path}: refused: {error}",
            f"make the host's key and CSR again ({authority.ACCEPTED_KEYS})",
        ) from None
    with store.hold_lock(files):
        ca_key, ca_certificate = _load_authority(files)
        current = store.read_index(files.index)
        now = _now()
        try:
            certificate = authority.make_host_certificate(
                csr,
                names,
                ca_key,
                ca_certificate,
                days=days,
                now=now,
                serial=x509.random_serial_number(),
            )
        except authority.CsrRefused as error:
            raise InputError(f"{csr_path}: refused: {error}", "ask for fewer --days") from None
        entry = IndexEntry(
            serial=index.format_serial(certificate.serial_number),
            host=ref.selector,
            names=names.as_strings(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
        )
        store.write_file_atomic(
            files.index, store.make_index_bytes(index.add_issued(current, entry))
        )
    return Issued(_pem(certificate), entry)


def get_listing(estate: Estate) -> Listing:
    """What the CA issued and when it expires itself (reads only; needs no key)."""
    files = _existing(estate)
    ca_certificate = store.load_certificate(files.certificate)
    current = store.read_index(files.index)
    return Listing(
        directory=files.directory,
        ca_subject=ca_certificate.subject.rfc4514_string(),
        ca_not_after=ca_certificate.not_valid_after_utc,
        certificates=current.certificates,
        now=_now(),
    )


def run_revoke(estate: Estate, target: str, reason: RevocationReason) -> Revoked:
    """Revoke ``target``, a serial (hex) or a host selector (its current certificate), and
    sign a new CRL. InputError, nothing changed, when it names no certificate or one
    already revoked."""
    files = _existing(estate)
    with store.hold_lock(files):
        current = store.read_index(files.index)
        serials = _serials_of(estate, current, target)
        ca_key, ca_certificate = _load_authority(files)
        now = _now()
        changed = current
        for serial in serials:
            try:
                changed = index.revoke(changed, serial, reason, now)
            except ValueError as error:
                raise InputError(f"{target}: {error}", "egov pki list shows each status") from None
        crl_pem = _sign_crl(files, changed, ca_key, ca_certificate, now)
    revoked = tuple(entry for entry in changed.certificates if entry.serial in serials)
    return Revoked(revoked, crl_pem)


def run_crl(estate: Estate) -> bytes:
    """Sign a fresh CRL (valid 7 more days) from the index and return its PEM."""
    files = _existing(estate)
    with store.hold_lock(files):
        current = store.read_index(files.index)
        ca_key, ca_certificate = _load_authority(files)
        return _sign_crl(files, current, ca_key, ca_certificate, _now())


def _sign_crl(
    files: store.CaFiles,
    current: CertificateIndex,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    now: datetime,
) -> bytes:
    """Sign the next CRL of ``current``; write the index holding its number, then the CRL
    (an interrupted run leaves a CRL number unused, never one used twice, and the next
    ``egov pki crl`` signs what the index says)."""
    number = current.crl_number + 1
    crl = revocation.make_crl(
        index.get_revoked(current), ca_key, ca_certificate, number=number, now=now
    )
    pem = crl.public_bytes(serialization.Encoding.PEM)
    updated = current.model_copy(update={"crl_number": number})
    store.write_file_atomic(files.index, store.make_index_bytes(updated))
    store.write_file_atomic(files.crl, pem)
    return pem


def _serials_of(estate: Estate, current: CertificateIndex, target: str) -> tuple[str, ...]:
    """The serial ``target`` names, else the current certificate of the host it selects."""
    entry = index.find_by_serial(current, target)
    if entry is not None:
        return (entry.serial,)
    try:
        ref = resolve_host(estate, target, "serial or host")
    except InputError:
        raise InputError(
            f"{target!r}: no certificate has this serial, and it names no host",
            "give a serial or a host as `egov pki list` shows them",
        ) from None
    found = index.find_current(current, ref.selector)
    if found is None:
        raise InputError(
            f"{ref.selector}: has no issued certificate to revoke", "egov pki list shows them"
        )
    return (found.serial,)


def _load_authority(
    files: store.CaFiles,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The CA's key and certificate; InputError when the key is not the certificate's (a
    ``ca.key`` from another CA would sign certificates no host could verify)."""
    key = store.load_ca_key(files.key)
    certificate = store.load_certificate(files.certificate)
    if certificate.public_key() != key.public_key():
        raise InputError(f"{files.key}: not the key of {files.certificate}", store.BACKUP_HINT)
    return key, certificate


def _existing(estate: Estate) -> store.CaFiles:
    files = store.CaFiles(store.get_pki_dir(estate.name))
    store.check_ca_files(files)
    return files


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)
