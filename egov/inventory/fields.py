"""Field types shared by the inventory models: durations, sizes, names and secret references.

Each type parses the short human form a sysadmin writes in YAML ("15m", "142.8 TB",
"file:/etc/egov/secrets/restic") and publishes a JSON Schema pattern so editors check it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema


class StrictModel(BaseModel):
    """The base of every model egov reads from a file or builds from one: unknown keys are
    refused, values frozen, and NaN and infinity refused outright (comparisons with NaN are
    false, so they would pass every bound)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_DURATION_UNITS_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
DURATION_PATTERN = r"^([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
_DURATION_RE = re.compile(r"([0-9]+)([wdhms])")
_DURATION_MAX_CHARACTERS = 32
MAX_DURATION = timedelta(days=3660)
"""Ten years: no period an estate declares is longer, and a longer one is a typo (it would
also overflow ``timedelta`` well before ``99999999999w``)."""


def parse_duration(value: object) -> timedelta:
    """Turn "1h30m" (weeks, days, hours, minutes, seconds) into a timedelta.

    Raise ValueError naming the accepted form for anything else: a bare number has no unit
    (is ``300`` seconds or minutes?) and would skip the check of the written form, so it is
    refused with the spelling to use; a duration beyond MAX_DURATION is refused before any
    arithmetic could overflow.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{_shown(value)} is not a duration — write it like 30s, 15m, 4h or 1d")
    if isinstance(value, int | float):
        amount = _shown(abs(value)) if abs(value) < 10**9 else "300"
        raise ValueError(
            f"{_shown(value)} is a bare number, not a duration — write the unit, e.g. {amount}s"
        )
    text = value.strip()
    if not text or len(text) > _DURATION_MAX_CHARACTERS or not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(
            f"{_shown(value)} is not a duration — write it like 30s, 15m, 4h, 1d or 1h30m"
        )
    seconds = sum(
        int(amount) * _DURATION_UNITS_SECONDS[unit] for amount, unit in _DURATION_RE.findall(text)
    )
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(
            f"{text} is longer than {format_duration(MAX_DURATION)}, the longest duration — a typo?"
        )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Write a timedelta back in the inventory's short form: ``timedelta(hours=4)`` → "4h"."""
    remaining = int(value.total_seconds())
    if remaining == 0:
        return "0s"
    sign = "-" if remaining < 0 else ""
    remaining = abs(remaining)
    parts = []
    for unit, size in _DURATION_UNITS_SECONDS.items():
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + "".join(parts)


@dataclass(frozen=True)
class DurationRange:
    """The bounds of one kind of Duration field; validation and JSON Schema both come from it.

    Used as ``Annotated[timedelta, DurationRange(minimum=...)]``: the written form is parsed by
    ``parse_duration``, then held to ``[minimum, maximum]`` (an RTO of 0s is meaningless, a
    timeout of 0s would fail every call).
    """

    minimum: timedelta = timedelta(0)
    maximum: timedelta = MAX_DURATION

    def check(self, value: object) -> timedelta:
        """``value`` as a timedelta within the bounds; ValueError saying which is broken."""
        duration = parse_duration(value)
        if duration < self.minimum:
            shortest = format_duration(self.minimum)
            raise ValueError(f"{format_duration(duration)} is too short — give at least {shortest}")
        if duration > self.maximum:
            raise ValueError(
                f"{format_duration(duration)} is too long — give at most "
                f"{format_duration(self.maximum)}"
            )
        return duration

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.check,
            serialization=core_schema.plain_serializer_function_ser_schema(
                format_duration, return_schema=core_schema.str_schema()
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "maxLength": _DURATION_MAX_CHARACTERS,
            "x-minimum": format_duration(self.minimum),
            "x-maximum": format_duration(self.maximum),
            "examples": ["15m", "4h", "1d", "1h30m"],
        }


Duration = Annotated[timedelta, DurationRange()]
"""A length of time, 0s or more: 30s, 15m, 4h, 1d, 2w or a combination such as 1h30m."""

PositiveDuration = Annotated[timedelta, DurationRange(minimum=timedelta(seconds=1))]
"""A length of time of at least 1s: a target, a timeout or an interval (0s means nothing)."""


SIZE_PATTERN = r"^[0-9]+(\.[0-9]+)?\s*([KMGTP]i?B|B)?$"
MAX_SIZE_BYTES = 10**18
"""An exabyte: more than any province stores; a larger size is a typo."""


