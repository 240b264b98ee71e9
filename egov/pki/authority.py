"""The estate's CA as certificates: the CA's own, and a host's signed from its CSR (pure).

Key type: ECDSA on P-256 with SHA-256, for the CA and the hosts. Every TLS peer of the
estate accepts it: PostgreSQL 15 and nginx (OpenSSL), rclone, restic's ``--cacert``,
Prometheus, its exporters and Alertmanager (Go's crypto/tls verifies ECDSA P-256, P-384 and
RSA chains). Ed25519 would do for OpenSSL 1.1.1+ and Go, but not for browsers (an operator
opening an exporter's page), Java before 15 (the province's applications), nor most HSMs a
production CA may move to: P-256 is the one choice nobody refuses. RSA keys of 2048 bits or
more and P-384 are accepted in a CSR too, for hosts whose software makes its own keys.

Validity: the CA 10 years (renewing a CA means redeploying every trust store; it is done
on purpose, not by a timer), a host 90 days (short enough that a forgotten certificate of a
retired host dies on its own; the rotation of issue 15 renews them well before).

Nothing here touches a file or the clock: ``now`` and the serial are parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from egov.pki.names import HostNames

CA_VALIDITY_DAYS = 3650
HOST_VALIDITY_DAYS = 90
#: a certificate starts a little in the past: a host whose clock lags still accepts it
CLOCK_SKEW = timedelta(minutes=5)
MINIMUM_RSA_BITS = 2048
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1)
ACCEPTED_KEYS = "ECDSA P-256 or P-384, or RSA of 2048 bits or more"
SIGNATURE_HASH = hashes.SHA256


class CsrRefused(ValueError):
    """The CSR is not one this CA signs; the message says why, without any key material."""


def generate_ca_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 key for the CA."""
    return ec.generate_private_key(ec.SECP256R1())


def make_ca_name(estate_name: str) -> x509.Name:
    """The CA's subject: ``CN=egov <estate> internal CA, O=egov estate <estate>``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"egov {estate_name} internal CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"egov estate {estate_name}"),
        ]
    )


def make_ca_certificate(
    key: ec.EllipticCurvePrivateKey, estate_name: str, days: int, now: datetime, serial: int
) -> x509.Certificate:
    """The CA's self-signed certificate: CA:true with path length 0 (it signs hosts, never
    another CA), key usage keyCertSign and cRLSign only, valid ``days`` from ``now``."""
    name = make_ca_name(estate_name)
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(certificate_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, SIGNATURE_HASH())
    )


def check_csr(csr: x509.CertificateSigningRequest) -> x509.CertificateSigningRequest:
    """``csr`` when its signature verifies and its key is one of ACCEPTED_KEYS; CsrRefused
    otherwise (a CSR signed by another key, a weak or unsupported key)."""
    try:
        signed = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, TypeError):  # a key type cryptography cannot load
        raise CsrRefused(f"its key is of an unsupported type; accepted: {ACCEPTED_KEYS}") from None
    if not signed:
        raise CsrRefused("its signature does not verify (not signed by the key it carries)")
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MINIMUM_RSA_BITS:
            raise CsrRefused(
                f"its RSA key has {public_key.key_size} bits, fewer than {MINIMUM_RSA_BITS}"
            )
        return csr
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if isinstance(public_key.curve, ACCEPTED_CURVES):
            return csr
        raise CsrRefused(f"its curve {public_key.curve.name} is not accepted; {ACCEPTED_KEYS}")
    kind = type(public_key).__name__.removeprefix("_").removesuffix("PublicKey") or "unknown"
    raise CsrRefused(f"its key ({kind}) is not accepted; accepted: {ACCEPTED_KEYS}")


def make_host_certificate(
    csr: x509.CertificateSigningRequest,
    names: HostNames,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    *,
    days: int,
    now: datetime,
    serial: int,
) -> x509.Certificate:
    """The certificate of the key in ``csr`` (already ``check_csr``-ed) for ``names``.

    Only the CSR's public key is used: the subject is ``CN=<site-host>`` and the SANs are
    ``names``, whatever the CSR asked for. serverAuth and clientAuth: the same host is a
    server to some peers and a client to others (a replica, a backup agent). CsrRefused when
    the CA expires before the certificate would (renew the CA first, or ask fewer days).
    """
    not_after = now + timedelta(days=days)
    if not_after > ca_certificate.not_valid_after_utc:
        raise CsrRefused(
            f"the CA expires on {ca_certificate.not_valid_after_utc:%Y-%m-%d}, before "
            f"the {days} days asked"
        )
    public_key = csr.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CsrRefused(f"its key is of an unsupported type; accepted: {ACCEPTED_KEYS}")
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names.common_name)]))
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(key_encipherment=isinstance(public_key, rsa.RSAPublicKey)), critical=True
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(make_general_names(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, SIGNATURE_HASH())
    )


def make_general_names(names: HostNames) -> Sequence[x509.GeneralName]:
    """``names`` as SAN entries: DNS names, then IP addresses."""
    return [
        *(x509.DNSName(name) for name in names.dns_names),
        *(x509.IPAddress(address) for address in names.addresses),
    ]


def _key_usage(*, certificate_sign: bool = False, key_encipherment: bool = False) -> x509.KeyUsage:
    """A CA signs certificates and CRLs only; a host signs handshakes (and an RSA host's key
    also enciphers, for the TLS 1.2 RSA key exchange)."""
    return x509.KeyUsage(
        digital_signature=not certificate_sign,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_sign,
        crl_sign=certificate_sign,
        encipher_only=False,
        decipher_only=False,
    )
