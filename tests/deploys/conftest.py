"""Estates shared by the deploy tests: the lab and a fictional province unlike Cà Mau."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egov.inventory import load_estate
from egov.inventory.model import Estate, HostRef
from tests.deploys.support import with_alerting_secrets

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "inventory" / "lab.yaml"
SONGXANH = ROOT / "tests" / "inventory" / "data" / "songxanh.yaml"


@pytest.fixture(scope="session")
def lab() -> Estate:
    return load_estate(LAB).estate


@pytest.fixture(scope="session")
def songxanh() -> Estate:
    return load_estate(SONGXANH).estate


@pytest.fixture
def lab_with_secrets(lab: Estate, monkeypatch: pytest.MonkeyPatch) -> Estate:
    """The lab with its alerting secrets in environment variables (``alerting-secret-…``):
    its ``file:`` secrets exist only on a machine where ``egov lab up`` made them."""
    environment: dict[str, str] = {}
    estate = with_alerting_secrets(lab, environment)
    for name, value in environment.items():
        monkeypatch.setitem(os.environ, name, value)
    return estate


def host(estate: Estate, selector: str) -> HostRef:
    """The host ``site/name`` of ``estate``; fail the test when it does not exist."""
    site, _, name = selector.partition("/")
    ref = estate.find_host(site, name)
    assert ref is not None, f"{selector} is not in {estate.name}"
    return ref
