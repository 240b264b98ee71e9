"""The CRL lists the revoked certificates with their dates and reasons, signed by the CA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509

from egov.pki.authority import generate_ca_key, make_ca_certificate
from egov.pki.index import IndexEntry, RevocationReason, Status
from egov.pki.revocation import NEXT_UPDATE, make_crl

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _revoked(serial: str, reason: RevocationReason) -> IndexEntry:
    return IndexEntry(
        serial=serial,
        host="primary/db-01",
        names=("primary-db-01",),
        not_before=NOW,
        not_after=NOW + timedelta(days=90),
        status=Status.REVOKED,
        revoked_at=NOW - timedelta(hours=1),
        reason=reason,
    )


def test_the_crl_lists_each_revoked_serial_with_its_reason_and_is_signed_by_the_ca() -> None:
    key = generate_ca_key()
    ca = make_ca_certificate(key, "lab", 3650, NOW, 1)
    revoked = (
        _revoked("A1", RevocationReason.KEY_COMPROMISE),
        _revoked("B2", RevocationReason.UNSPECIFIED),
    )
    crl = make_crl(revoked, key, ca, number=5, now=NOW)
    assert crl.is_signature_valid(key.public_key())
    assert crl.issuer == ca.subject
    assert crl.next_update_utc == NOW + NEXT_UPDATE
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 5
    first = crl.get_revoked_certificate_by_serial_number(0xA1)
    assert first is not None
    assert first.revocation_date_utc == NOW - timedelta(hours=1)
    assert first.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    second = crl.get_revoked_certificate_by_serial_number(0xB2)
    assert second is not None and len(second.extensions) == 0  # RFC 5280: no "unspecified"


def test_an_empty_crl_lists_nothing() -> None:
    key = generate_ca_key()
    crl = make_crl((), key, make_ca_certificate(key, "lab", 3650, NOW, 1), number=1, now=NOW)
    assert len(crl) == 0
