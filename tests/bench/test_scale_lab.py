"""``inventory/scale-lab.yaml``, the 42-host estate of ``bench/deploy_scale.py``: valid, a lab
that can be built beside the other lab estates, and every host's deploy prepares.

Without bringing anything up: the lab spec is checked as ``egov lab up`` checks it first, and
each host's roles are planned by ``site.py`` on pyinfra's ``@fake`` connector (a pristine host,
every fact empty), which is where a layout the deploys do not expect would fail.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.exceptions import OperationError

from egov.cli import run
from egov.deploys.context import WHEELHOUSE_KEY
from egov.deploys.site import apply_roles
from egov.errors import LabInputError
from egov.inventory import load_estate
from egov.inventory.model import Estate
from egov.lab.estate import make_lab_spec
from egov.lab.network import make_bridge_name
from egov.lab.spec import check_lab_spec
from tests.deploys.support import plan_deploy

ROOT = Path(__file__).resolve().parents[2]
SCALE_LAB = ROOT / "inventory" / "scale-lab.yaml"
OTHER_LABS = [ROOT / "inventory" / "lab.yaml", ROOT / "inventory" / "songxanh-lab.yaml"]


@pytest.fixture(scope="module")
def scale() -> Estate:
    return load_estate(SCALE_LAB).estate


def test_scale_lab_validates_without_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inventory", "validate", "-i", str(SCALE_LAB)]) == 0
    assert "valid — estate scale-lab (lab), 2 sites, 42 hosts" in capsys.readouterr().out
    assert load_estate(SCALE_LAB).warnings == ()


def test_scale_lab_is_a_lab_that_can_be_up_beside_the_others(scale: Estate) -> None:
    spec = make_lab_spec(scale)
    assert len(spec.hosts) == 42
    others = [make_lab_spec(load_estate(path).estate) for path in OTHER_LABS]
    taken = [site.network for other in others for site in other.sites]
    check_lab_spec(spec, taken)  # the other labs' bridges count as the machine's networks
    bridges = {make_bridge_name(spec.name, site.name) for site in spec.sites}
    other_bridges = {make_bridge_name(o.name, site.name) for o in others for site in o.sites}
    assert not bridges & other_bridges
    names = {host.machine for other in others for host in other.hosts}
    assert not {host.machine for host in spec.hosts} & names


def test_the_lab_check_refuses_a_network_the_machine_already_has(scale: Estate) -> None:
    spec = make_lab_spec(scale)
    with pytest.raises(LabInputError, match=r"site 'tay' network 10\.213\.22\.0/24 overlaps"):
        check_lab_spec(spec, [IPv4Network("10.213.22.0/24")])


def with_environment_secrets(estate: Estate, monkeypatch: pytest.MonkeyPatch) -> Estate:
    """``estate`` with every ``file:`` secret turned into an ``env:`` one set here: the files
    exist only where ``egov lab up`` made them."""
    counter = iter(range(1000))

    def replace(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: replace(value) for key, value in item.items()}
        if isinstance(item, list):
            return [replace(value) for value in item]
        if isinstance(item, str) and item.startswith("file:/"):
            variable = f"EGOV_TEST_SCALE_SECRET_{next(counter)}"
            monkeypatch.setitem(os.environ, variable, f"secret-{variable.lower()}")
            return f"env:{variable}"
        return item

    return Estate.model_validate(replace(estate.model_dump(mode="json")))


def test_every_host_of_scale_lab_prepares_under_site_py(
    scale: Estate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    estate = with_environment_secrets(scale, monkeypatch)
    wheelhouse = tmp_path / "egov-wheelhouse.tar"
    wheelhouse.write_bytes(b"only its digest is read while preparing")
    operations = {}
    for ref in estate.iter_hosts():
        names, _ = plan_deploy(estate, ref.selector, apply_roles, {WHEELHOUSE_KEY: str(wheelhouse)})
        operations[ref.selector] = names
    assert len(operations) == 42
    # every role's deploy ran: each host has base's operations, and its roles add more
    app = len(operations["dong/datdai-1"])
    assert all(len(names) >= app for names in operations.values())
    for selector in ("dong/pg-1", "dong/pg-1b", "tay/pg-3", "dong/mon-2", "tay/store-1"):
        assert len(operations[selector]) > app, selector


def test_a_host_whose_deploy_fails_to_prepare_fails_the_plan(
    scale: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what the test above would see for a layout the deploys refuse: an app host without the
    # agent's wheelhouse cannot run the canary
    estate = with_environment_secrets(scale, monkeypatch)
    with pytest.raises(OperationError, match="deploy with a wheelhouse"):
        plan_deploy(estate, "tay/datdai-3", apply_roles)
