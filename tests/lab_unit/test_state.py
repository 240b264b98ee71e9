"""egov/lab/state.py: the state file round-trips and is per estate."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.lab.state import Fault, LabState, ProcessRecord, list_estates, load_state, save_state
from tests.lab.topology import make_lab_spec


def test_state_round_trips_through_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EGOV_LAB_DIR", str(tmp_path))
    state = LabState(
        spec=make_lab_spec(),
        image_key="0123456789abcdef",
        bridges=["egv-primar-7914"],
        ifbs=["egi-site2-fb17"],
        nft_table="egov_lab_camau_lab",
        ip_forward_before="0",
        processes={"primary-db-01": ProcessRecord(pid=42, start_ticks=1234)},
        faults=[Fault("shape-link", "site2", {"rate_kbit": "8000"}), Fault("cut-link", "vnpt")],
    )
    save_state(state)
    assert load_state("camau-lab") == state
    assert list_estates() == ["camau-lab"]
    assert (tmp_path / "estates/camau-lab/state.json").is_file()


def test_missing_state_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGOV_LAB_DIR", str(tmp_path))
    assert load_state("nothing") is None
    assert list_estates() == []


def test_faults_are_found_and_removed_by_kind_and_target() -> None:
    state = LabState(
        spec=make_lab_spec(), faults=[Fault("cut-link", "vnpt"), Fault("cut-link", "site2")]
    )
    assert [f.target for f in state.find_faults("cut-link")] == ["vnpt", "site2"]
    state.remove_faults("cut-link", "vnpt")
    assert state.faults == [Fault("cut-link", "site2")]
