"""egov/lab/prerequisites.py and the refusal of lab_up before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.errors import LabInputError
from egov.lab import lifecycle
from egov.lab.prerequisites import check_host_prerequisites
from tests.lab.topology import make_lab_spec


def _all_present(name: str) -> str:
    return f"/usr/bin/{name}"


def test_not_root_is_refused() -> None:
    with pytest.raises(LabInputError, match="needs root") as caught:
        check_host_prerequisites(euid=1000, which=_all_present)
    assert caught.value.exit_code == 2


def test_missing_nspawn_names_the_packages_to_install() -> None:
    def which(name: str) -> str | None:
        return None if name == "systemd-nspawn" else _all_present(name)

    with pytest.raises(LabInputError) as caught:
        check_host_prerequisites(euid=0, which=which)
    assert "systemd-nspawn" in caught.value.message
    assert "apt-get install debootstrap systemd-container" in caught.value.message


def test_root_with_every_program_passes() -> None:
    check_host_prerequisites(euid=0, which=_all_present)


def test_lab_up_as_non_root_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EGOV_LAB_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("EGOV_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(LabInputError, match="needs root"):
        lifecycle.lab_up(make_lab_spec())
    assert not (tmp_path / "state").exists() and not (tmp_path / "cache").exists()
