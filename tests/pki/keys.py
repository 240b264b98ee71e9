"""CSRs the CA must refuse (or accept), made with real keys."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from egov.pki.authority import generate_ca_key, make_ca_certificate
from egov.pki.hostkey import generate_host_key

SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil.example")])


def _build() -> x509.CertificateSigningRequestBuilder:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(SUBJECT)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("evil.example")]), critical=False)
    )


@cache
def make_rsa_csr(bits: int) -> x509.CertificateSigningRequest:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _build().sign(key, hashes.SHA256())


def make_ed25519_csr() -> x509.CertificateSigningRequest:
    return _build().sign(ed25519.Ed25519PrivateKey.generate(), None)


def make_secp256k1_csr() -> x509.CertificateSigningRequest:
    return _build().sign(ec.generate_private_key(ec.SECP256K1()), hashes.SHA256())


def make_p384_csr() -> x509.CertificateSigningRequest:
    return _build().sign(ec.generate_private_key(ec.SECP384R1()), hashes.SHA384())


@cache
def make_dsa_csr() -> x509.CertificateSigningRequest:
    return _build().sign(dsa.generate_private_key(key_size=2048), hashes.SHA256())


def make_badly_signed_csr_der() -> bytes:
    """A P-256 CSR whose signature's last byte is changed: it parses, it does not verify."""
    der = bytearray(
        _build().sign(generate_host_key(), hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    )
    der[-1] ^= 0x01
    return bytes(der)


def pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def make_certificate_pem() -> bytes:
    """A certificate, where a CSR is expected."""
    certificate = make_ca_certificate(generate_ca_key(), "other", 1, datetime.now(UTC), 1)
    return certificate.public_bytes(serialization.Encoding.PEM)
