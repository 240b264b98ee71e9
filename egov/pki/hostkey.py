"""What a host runs to get a certificate: its own key, its request, and the chain check.

The host's private key is made on the host and never leaves it (issue 15): the deploy will
run these there, send the CSR to the control node and bring the signed certificate back.
They are pure functions over ``cryptography`` objects, so the deploy decides where the bytes
go; nothing here reads or writes a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from ipaddress import ip_address

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: the host key's curve: the one the CA uses, and every TLS peer of the estate accepts
HOST_KEY_CURVE = ec.SECP256R1


def generate_host_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 private key (see ``authority.py`` for why P-256)."""
    return ec.generate_private_key(HOST_KEY_CURVE())


def make_csr(
    key: ec.EllipticCurvePrivateKey, names: Sequence[str]
) -> x509.CertificateSigningRequest:
    """A CSR signed by ``key`` for ``names`` (DNS names and IP addresses, the first the
    common name), e.g. ``HostNames.as_strings()``.

    The CA ignores the names (it derives them from the inventory); they are there so that
    a human reading the request sees which host it is for. ValueError on no names.
    """
    if not names:
        raise ValueError("a CSR needs at least one name")
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName(general), critical=False)
        .sign(key, hashes.SHA256())
    )


def verify_chain(
    certificate: x509.Certificate, ca_certificate: x509.Certificate, at: datetime | None = None
) -> bool:
    """Whether ``certificate`` was issued and signed by ``ca_certificate`` and, when ``at`` is
    given, both are valid at that moment. A cheap check for the deploy before installing a
    certificate; the services' TLS stacks do the full path validation themselves."""
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if at is None:
        return True
    return all(
        item.not_valid_before_utc <= at <= item.not_valid_after_utc
        for item in (certificate, ca_certificate)
    )
