"""egov/lab/estate.py: a host's lab disk sized from its inventory data, and refused when bad."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from egov.errors import LabInputError
from egov.inventory.loader import load_estate
from egov.inventory.model import Estate
from egov.lab.estate import make_lab_spec
from egov.lab.spec import DEFAULT_DISK_BYTES, spec_from_dict, spec_to_dict

INVENTORY = Path(__file__).resolve().parents[2] / "inventory" / "lab.yaml"


def _with_db_disk(value: Any) -> Estate:
    estate = load_estate(INVENTORY).estate
    site = estate.sites["primary"]
    host = site.hosts["db-01"].model_copy(update={"data": {"lab_disk": value}})
    hosts = {**site.hosts, "db-01": host}
    sites = {**estate.sites, "primary": site.model_copy(update={"hosts": hosts})}
    return estate.model_copy(update={"sites": sites})


def test_hosts_get_4_gib_unless_their_data_says_otherwise() -> None:
    spec = make_lab_spec(_with_db_disk("40 GiB"))
    assert spec.get_host("primary-db-01").disk_bytes == 40 * 1024**3
    assert spec.get_host("primary-db-02").disk_bytes == DEFAULT_DISK_BYTES == 4 * 1024**3
    # down works from the state file alone: the size survives it
    assert spec_from_dict(spec_to_dict(spec)) == spec


@pytest.mark.parametrize("value", ["lots", "512 MiB", "2 TiB", True, -1, [40]])
def test_a_bad_disk_size_is_refused_naming_the_host(value: Any) -> None:
    with pytest.raises(LabInputError) as caught:
        make_lab_spec(_with_db_disk(value))
    assert caught.value.exit_code == 2
    assert "host primary/db-01: data.lab_disk" in caught.value.message
    assert "lab_disk: 40 GiB" in caught.value.hint
