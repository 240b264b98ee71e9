"""--site, --role, --limit and --exclude choose hosts the way sysadmins expect."""

from __future__ import annotations

import pytest

from egov.deploys.selection import select_hosts
from egov.errors import InputError
from egov.inventory.model import Estate


def names(refs: list) -> list[str]:
    return [ref.selector for ref in refs]


def test_everything_by_default(lab: Estate) -> None:
    assert len(select_hosts(lab)) == 14


def test_site_and_role(lab: Estate) -> None:
    assert names(select_hosts(lab, sites=["site2"], roles=["db-replica"])) == ["site2/db-01"]


def test_limit_by_group_wildcard_and_host(lab: Estate) -> None:
    assert names(select_hosts(lab, limits=["db-replica"])) == ["primary/db-02", "site2/db-01"]
    assert names(select_hosts(lab, limits=["primary/portal-*"])) == [
        "primary/portal-01",
        "primary/portal-02",
    ]
    assert names(select_hosts(lab, limits=["vnpt-s3-01"])) == ["vnpt/s3-01"]
    assert len(select_hosts(lab, limits=["service_portal"])) == 4


def test_exclude(lab: Estate) -> None:
    chosen = names(select_hosts(lab, sites=["primary"], excludes=["primary/db-*"]))
    assert "primary/db-01" not in chosen and len(chosen) == 7


@pytest.mark.parametrize(
    "arguments",
    [
        {"sites": ["moon"]},
        {"roles": ["mailserver"]},
        {"limits": ["primary/db-99"]},
        {"excludes": ["nothing-*"]},
        {"sites": ["vnpt"], "roles": ["db"]},
    ],
)
def test_selection_errors_are_input_errors(lab: Estate, arguments: dict) -> None:
    with pytest.raises(InputError) as caught:
        select_hosts(lab, **arguments)
    assert caught.value.exit_code == 2
