"""The CA's certificate and a host's: their extensions, names, validity, and refused CSRs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from egov.pki.authority import (
    CLOCK_SKEW,
    CsrRefused,
    check_csr,
    generate_ca_key,
    make_ca_certificate,
    make_host_certificate,
)
from egov.pki.hostkey import generate_host_key, make_csr
from egov.pki.names import HostNames
from tests.pki import keys

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NAMES = HostNames(("primary-db-01", "db-01", "db-01.primary"), (IPv4Address("10.213.1.20"),))


def test_the_ca_certificate_is_a_ca_of_path_length_0_signing_certificates_and_crls() -> None:
    key = generate_ca_key()
    ca = make_ca_certificate(key, "camau-lab", 3650, NOW, 42)
    assert ca.subject == ca.issuer
    assert "egov camau-lab internal CA" in ca.subject.rfc4514_string()
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert ca.not_valid_before_utc == NOW - CLOCK_SKEW
    assert ca.not_valid_after_utc == NOW + timedelta(days=3650)
    ca.verify_directly_issued_by(ca)


def test_a_host_certificate_has_the_inventorys_names_not_the_csrs() -> None:
    key = generate_ca_key()
    ca = make_ca_certificate(key, "lab", 3650, NOW, 1)
    csr = make_csr(generate_host_key(), ("evil.example", "10.9.9.9"))
    certificate = make_host_certificate(csr, NAMES, key, ca, days=90, now=NOW, serial=7)
    certificate.verify_directly_issued_by(ca)
    assert certificate.subject.rfc4514_string() == "CN=primary-db-01"
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["primary-db-01", "db-01", "db-01.primary"]
    assert san.get_values_for_type(x509.IPAddress) == [IPv4Address("10.213.1.20")]
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert certificate.not_valid_after_utc == NOW + timedelta(days=90)
    assert certificate.serial_number == 7
    assert certificate.public_key() == csr.public_key()


def test_a_certificate_outliving_the_ca_is_refused() -> None:
    key = generate_ca_key()
    ca = make_ca_certificate(key, "lab", 30, NOW, 1)
    csr = make_csr(generate_host_key(), ("x",))
    with pytest.raises(CsrRefused, match="the CA expires on"):
        make_host_certificate(csr, NAMES, key, ca, days=90, now=NOW, serial=7)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keys.make_rsa_csr(2048),
        keys.make_p384_csr,
        lambda: make_csr(generate_host_key(), ("x",)),
    ],
    ids=["rsa-2048", "p-384", "p-256"],
)
def test_accepted_keys_pass(make: object) -> None:
    assert callable(make)
    csr = make()
    assert check_csr(csr) is csr


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: keys.make_rsa_csr(1024), "1024 bits, fewer than 2048"),
        (keys.make_ed25519_csr, "Ed25519"),
        (keys.make_secp256k1_csr, "secp256k1 is not accepted"),
        (keys.make_dsa_csr, "DSA"),
        (lambda: x509.load_der_x509_csr(keys.make_badly_signed_csr_der()), "does not verify"),
    ],
    ids=["rsa-1024", "ed25519", "secp256k1", "dsa", "bad-signature"],
)
def test_refused_csrs_say_why(make: object, words: str) -> None:
    assert callable(make)
    with pytest.raises(CsrRefused, match=words):
        check_csr(make())
