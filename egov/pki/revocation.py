"""The certificate revocation list: the index's revoked certificates, signed by the CA (pure).

A peer that checks the CRL refuses a revoked certificate even before it expires. The CRL
is valid for 7 days (``NEXT_UPDATE``): long enough to survive a weekend without the control
node, short enough that a peer which stopped receiving CRLs fails closed within a week
instead of trusting a revoked certificate forever. Every ``egov pki revoke`` and
``egov pki crl`` signs a fresh one with the next CRL number.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from egov.pki.authority import CLOCK_SKEW, SIGNATURE_HASH
from egov.pki.index import IndexEntry, RevocationReason

NEXT_UPDATE = timedelta(days=7)

_REASON_FLAGS = {
    RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
}


def make_crl(
    revoked: tuple[IndexEntry, ...],
    ca_key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    *,
    number: int,
    now: datetime,
) -> x509.CertificateRevocationList:
    """The CRL number ``number`` listing ``revoked`` (each with its date and reason), issued
    ``now`` and to be replaced within NEXT_UPDATE."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_certificate.subject)
        .last_update(now - CLOCK_SKEW)
        .next_update(now + NEXT_UPDATE)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    for entry in revoked:
        item = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry.serial, 16))
            .revocation_date(entry.revoked_at or now)
        )
        if entry.reason is not None and entry.reason is not RevocationReason.UNSPECIFIED:
            # RFC 5280: the reason code "unspecified" should be absent rather than written
            item = item.add_extension(x509.CRLReason(_REASON_FLAGS[entry.reason]), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    return builder.sign(ca_key, SIGNATURE_HASH())
