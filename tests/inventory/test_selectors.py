"""Host selectors, and --site, --role, --limit and --exclude, choose hosts the way sysadmins
expect: on the lab and on a province of other names (Sông Xanh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.errors import InputError
from egov.inventory import load_estate
from egov.inventory.model import Estate, HostRef
from egov.inventory.selectors import (
    SelectorKind,
    match_selector,
    parse_selector,
    resolve_host,
    select_hosts,
)

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ["primary/lb-01", "primary/portal-01", "primary/portal-02", "site2/app-01"]


@pytest.fixture(scope="module")
def lab() -> Estate:
    return load_estate(ROOT / "inventory" / "lab.yaml").estate


@pytest.fixture(scope="module")
def songxanh() -> Estate:
    return load_estate(ROOT / "tests" / "inventory" / "data" / "songxanh.yaml").estate


def names(refs: list[HostRef]) -> list[str]:
    return [ref.selector for ref in refs]


@pytest.mark.parametrize(
    ("text", "kind", "pattern"),
    [
        ("primary/db-01", SelectorKind.ANY, "primary/db-01"),
        ("role:db-replica", SelectorKind.ROLE, "db-replica"),
        ("service:portal", SelectorKind.SERVICE, "portal"),
        ("site:vnpt", SelectorKind.SITE, "vnpt"),
        ("host:db-*", SelectorKind.HOST, "db-*"),
        ("*-db-*", SelectorKind.ANY, "*-db-*"),
    ],
)
def test_parse_selector_reads_the_prefix(text: str, kind: SelectorKind, pattern: str) -> None:
    parsed = parse_selector(text)
    assert (parsed.kind, parsed.pattern, parsed.text) == (kind, pattern, text)


@pytest.mark.parametrize("text", ["", "  ", "rol:db", "role:", "groupe:portal", ":db"])
def test_malformed_selectors_are_input_errors_naming_the_forms(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_selector(text)
    assert caught.value.exit_code == 2
    assert "site/host, site-host" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("primary/db-01", ["primary/db-01"]),
        ("primary-db-01", ["primary/db-01"]),
        ("vnpt-s3-01", ["vnpt/s3-01"]),
        ("primary/portal-*", ["primary/portal-01", "primary/portal-02"]),
        ("*-db-*", ["primary/db-01", "primary/db-02", "site2/db-01"]),
        ("site:vnpt", ["vnpt/s3-01"]),
        ("vnpt", ["vnpt/s3-01"]),
        ("site_vnpt", ["vnpt/s3-01"]),
        ("role:db-replica", ["primary/db-02", "site2/db-01"]),
        ("db-replica", ["primary/db-02", "site2/db-01"]),
        ("role_db_replica", ["primary/db-02", "site2/db-01"]),
        ("role:db*", ["primary/db-01", "primary/db-02", "site2/db-01"]),
        ("service:portal", PORTAL),
        ("service_portal", PORTAL),
        ("portal", PORTAL),
        ("host:db-01", ["primary/db-01", "site2/db-01"]),
        ("db-01", ["primary/db-01", "site2/db-01"]),
        ("store-01", ["primary/store-01", "site2/store-01"]),
    ],
)  # fmt: skip
def test_every_form_names_its_hosts_on_the_lab(lab: Estate, text: str, expected: list[str]) -> None:
    assert names(match_selector(lab, text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dc-north/pg-a", ["dc-north/pg-a"]),
        ("dc-south-pg-b", ["dc-south/pg-b"]),
        ("dc-south/*", ["dc-south/web-b", "dc-south/pg-b", "dc-south/nas-b"]),
        ("role:monitoring", ["dc-north/nas", "dc-south/nas-b"]),
        ("service:hoso", ["dc-north/gw", "dc-south/web-b"]),
        ("site:dc-north", ["dc-north/gw", "dc-north/pg-a", "dc-north/nas"]),
        ("*-pg-*", ["dc-north/pg-a", "dc-south/pg-b"]),
    ],
)
def test_every_form_names_its_hosts_in_another_province(
    songxanh: Estate, text: str, expected: list[str]
) -> None:
    assert names(match_selector(songxanh, text)) == expected


def test_a_bare_wildcard_matches_host_names_not_roles(lab: Estate) -> None:
    # "db*" is no host's site/host or site-host: it must not take the db-replica role's hosts
    with pytest.raises(InputError):
        match_selector(lab, "db*")


@pytest.mark.parametrize(
    "text", ["primary/db-99", "moon", "role:mailserver", "service:nope", "site:moon", "x-*-y"]
)
def test_a_selector_naming_no_host_is_an_input_error_naming_it(lab: Estate, text: str) -> None:
    with pytest.raises(InputError) as caught:
        match_selector(lab, text, "--limit")
    assert caught.value.exit_code == 2
    assert f"--limit {text!r} matches no host" in caught.value.message
    assert "role:NAME" in (caught.value.hint or "")


def test_resolve_host_takes_both_spellings_and_refuses_several(lab: Estate) -> None:
    assert resolve_host(lab, "site2/mon-01") == resolve_host(lab, "site2-mon-01")
    assert resolve_host(lab, "site2-mon-01").qualified_name == "site2-mon-01"
    with pytest.raises(InputError) as caught:
        resolve_host(lab, "db-01", "--to-host")
    assert "--to-host 'db-01' names 2 hosts" in caught.value.message


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
    assert len(select_hosts(lab, limits=["service:portal", "role:db"])) == 5


def test_exclude(lab: Estate) -> None:
    chosen = names(select_hosts(lab, sites=["primary"], excludes=["primary/db-*"]))
    assert "primary/db-01" not in chosen and len(chosen) == 7
    assert names(select_hosts(lab, limits=["site:site2"], excludes=["role:storage"])) == [
        "site2/app-01",
        "site2/db-01",
        "site2/mon-01",
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        {"sites": ["moon"]},
        {"roles": ["mailserver"]},
        {"limits": ["primary/db-99"]},
        {"excludes": ["nothing-*"]},
        {"limits": ["role:nope"]},
        {"sites": ["vnpt"], "roles": ["db"]},
        {"limits": ["site:vnpt"], "excludes": ["vnpt/*"]},
    ],
)
def test_selection_errors_are_input_errors(lab: Estate, arguments: dict[str, list[str]]) -> None:
    with pytest.raises(InputError) as caught:
        select_hosts(lab, **arguments)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2
