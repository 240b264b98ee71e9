"""The estate's CA in a temporary directory ($EGOV_PKI_DIR), and hosts' keys and CSRs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from egov.cli import run
from egov.inventory.model import Estate
from egov.pki.hostkey import generate_host_key, make_csr
from egov.pki.store import PKI_DIR_ENVIRONMENT_VARIABLE, CaFiles
from tests.conftest import LAB_INVENTORY, SONGXANH_INVENTORY

#: what the pki tests import from here (the inventories are tests/conftest.py's)
__all__ = ["LAB_INVENTORY", "SONGXANH_INVENTORY", "snapshot", "write_csr"]


@pytest.fixture
def pki_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "pki"
    monkeypatch.setenv(PKI_DIR_ENVIRONMENT_VARIABLE, str(root))
    return root


@pytest.fixture
def lab_ca(pki_root: Path, lab_estate: Estate, capsys: pytest.CaptureFixture[str]) -> CaFiles:
    """The lab estate's CA, made through the CLI."""
    assert run(["pki", "init", "-i", str(LAB_INVENTORY)]) == 0
    capsys.readouterr()
    return CaFiles(pki_root / lab_estate.name)


def write_csr(path: Path, names: tuple[str, ...] = ("evil.example", "10.9.9.9")) -> Path:
    """A host's CSR (PEM) asking for ``names``: names the CA must ignore."""
    csr = make_csr(generate_host_key(), names)
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def csr_file(tmp_path: Path) -> Path:
    return write_csr(tmp_path / "host.csr")


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its bytes and mode: what "nothing touched" compares."""
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mode & 0o777)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }
