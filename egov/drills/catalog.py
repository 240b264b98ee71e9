"""The actions and probes a scenario may name, each with the arguments it accepts.

A scenario refers to them by name (``action: promote-database``); the loader checks the name
and validates ``with:`` against the entry's argument model before anything runs, so a typo
is a ``file:line`` error, not a failure halfway through a drill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from egov.drills.context import DrillContext

Kind = Literal["action", "probe"]


class Arguments(BaseModel):
    """Base of every entry's ``with:`` model (unknown keys refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Entry:
    """One action or probe."""

    name: str
    kind: Kind
    arguments: type[Arguments]
    function: Callable[[DrillContext, Any], Any]
    description: str
    lab_only: bool = False


CATALOG: dict[str, Entry] = {}


def register(
    kind: Kind, name: str, arguments: type[Arguments], *, lab_only: bool = False
) -> Callable[[Callable[[DrillContext, Any], Any]], Callable[[DrillContext, Any], Any]]:
    """Add the decorated function to the catalog; its docstring's first line describes it."""

    def decorate(
        function: Callable[[DrillContext, Any], Any],
    ) -> Callable[[DrillContext, Any], Any]:
        if name in CATALOG:
            raise ValueError(f"{name} is registered twice")
        description = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else ""
        CATALOG[name] = Entry(name, kind, arguments, function, description, lab_only)
        return function

    return decorate


def get_catalog() -> dict[str, Entry]:
    """Every action and probe (importing the modules that register them)."""
    from egov.drills import (  # noqa: F401 (registration on import)
        actions,
        isolation,
        probes,
        replication,
    )

    return CATALOG
