"""Bad input to the lab: one clear LabInputError (exit 2) and nothing half-created."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from egov.errors import LabInputError
from egov.lab import lab_up
from egov.lab.paths import get_estate_dir
from egov.lab.spec import LabHost
from tests.lab.test_lifecycle import take_snapshot
from tests.lab.topology import build_spec

pytestmark = pytest.mark.lab


def _refused(
    topology: dict[str, tuple[str, list[tuple[str, int, tuple[str, ...]]]]], match: str
) -> None:
    spec = build_spec("egov-bad-input", topology)
    before = take_snapshot()
    with pytest.raises(LabInputError, match=match) as caught:
        lab_up(spec)
    assert caught.value.exit_code == 2
    assert take_snapshot() == before
    assert not get_estate_dir(spec.name).exists()


def test_lab_overlapping_this_machines_network_is_refused(lab: object) -> None:
    # 192.0.2.0/24 is this machine's own eth0 network.
    _refused({"a": ("192.0.2.0/25", [("h-01", 10, ())])}, "overlaps this machine's network")


def test_lab_overlapping_the_running_lab_is_refused(lab: object) -> None:
    _refused({"a": ("10.213.1.0/24", [("h-01", 99, ())])}, "overlaps this machine's network")


def test_bad_machine_name_is_refused(lab: object) -> None:
    spec = build_spec("egov-bad-input", {"a": ("10.215.1.0/24", [("h-01", 10, ())])})
    bad = replace(spec.sites[0], hosts=(LabHost("a", "Bad_Name", IPv4Address("10.215.1.11")),))
    before = take_snapshot()
    with pytest.raises(LabInputError, match="not a valid host/machine name"):
        lab_up(replace(spec, sites=(bad,)))
    assert take_snapshot() == before
