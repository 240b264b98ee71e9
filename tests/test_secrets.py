"""Secrets are read from root-only files or the environment, and never shown."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from egov.errors import InputError
from egov.secrets import create_missing_secrets, list_secret_references, read_secret


def test_reads_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_text("v4lue\n")
    path.chmod(0o600)
    assert read_secret(f"file:{path}") == "v4lue"


def test_refuses_a_readable_file_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_text("v4lue\n")
    path.chmod(0o644)
    with pytest.raises(InputError) as caught:
        read_secret(f"file:{path}")
    assert "chmod 600" in caught.value.hint and "v4lue" not in str(caught.value)


def test_missing_file_and_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_secret(f"file:{tmp_path}/nope")
    monkeypatch.delenv("EGOV_TEST_SECRET", raising=False)
    with pytest.raises(InputError, match="not set"):
        read_secret("env:EGOV_TEST_SECRET")
    monkeypatch.setenv("EGOV_TEST_SECRET", "x")
    assert read_secret("env:EGOV_TEST_SECRET") == "x"


def test_lab_secrets_are_generated_private_and_only_below_the_lab(tmp_path: Path) -> None:
    inside = f"file:{tmp_path}/lab/secrets/a"
    outside = f"file:{tmp_path}/etc/b"
    created = create_missing_secrets([inside, outside, "env:X"], tmp_path / "lab")
    assert created == [tmp_path / "lab" / "secrets" / "a"]
    assert stat.S_IMODE(created[0].stat().st_mode) == 0o600
    value = read_secret(inside)
    assert len(value) >= 24
    assert create_missing_secrets([inside], tmp_path / "lab") == []  # never overwritten
    assert read_secret(inside) == value
    assert not os.path.exists(f"{tmp_path}/etc/b")


def test_references_are_listed_from_a_model_dump() -> None:
    dump = {"a": "file:/x", "b": [{"c": "env:Y"}, "plain"], "d": "file:/x"}
    assert list_secret_references(dump) == ["file:/x", "env:Y"]
