"""What a cross-check of the estate reports: a finding at a path of the inventory.

Kept apart from the checks themselves so that checks of one area (``alerting_checks.py``)
live in their own module and the loader formats every finding the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from egov.inventory.model import Environment, Estate
from egov.inventory.yamlsource import PathKey


class Severity(StrEnum):
    """How bad a finding is."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem of the estate, at a path of the inventory."""

    severity: Severity
    path: PathKey
    message: str
    hint: str = ""


def make_error(path: PathKey, message: str, hint: str = "") -> Finding:
    """A finding that stops the estate from being used."""
    return Finding(Severity.ERROR, path, message, hint)


def make_warning(path: PathKey, message: str, hint: str = "") -> Finding:
    """A finding that deserves attention but lets the estate run."""
    return Finding(Severity.WARNING, path, message, hint)


PLACEHOLDER_HINT = "replace it with the real address before deploying; egov will not connect to it"


def make_placeholder_finding(
    estate: Estate, path: PathKey, message: str, hint: str = PLACEHOLDER_HINT
) -> Finding:
    """A documentation-range address: a warning while a production inventory is being filled
    in (egov refuses to connect to it anyway), an error in a lab, whose networks are real."""
    if estate.environment is Environment.LAB:
        return make_error(path, message, hint)
    return make_warning(path, message, hint)
