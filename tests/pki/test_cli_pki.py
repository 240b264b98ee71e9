"""``egov pki`` through the real CLI in-process: init, issue, list, revoke, crl, checked with
``cryptography`` and, where it is installed, ``openssl verify -crl_check``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from egov.cli import run
from egov.pki.hostkey import verify_chain
from egov.pki.store import CaFiles
from tests.pki.conftest import LAB_INVENTORY, SONGXANH_INVENTORY, snapshot

LAB = ["-i", str(LAB_INVENTORY)]


def _index(ca: CaFiles) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(ca.index.read_text())
    return loaded


def _issue(
    host: str, csr: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> x509.Certificate:
    assert run(["pki", "issue", *LAB, host, "--csr", str(csr), *extra]) == 0
    return x509.load_pem_x509_certificate(capsys.readouterr().out.encode())


def test_init_makes_the_ca_with_its_modes(lab_ca: CaFiles) -> None:
    assert lab_ca.directory.stat().st_mode & 0o777 == 0o700
    assert lab_ca.key.stat().st_mode & 0o777 == 0o600
    for public in (lab_ca.certificate, lab_ca.crl, lab_ca.index):
        assert public.stat().st_mode & 0o777 == 0o644
    ca = x509.load_pem_x509_certificate(lab_ca.certificate.read_bytes())
    assert "camau-lab" in ca.subject.rfc4514_string()
    crl = x509.load_pem_x509_crl(lab_ca.crl.read_bytes())
    assert crl.is_signature_valid(ca.public_key()) and len(crl) == 0  # type: ignore[arg-type]
    assert _index(lab_ca) == {"version": 1, "crl_number": 1, "certificates": []}


def test_init_refuses_when_a_ca_exists_and_touches_nothing(
    lab_ca: CaFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(lab_ca.directory)
    assert run(["pki", "init", *LAB]) == 2
    assert f"egov: {lab_ca.directory}: the estate camau-lab has a CA already" in (
        capsys.readouterr().err
    )
    assert snapshot(lab_ca.directory) == before


def test_init_days_sets_the_cas_validity(
    pki_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["pki", "init", "-i", str(SONGXANH_INVENTORY), "--days", "365"]) == 0
    assert "valid until" in capsys.readouterr().out
    (directory,) = pki_root.iterdir()
    ca = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days == 365


def test_issue_signs_with_the_inventorys_names_both_eku_and_90_days(
    lab_ca: CaFiles, csr_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = _issue("primary/db-01", csr_file, capsys)
    ca = x509.load_pem_x509_certificate(lab_ca.certificate.read_bytes())
    assert verify_chain(certificate, ca)
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(name.value) for name in san] == [
        "primary-db-01",
        "db-01",
        "db-01.primary",
        "10.213.1.20",
    ]
    assert "evil.example" not in str(san)
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    validity = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert validity.days == 90  # and the five minutes of clock skew
    (entry,) = _index(lab_ca)["certificates"]  # type: ignore[misc]
    assert entry["host"] == "primary/db-01" and entry["status"] == "issued"
    assert entry["serial"] == f"{certificate.serial_number:X}"


def test_issue_writes_to_a_file_for_a_site_host_name_with_days(
    lab_ca: CaFiles, csr_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site2-app-01.crt"
    command = ["pki", "issue", *LAB, "site2-app-01", "--csr", str(csr_file), "--days", "30"]
    assert run([*command, "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "to site2/app-01 (site2-app-01, app-01, app-01.site2, 10.213.3.10)" in captured.err
    certificate = x509.load_pem_x509_certificate(out.read_bytes())
    assert (certificate.not_valid_after_utc - certificate.not_valid_before_utc).days == 30


def test_reissue_supersedes_and_list_shows_status_and_days_left(
    lab_ca: CaFiles, csr_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _issue("primary/db-01", csr_file, capsys)
    second = _issue("primary-db-01", csr_file, capsys)
    _issue("site2/db-01", csr_file, capsys)
    assert run(["pki", "list", *LAB, "-o", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["ca"]["days_left"] in (3649, 3650)
    rows = [(item["serial"], item["host"], item["status"]) for item in listing["certificates"]]
    assert rows == [
        (f"{first.serial_number:X}", "primary/db-01", "superseded"),
        (f"{second.serial_number:X}", "primary/db-01", "issued"),
        (rows[2][0], "site2/db-01", "issued"),
    ]
    assert {item["days_left"] for item in listing["certificates"]} <= {89, 90}
    assert run(["pki", "list", *LAB]) == 0
    text = capsys.readouterr().out
    assert "superseded" in text and f"{second.serial_number:X}" in text.replace("\n", "")


def test_list_before_init_says_how_to_make_the_ca(
    pki_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["pki", "list", *LAB]) == 2
    assert "egov pki init" in capsys.readouterr().err
    assert not pki_root.exists()


def test_revoke_by_host_or_serial_puts_it_on_the_crl(
    lab_ca: CaFiles, csr_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    by_host = _issue("primary/db-01", csr_file, capsys)
    by_serial = _issue("site2/db-01", csr_file, capsys)
    assert run(["pki", "revoke", *LAB, "primary/db-01", "--reason", "key-compromise"]) == 0
    assert run(["pki", "revoke", *LAB, f"{by_serial.serial_number:x}"]) == 0
    assert "revoked" in capsys.readouterr().out
    crl = x509.load_pem_x509_crl(lab_ca.crl.read_bytes())
    ca = x509.load_pem_x509_certificate(lab_ca.certificate.read_bytes())
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert {item.serial_number for item in crl} == {
        by_host.serial_number,
        by_serial.serial_number,
    }
    assert (crl.next_update_utc - crl.last_update_utc).days == 7  # and the clock skew
    statuses = {item["host"]: item for item in _index(lab_ca)["certificates"]}  # type: ignore[attr-defined]
    assert statuses["primary/db-01"]["reason"] == "key-compromise"
    assert statuses["site2/db-01"]["status"] == "revoked"


def test_revoke_refuses_twice_and_unknown_targets_touching_nothing(
    lab_ca: CaFiles, csr_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = _issue("primary/db-01", csr_file, capsys)
    serial = f"{certificate.serial_number:X}"
    assert run(["pki", "revoke", *LAB, serial]) == 0
    before = snapshot(lab_ca.directory)
    for target, words in [
        (serial, "already revoked"),
        ("primary/db-01", "has no issued certificate"),
        ("nowhere/x", "no certificate has this serial, and it names no host"),
    ]:
        capsys.readouterr()
        assert run(["pki", "revoke", *LAB, target]) == 2
        assert words in capsys.readouterr().err
    assert run(["pki", "revoke", *LAB, "site2/db-01", "--reason", "lost"]) == 2
    assert "not a revocation reason" in capsys.readouterr().err
    assert snapshot(lab_ca.directory) == before


def test_crl_signs_a_fresh_one_with_the_next_number(
    lab_ca: CaFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["pki", "crl", *LAB]) == 0
    printed = x509.load_pem_x509_crl(capsys.readouterr().out.encode())
    assert run(["pki", "crl", *LAB, "-o", str(tmp_path / "crl.pem")]) == 0
    written = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    number = [
        crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        for crl in (printed, written)
    ]
    assert number == [2, 3]
    assert lab_ca.crl.read_bytes() == (tmp_path / "crl.pem").read_bytes()


def test_no_key_material_reaches_any_output(
    lab_ca: CaFiles, csr_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_lines = [line for line in lab_ca.key.read_text().splitlines() if "-----" not in line]
    host_key = csr_file  # the CSR holds only a public key; the host's key never came here
    outputs = []
    for argv in (
        ["pki", "issue", *LAB, "primary/db-01", "--csr", str(host_key)],
        ["pki", "list", *LAB],
        ["pki", "list", *LAB, "-o", "json"],
        ["pki", "revoke", *LAB, "primary/db-01"],
        ["pki", "crl", *LAB],
        ["pki", "init", *LAB],
    ):
        run(argv)
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
    lab_ca.key.chmod(0o640)
    run(["pki", "crl", *LAB])
    captured = capsys.readouterr()
    outputs.append(captured.out + captured.err)
    everything = "\n".join(outputs)
    assert "PRIVATE KEY" not in everything
    assert not [line for line in key_lines if line in everything]
    assert f"chmod 600 {lab_ca.key}" in everything


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_the_chain_and_sees_the_revocation(
    lab_ca: CaFiles, csr_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "kept.crt"
    revoked = tmp_path / "revoked.crt"
    kept.write_bytes(
        _issue("primary/db-01", csr_file, capsys).public_bytes(serialization.Encoding.PEM)
    )
    revoked.write_bytes(
        _issue("site2/db-01", csr_file, capsys).public_bytes(serialization.Encoding.PEM)
    )
    assert run(["pki", "revoke", *LAB, "site2/db-01"]) == 0

    def verify(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "openssl",
                "verify",
                "-crl_check",
                "-purpose",
                "sslserver",
                "-CAfile",
                str(lab_ca.certificate),
                "-CRLfile",
                str(lab_ca.crl),
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    assert verify(kept).returncode == 0, verify(kept).stdout + verify(kept).stderr
    refused = verify(revoked)
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr
