"""Field types shared by the inventory models: durations, sizes, names and secret references.

Each type parses the short human form a sysadmin writes in YAML ("15m", "142.8 TB",
"file:/etc/egov/secrets/restic") and publishes a JSON Schema pattern so editors check it too.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ByteSize,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

_DURATION_UNITS_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
DURATION_PATTERN = r"^([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
_DURATION_RE = re.compile(r"([0-9]+)([wdhms])")


def parse_duration(value: Any) -> Any:
    """Turn "1h30m" (weeks, days, hours, minutes, seconds) into a timedelta.

    Integers are seconds. Anything else is returned unchanged so that pydantic reports it with
    its own words; a malformed string raises ValueError naming the accepted form.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{value!r} is not a duration; write it like 30s, 15m, 4h, 1d or 1h30m")
    seconds = sum(
        int(amount) * _DURATION_UNITS_SECONDS[unit] for amount, unit in _DURATION_RE.findall(text)
    )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Write a timedelta back in the inventory's short form: ``timedelta(hours=4)`` → "4h"."""
    remaining = int(value.total_seconds())
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in _DURATION_UNITS_SECONDS.items():
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "examples": ["15m", "4h", "1d", "1h30m"],
        }
    ),
]
"""A length of time written as 30s, 15m, 4h, 1d, 2w or a combination such as 1h30m."""


SIZE_PATTERN = r"^[0-9]+(\.[0-9]+)?\s*([KMGTP]i?B|B)?$"

Size = Annotated[
    ByteSize,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": SIZE_PATTERN},
            ],
            "examples": ["142.8 TB", "500GiB"],
        }
    ),
]
"""A number of bytes, written as an integer or with a unit: 142.8 TB (powers of 1000), 4 TiB."""


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
