"""The index's verbs: issue supersedes, revoke marks, serials are found in any spelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from egov.pki.index import (
    CertificateIndex,
    IndexEntry,
    RevocationReason,
    Status,
    add_issued,
    find_by_serial,
    find_current,
    format_serial,
    get_revoked,
    revoke,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _entry(serial: str, host: str = "primary/db-01") -> IndexEntry:
    return IndexEntry(
        serial=serial,
        host=host,
        names=("primary-db-01",),
        not_before=NOW,
        not_after=NOW + timedelta(days=90),
    )


def test_issuing_again_supersedes_the_hosts_issued_certificate_only() -> None:
    index = add_issued(add_issued(CertificateIndex(), _entry("A1")), _entry("B2", "site2/db-01"))
    index = add_issued(index, _entry("C3"))
    assert [(item.serial, item.status) for item in index.certificates] == [
        ("A1", Status.SUPERSEDED),
        ("B2", Status.ISSUED),
        ("C3", Status.ISSUED),
    ]
    assert find_current(index, "primary/db-01") == _entry("C3")


def test_a_revoked_certificate_is_not_superseded_later() -> None:
    index = revoke(
        add_issued(CertificateIndex(), _entry("A1")), "A1", RevocationReason.SUPERSEDED, NOW
    )
    index = add_issued(index, _entry("B2"))
    assert index.certificates[0].status is Status.REVOKED


def test_revoke_records_when_and_why() -> None:
    index = revoke(
        add_issued(CertificateIndex(), _entry("A1")), "a1", RevocationReason.KEY_COMPROMISE, NOW
    )
    (entry,) = get_revoked(index)
    assert (entry.status, entry.revoked_at, entry.reason) == (
        Status.REVOKED,
        NOW,
        RevocationReason.KEY_COMPROMISE,
    )
    assert find_current(index, "primary/db-01") is None


def test_revoking_twice_or_an_unknown_serial_is_refused() -> None:
    index = revoke(
        add_issued(CertificateIndex(), _entry("A1")), "A1", RevocationReason.UNSPECIFIED, NOW
    )
    with pytest.raises(ValueError, match="already revoked"):
        revoke(index, "A1", RevocationReason.UNSPECIFIED, NOW)
    with pytest.raises(KeyError):
        revoke(index, "FF", RevocationReason.UNSPECIFIED, NOW)


@pytest.mark.parametrize("spelling", ["1F0A", "1f0a", "0x1F0A", "1F:0A", "001F0A"])
def test_a_serial_is_found_as_openssl_or_a_human_writes_it(spelling: str) -> None:
    index = add_issued(CertificateIndex(), _entry(format_serial(0x1F0A)))
    found = find_by_serial(index, spelling)
    assert found is not None and found.serial == "1F0A"
