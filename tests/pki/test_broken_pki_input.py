"""Every bad input to ``egov pki``: one message naming the file and the fix, exit 2, the CA
directory unchanged byte for byte (and mode for mode), no traceback, no hang.

The CSR is the input a host hands the control node; the index and the CA key are the CA's
own files, which a disk error, a hand edit or a careless chmod can break.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from egov.cli import run
from egov.pki.authority import generate_ca_key
from egov.pki.store import CSR_INPUT, CaFiles
from tests.pki import keys
from tests.pki.conftest import LAB_INVENTORY, snapshot, write_csr

LAB = ["-i", str(LAB_INVENTORY)]


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()


def _huge(path: Path) -> None:
    with path.open("wb") as stream:
        stream.truncate(10 * 1024 * 1024)  # sparse: 10 MB without writing them


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


@dataclass(frozen=True)
class CsrCase:
    id: str
    make: Callable[[Path], None]
    words: str


CSR_CASES = [
    CsrCase("missing", lambda path: None, "no such file"),
    CsrCase("fifo", _fifo, "is a FIFO (named pipe), not a regular file"),
    CsrCase("directory", _directory, "is a directory, not a regular file"),
    CsrCase("10-mb", _huge, "is larger than 0 MiB"),
    CsrCase("empty", _bytes(b""), "not a certificate signing request (PEM or DER)"),
    CsrCase(
        "garbage-pem",
        _bytes(b"-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----\n"),
        "not a certificate signing request",
    ),
    CsrCase("binary", _bytes(bytes(range(256)) * 4), "not a certificate signing request"),
    CsrCase(
        "a-certificate", _bytes(keys.make_certificate_pem()), "not a certificate signing request"
    ),
    CsrCase(
        "ed25519",
        lambda path: path.write_bytes(keys.pem(keys.make_ed25519_csr())),
        "refused: its key (Ed25519) is not accepted",
    ),
    CsrCase(
        "dsa",
        lambda path: path.write_bytes(keys.pem(keys.make_dsa_csr())),
        "refused: its key (DSA) is not accepted",
    ),
    CsrCase(
        "secp256k1",
        lambda path: path.write_bytes(keys.pem(keys.make_secp256k1_csr())),
        "refused: its curve secp256k1 is not accepted",
    ),
    CsrCase(
        "rsa-1024",
        lambda path: path.write_bytes(keys.pem(keys.make_rsa_csr(1024))),
        "refused: its RSA key has 1024 bits",
    ),
    CsrCase(
        "bad-signature",
        _bytes(keys.make_badly_signed_csr_der()),
        "refused: its signature does not verify",
    ),
]


@pytest.mark.parametrize("case", CSR_CASES, ids=[case.id for case in CSR_CASES])
def test_a_bad_csr_is_named_and_nothing_changes(
    case: CsrCase, lab_ca: CaFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csr = tmp_path / "host.csr"
    case.make(csr)
    before = snapshot(lab_ca.directory)
    assert run(["pki", "issue", *LAB, "primary/db-01", "--csr", str(csr)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    first, *rest = captured.err.splitlines()
    assert first.startswith(f"egov: {csr}: ")
    assert case.words.replace("0 MiB", f"{CSR_INPUT.max_bytes // 1024 // 1024} MiB") in first
    assert rest and rest[0].startswith("hint: ")
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    assert snapshot(lab_ca.directory) == before


@dataclass(frozen=True)
class CaCase:
    id: str
    break_ca: Callable[[CaFiles], Path]
    words: str


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _replace_with_fifo(path: Path) -> Path:
    path.unlink()
    os.mkfifo(path)
    return path


def _replace_with_directory(path: Path) -> Path:
    path.unlink()
    path.mkdir()
    return path


def _another_key_pem() -> bytes:
    return generate_ca_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _remove(path: Path) -> Path:
    path.unlink()
    return path


def _chmod(path: Path, mode: int) -> Path:
    path.chmod(mode)
    return path


CA_CASES = [
    CaCase(
        "index-garbage", lambda ca: _write(ca.index, b"{not json"), "not the CA's certificate index"
    ),
    CaCase(
        "index-wrong-shape",
        lambda ca: _write(ca.index, b'{"version": 9}'),
        "not the CA's certificate index (version",
    ),
    CaCase("index-fifo", lambda ca: _replace_with_fifo(ca.index), "is a FIFO (named pipe)"),
    CaCase("index-directory", lambda ca: _replace_with_directory(ca.index), "is a directory"),
    CaCase("index-missing", lambda ca: _remove(ca.index), "missing from the estate's CA"),
    CaCase(
        "key-group-readable",
        lambda ca: _chmod(ca.key, 0o640),
        "the CA key is readable by others than its owner (mode 0640)",
    ),
    CaCase("key-world-readable", lambda ca: _chmod(ca.key, 0o604), "(mode 0604)"),
    CaCase(
        "key-garbage",
        lambda ca: _write(ca.key, b"-----BEGIN PRIVATE KEY-----\nxx\n"),
        "not the CA's EC private key in PEM",
    ),
    CaCase(
        "key-of-another-ca",
        lambda ca: _write(ca.key, _another_key_pem()),
        "not the key of",
    ),
    CaCase(
        "certificate-garbage", lambda ca: _write(ca.certificate, b"nope"), "not a PEM certificate"
    ),
]


@pytest.mark.parametrize("command", ["issue", "revoke", "crl"])
@pytest.mark.parametrize("case", CA_CASES, ids=[case.id for case in CA_CASES])
def test_a_broken_ca_file_is_named_and_nothing_changes(
    case: CaCase,
    command: str,
    lab_ca: CaFiles,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csr = write_csr(tmp_path / "host.csr")
    assert run(["pki", "issue", *LAB, "primary/db-01", "--csr", str(csr)]) == 0
    broken = case.break_ca(lab_ca)
    before = snapshot(lab_ca.directory)
    argv = {
        "issue": ["pki", "issue", *LAB, "primary/db-01", "--csr", str(csr)],
        "revoke": ["pki", "revoke", *LAB, "primary/db-01"],
        "crl": ["pki", "crl", *LAB],
    }[command]
    capsys.readouterr()
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    first = captured.err.splitlines()[0]
    assert first.startswith(f"egov: {broken}: ")
    assert case.words in first
    assert "hint: " in captured.err and "Traceback" not in captured.err
    assert snapshot(lab_ca.directory) == before


def test_an_output_file_in_a_missing_directory_is_refused_before_signing(
    lab_ca: CaFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csr = write_csr(tmp_path / "host.csr")
    before = snapshot(lab_ca.directory)
    out = tmp_path / "missing" / "host.crt"
    assert run(["pki", "issue", *LAB, "primary/db-01", "--csr", str(csr), "-o", str(out)]) == 2
    assert f"egov: {out}: cannot write" in capsys.readouterr().err
    assert run(["pki", "crl", *LAB, "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert snapshot(lab_ca.directory) == before


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["primary/nope"], "host 'primary/nope' matches no host"),
        (["db-01"], "names 2 hosts"),
        (["primary/db-01", "--days", "0"], "--days 0: not between 1 and 3650"),
    ],
)
def test_a_bad_host_or_days_is_refused(
    argv: list[str], words: str, lab_ca: CaFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csr = write_csr(tmp_path / "host.csr")
    before = snapshot(lab_ca.directory)
    assert run(["pki", "issue", *LAB, *argv[:1], "--csr", str(csr), *argv[1:]]) == 2
    assert words in capsys.readouterr().err
    assert snapshot(lab_ca.directory) == before
