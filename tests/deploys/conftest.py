"""Estates shared by the deploy tests: the lab and a fictional province unlike Cà Mau."""

from __future__ import annotations

import os

import pytest

from egov.inventory.model import Estate, HostRef
from tests.deploys.support import with_alerting_secrets


@pytest.fixture(scope="session")
def lab(lab_estate: Estate) -> Estate:
    """``tests/conftest.py``'s lab estate, under the short name the deploy tests use."""
    return lab_estate


@pytest.fixture(scope="session")
def songxanh(songxanh_estate: Estate) -> Estate:
    """``tests/conftest.py``'s second province, under the short name the deploy tests use."""
    return songxanh_estate


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
