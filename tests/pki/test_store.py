"""Where the CA lives and how its files are read: modes, the environment, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.errors import InputError
from egov.pki.authority import generate_ca_key
from egov.pki.index import CertificateIndex
from egov.pki.store import (
    PKI_DIR_ENVIRONMENT_VARIABLE,
    get_pki_dir,
    load_ca_key,
    make_index_bytes,
    read_index,
    write_file_atomic,
    write_private_key,
)


def test_the_pki_directory_is_per_estate_under_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PKI_DIR_ENVIRONMENT_VARIABLE, raising=False)
    assert get_pki_dir("camau") == Path("/var/lib/egov/pki/camau")
    monkeypatch.setenv(PKI_DIR_ENVIRONMENT_VARIABLE, "/srv/ca")
    assert get_pki_dir("camau") == Path("/srv/ca/camau")


def test_a_private_key_is_written_0600_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "ca.key"
    key = generate_ca_key()
    write_private_key(path, key)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_ca_key(path).private_numbers() == key.private_numbers()
    with pytest.raises(FileExistsError):  # never over a key
        write_private_key(path, generate_ca_key())


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_others_can_read_is_refused_naming_the_file_and_the_fix(
    tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "ca.key"
    write_private_key(path, generate_ca_key())
    path.chmod(mode)
    with pytest.raises(InputError) as raised:
        load_ca_key(path)
    assert str(path) in raised.value.message
    assert f"{mode:04o}" in raised.value.message
    assert raised.value.hint.startswith(f"chmod 600 {path}")
    assert "PRIVATE" not in raised.value.message + raised.value.hint


def test_a_garbled_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "ca.key"
    path.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)
    with pytest.raises(InputError) as raised:
        load_ca_key(path)
    assert raised.value.message == f"{path}: not the CA's EC private key in PEM"
    assert "c2VjcmV0" not in raised.value.hint


def test_the_index_round_trips_and_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    write_file_atomic(path, make_index_bytes(CertificateIndex(crl_number=4)))
    assert read_index(path) == CertificateIndex(crl_number=4)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [item.name for item in tmp_path.iterdir()] == ["index.json"]  # no temporary left


def test_an_index_of_another_shape_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    path.write_text('{"version": 1, "certificates": [{"serial": "zz"}]}')
    with pytest.raises(
        InputError, match=r"index.json: not the CA's certificate index \(certificates"
    ):
        read_index(path)