def check_size(value: object) -> object:
    """Accept a whole number of bytes or the documented text form; refuse the rest.

    pydantic's ByteSize alone reads ``1.5.3 TB`` and ``true`` as 1 byte: the written form is
    checked here against the same SIZE_PATTERN the JSON Schema publishes.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(SIZE_PATTERN, value.strip()):
        return value.strip()
    raise ValueError(
        f"{_shown(value)} is not a size — write it like 142.8 TB, 500GiB or 4096 (bytes)"
    )


def check_size_bounds(value: ByteSize) -> ByteSize:
    """Refuse a size over MAX_SIZE_BYTES (a typo, and beyond what any disk holds)."""
    if value > MAX_SIZE_BYTES:
        raise ValueError(f"{value} bytes is more than 1 EB, the largest size — a typo?")
    return value


Size = Annotated[
    ByteSize,
    BeforeValidator(check_size),
    AfterValidator(check_size_bounds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_SIZE_BYTES},
                {"type": "string", "pattern": SIZE_PATTERN},
            ],
            "examples": ["142.8 TB", "500GiB"],
        }
    ),
]
"""A number of bytes, written as an integer or with a unit: 142.8 TB (powers of 1000), 4 TiB."""


RATE_PATTERN = r"^([0-9]+(?:\.[0-9]+)?)\s*([kMGT]?)(bit|B)/s$"
_RATE_RE = re.compile(RATE_PATTERN)
_RATE_PREFIXES = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
MIN_RATE_BYTES_PER_SECOND = 1e3
"""1 kB/s: anything slower is a typo, and a rate near zero makes every prediction infinite."""
MAX_RATE_BYTES_PER_SECOND = 1e13
"""10 TB/s (80 Tbit/s): beyond any disk or link of a data centre."""


def parse_rate(value: object) -> float:
    """Turn "200 Mbit/s" or "145 MB/s" (powers of 1000) into bytes per second.

    Links are written in bits, disks and restic in bytes: both spellings are accepted and the
    unit says which. Raise ValueError naming the accepted form, or when the rate is below
    1 kB/s or above 10 TB/s.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not a rate — write it like 200 Mbit/s or 145 MB/s")
    match = _RATE_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{_shown(value)} is not a rate — write it like 200 Mbit/s or 145 MB/s")
    rate = (
        float(match.group(1))
        * _RATE_PREFIXES[match.group(2)]
        / (8 if match.group(3) == "bit" else 1)
    )
    if not MIN_RATE_BYTES_PER_SECOND <= rate <= MAX_RATE_BYTES_PER_SECOND:
        raise ValueError(f"{value.strip()} is outside 1 kB/s … 10 TB/s — a typo?")
    return rate


def format_rate(bytes_per_second: float) -> str:
    """``25000000.0`` → ``200 Mbit/s``: how a link is spoken of."""
    bits = bytes_per_second * 8
    for prefix, factor in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if bits >= factor:
            return f"{bits / factor:.3g} {prefix}bit/s"
    return f"{bits:.3g} bit/s"


def _write_rate(bytes_per_second: float) -> str:
    """``25000000.0`` → ``25000000 B/s``: exact, and read back by ``parse_rate``."""
    return format(bytes_per_second, "f").rstrip("0").rstrip(".") + " B/s"


Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    PlainSerializer(_write_rate),
    WithJsonSchema(
        {"type": "string", "pattern": RATE_PATTERN, "examples": ["200 Mbit/s", "145 MB/s"]}
    ),
]
"""Bytes per second, written with a unit: 200 Mbit/s (a link), 145 MB/s (a disk, restic)."""


WholeNumber = Annotated[int, Strict()]
"""An integer as written, never a yes/no, a text or a fraction (bounds given per field)."""

Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
"""A TCP port."""

Count = Annotated[int, Strict(), Field(ge=0, le=100_000)]
"""How many of something: 0 or more, never a yes/no or a fraction."""

Number = Annotated[float, Strict()]
"""A number as written (a whole number or a decimal), never a yes/no or a text."""

Fraction = Annotated[float, Strict(), Field(gt=0, lt=1)]
"""A number strictly between 0 and 1, such as an availability objective."""


def _shown(value: object) -> str:
    """``value`` as written, shortened (an integer past 4300 digits cannot even be shown)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return "a number of more than 38 digits"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$"

Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN),
    Field(examples=["db-01", "portal"]),
]
"""A name used in host names, unit names and metric labels: lowercase letters, digits, dashes."""


SECRET_REFERENCE_PATTERN = r"^(file:/[^\s]+|env:[A-Za-z_][A-Za-z0-9_]*)$"  # noqa: S105 (a pattern, not a password)


def check_secret_reference(value: Any) -> Any:
    """Accept only ``file:/path`` or ``env:NAME``; refuse anything else without echoing it.

    The message never repeats the value: if it was an inline password it must not reach a
    terminal, a log or a CI transcript.
    """
    if isinstance(value, str) and re.fullmatch(SECRET_REFERENCE_PATTERN, value):
        return value
    raise ValueError(
        "inline secret or malformed secret reference (value not shown); keep the secret in a "
        "file readable only by root and write file:/etc/egov/secrets/NAME, or env:VARIABLE"
    )


SecretReference = Annotated[
    str,
    BeforeValidator(check_secret_reference),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SECRET_REFERENCE_PATTERN,
            "description": (
                "Where the secret is kept, never the secret itself: `file:/absolute/path` "
                "(a file readable only by root, mode 0600) or `env:VARIABLE`."
            ),
            "examples": ["file:/etc/egov/secrets/restic-primary", "env:EGOV_RESTIC_PASSWORD"],
        }
    ),
]
"""A reference to a secret: ``file:/path`` or ``env:NAME``; the value itself never sits here."""


def is_secret_reference(value: object) -> bool:
    """Tell whether a value is a well-formed ``file:``/``env:`` secret reference."""
    return isinstance(value, str) and re.fullmatch(SECRET_REFERENCE_PATTERN, value) is not None
