"""The index of what the CA issued: one entry per certificate, and the verbs that change it.

The index is the CA's memory: which serial went to which host, which certificate is a host's
current one, which were superseded by a newer one and which were revoked (the CRL is made
from it). It is JSON (``index.json`` beside the CA, written atomically by ``store.py``);
everything here is pure: each verb returns a new index.

A re-issued host's previous certificate becomes ``superseded``, not revoked: it stays valid
until it expires, so that a service still presenting it keeps working until the deploy
installs the new one. ``egov pki revoke`` puts it on the CRL when that is not acceptable.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

INDEX_VERSION = 1


class Status(StrEnum):
    """Where a certificate stands."""

    ISSUED = "issued"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class RevocationReason(StrEnum):
    """Why a certificate was revoked (RFC 5280's reason codes that apply to a host)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key-compromise"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation-of-operation"
    AFFILIATION_CHANGED = "affiliation-changed"


class IndexEntry(BaseModel):
    """One issued certificate. ``serial`` is upper-case hex, as ``openssl x509 -serial``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: str = Field(pattern=r"^[0-9A-F]+$")
    host: str = Field(description="site/host", examples=["primary/db-01"])
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    status: Status = Status.ISSUED
    revoked_at: datetime | None = None
    reason: RevocationReason | None = None


class CertificateIndex(BaseModel):
    """Every certificate the CA issued, oldest first, and the number of the last CRL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=INDEX_VERSION, ge=INDEX_VERSION, le=INDEX_VERSION)
    crl_number: int = Field(default=0, ge=0)
    certificates: tuple[IndexEntry, ...] = ()


def format_serial(serial: int) -> str:
    """``0x1f`` → ``"1F"``."""
    return f"{serial:X}"


def add_issued(index: CertificateIndex, entry: IndexEntry) -> CertificateIndex:
    """``index`` with ``entry`` added and the same host's issued certificates superseded."""
    kept = tuple(
        item.model_copy(update={"status": Status.SUPERSEDED})
        if item.host == entry.host and item.status is Status.ISSUED
        else item
        for item in index.certificates
    )
    return index.model_copy(update={"certificates": (*kept, entry)})


def find_by_serial(index: CertificateIndex, serial: str) -> IndexEntry | None:
    """The entry of ``serial`` (hex, any case, with or without ``0x`` or colons), if any."""
    wanted = serial.strip().upper().removeprefix("0X").replace(":", "").lstrip("0") or "0"
    return next((item for item in index.certificates if item.serial == wanted), None)


def find_current(index: CertificateIndex, host: str) -> IndexEntry | None:
    """The issued (not superseded, not revoked) certificate of ``host`` (site/host), if any."""
    return next(
        (
            item
            for item in reversed(index.certificates)
            if item.host == host and item.status is Status.ISSUED
        ),
        None,
    )


def revoke(
    index: CertificateIndex, serial: str, reason: RevocationReason, now: datetime
) -> CertificateIndex:
    """``index`` with the certificate ``serial`` revoked at ``now`` for ``reason``.

    KeyError when no certificate has that serial; ValueError when it is already revoked.
    """
    entry = find_by_serial(index, serial)
    if entry is None:
        raise KeyError(serial)
    if entry.status is Status.REVOKED:
        raise ValueError(f"{entry.serial} was already revoked")
    revoked = entry.model_copy(
        update={"status": Status.REVOKED, "revoked_at": now, "reason": reason}
    )
    return index.model_copy(
        update={
            "certificates": tuple(
                revoked if item.serial == entry.serial else item for item in index.certificates
            )
        }
    )


def get_revoked(index: CertificateIndex) -> tuple[IndexEntry, ...]:
    """The revoked certificates, which the CRL lists (expired ones too: a CRL lists what was
    revoked while it was valid; removing them is a later optimisation, not a need)."""
    return tuple(item for item in index.certificates if item.status is Status.REVOKED)
