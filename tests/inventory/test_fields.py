"""Durations, sizes and secret references as sysadmins write them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from egov.inventory.fields import (
    check_secret_reference,
    format_duration,
    format_rate,
    parse_duration,
    parse_rate,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("4h", 14400),
        ("1d", 86400),
        ("1h30m", 5400),
        ("2w", 1209600),
    ],
)
def test_duration_parses_short_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "1.5h", "h", "15 minutes", "-1m", "1m1h"])
def test_duration_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [300, -300, 0, 1.5, True])
def test_duration_refuses_bare_numbers_with_the_spelling_to_use(value: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


def test_duration_refuses_a_huge_duration_without_overflowing() -> None:
    with pytest.raises(ValueError, match="longer than"):
        parse_duration("99999999999w")
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("9" * 5000 + "s")


@pytest.mark.parametrize("seconds", [0, 5, 60, 5400, 86400, 91 * 86400, 93784])
def test_duration_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_secret_reference_accepts_file_and_env() -> None:
    assert check_secret_reference("file:/etc/egov/secrets/x") == "file:/etc/egov/secrets/x"
    assert check_secret_reference("env:EGOV_PASSWORD") == "env:EGOV_PASSWORD"


@pytest.mark.parametrize("value", ["hunter2", "file:relative", "env:1BAD", "vault:x", 1234])
def test_secret_reference_refuses_without_echoing(value: object) -> None:
    with pytest.raises(ValueError) as caught:
        check_secret_reference(value)
    assert str(value) not in str(caught.value)


def test_the_schema_publishes_the_bounds_the_validation_applies() -> None:
    from egov.inventory.schema import build_schema

    service = build_schema()["$defs"]["Service"]["properties"]
    assert service["rto"]["pattern"] == service["rpo"]["pattern"]
    assert service["rto"]["x-minimum"] == "1s"
    retention = build_schema()["$defs"]["Retention"]["properties"]
    assert retention["within"]["x-minimum"] == "0s"
    assert retention["daily"]["minimum"] == 0


def test_the_lab_estate_round_trips_through_its_own_dump() -> None:
    from pathlib import Path

    from egov.inventory import load_estate
    from egov.inventory.model import Estate

    lab = Path(__file__).parents[2] / "inventory" / "lab.yaml"
    estate = load_estate(lab).estate
    assert Estate.model_validate(estate.model_dump()) == estate
    assert Estate.model_validate_json(estate.model_dump_json()) == estate


@pytest.mark.parametrize(
    ("written", "bytes_per_second"),
    [("200 Mbit/s", 25e6), ("1 Gbit/s", 125e6), ("145 MB/s", 145e6), ("1.5GB/s", 1.5e9)],
)
def test_rates_read_bits_and_bytes(written: str, bytes_per_second: float) -> None:
    assert parse_rate(written) == pytest.approx(bytes_per_second)


@pytest.mark.parametrize("written", ["200", "200 Mbps", "fast", "1 bit/s", "100 TB/s", True, 5])
def test_rates_without_a_unit_or_out_of_bounds_are_refused(written: object) -> None:
    with pytest.raises(ValueError, match=r"rate|outside"):
        parse_rate(written)


def test_a_rate_is_spoken_of_in_bits() -> None:
    assert format_rate(25e6) == "200 Mbit/s" and format_rate(125e6) == "1 Gbit/s"
