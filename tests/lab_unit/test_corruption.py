"""The corrupt-file fault: bytes flipped in a host's disk and put back, recorded in the state.

The host's disk is a temporary directory where the lab keeps host roots (``EGOV_LAB_DIR``):
the fault needs no running container.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from egov.errors import LabInputError
from egov.lab import corrupt_file, repair_file
from egov.lab.corruption import flip_bytes, make_corruption_offset
from egov.lab.paths import get_host_dir
from egov.lab.state import LabState, load_state, save_state
from tests.lab.topology import make_lab_spec

PACK = "/srv/restic/site2/data/ab/ab12"


def test_the_middle_is_chosen_and_ranges_outside_the_file_are_refused() -> None:
    assert make_corruption_offset(100, 32) == 34
    assert make_corruption_offset(100, 32, 68) == 68
    for size, length, offset in ((100, 32, 69), (10, 32, None), (100, 1, -1)):
        with pytest.raises(LabInputError, match="cannot flip"):
            make_corruption_offset(size, length, offset)


def test_flipping_twice_gives_the_bytes_back() -> None:
    assert flip_bytes(b"\x00\xffA") == b"\xff\x00\xbe"
    assert flip_bytes(flip_bytes(b"restic")) == b"restic"


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EGOV_LAB_DIR", str(tmp_path))
    save_state(LabState(spec=make_lab_spec()))
    file = get_host_dir("camau-lab", "site2-store-01") / "root" / PACK.lstrip("/")
    file.parent.mkdir(parents=True)
    file.write_bytes(bytes(range(256)) * 4)
    return file


def test_corrupt_then_repair_is_byte_exact_and_recorded(pack: Path) -> None:
    spec = make_lab_spec()
    before = hashlib.sha256(pack.read_bytes()).hexdigest()
    assert corrupt_file(spec, "site2-store-01", PACK, offset=100, length=8) == 100
    data = pack.read_bytes()
    assert data[100:108] == flip_bytes(bytes(range(100, 108))) and data[:100] == bytes(range(100))
    state = load_state("camau-lab")
    assert state is not None and [f.kind for f in state.faults] == ["corrupt-file"]
    with pytest.raises(LabInputError, match="already corrupted"):
        corrupt_file(spec, "site2-store-01", PACK)
    repair_file(spec, "site2-store-01", PACK)
    assert hashlib.sha256(pack.read_bytes()).hexdigest() == before
    state = load_state("camau-lab")
    assert state is not None and state.faults == []


def test_a_link_leading_out_of_the_host_is_refused(pack: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"x" * 64)
    (pack.parent / "escape").symlink_to(outside)
    with pytest.raises(LabInputError, match="no regular file"):
        corrupt_file(make_lab_spec(), "site2-store-01", str(Path(PACK).parent / "escape"))
    assert outside.read_bytes() == b"x" * 64
