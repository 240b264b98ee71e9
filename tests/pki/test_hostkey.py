"""What a host runs: its P-256 key, its CSR, and the chain check before installing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from egov.pki.authority import generate_ca_key, make_ca_certificate, make_host_certificate
from egov.pki.hostkey import generate_host_key, make_csr, verify_chain
from egov.pki.names import HostNames

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NAMES = HostNames(("primary-db-01", "db-01", "db-01.primary"), (IPv4Address("10.213.1.20"),))


def _ca(name: str = "lab") -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = generate_ca_key()
    return key, make_ca_certificate(key, name, 3650, NOW, 1)


def _issued(ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]) -> x509.Certificate:
    csr = make_csr(generate_host_key(), NAMES.as_strings())
    return make_host_certificate(csr, NAMES, ca[0], ca[1], days=90, now=NOW, serial=7)


def test_the_host_key_is_ecdsa_p256() -> None:
    key = generate_host_key()
    assert isinstance(key.curve, ec.SECP256R1)


def test_a_csr_carries_the_names_given_dns_and_ip_and_verifies() -> None:
    csr = make_csr(generate_host_key(), NAMES.as_strings())
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=primary-db-01"
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["primary-db-01", "db-01", "db-01.primary"]
    assert san.get_values_for_type(x509.IPAddress) == [IPv4Address("10.213.1.20")]


def test_a_csr_needs_a_name() -> None:
    with pytest.raises(ValueError, match="at least one name"):
        make_csr(generate_host_key(), ())


def test_a_certificate_chains_to_its_ca_and_not_to_another() -> None:
    ca = _ca()
    certificate = _issued(ca)
    assert verify_chain(certificate, ca[1])
    assert verify_chain(certificate, ca[1], at=NOW + timedelta(days=30))
    assert not verify_chain(certificate, _ca("other")[1])


def test_an_expired_certificate_fails_the_chain_check_at_a_later_time() -> None:
    ca = _ca()
    assert not verify_chain(_issued(ca), ca[1], at=NOW + timedelta(days=91))
