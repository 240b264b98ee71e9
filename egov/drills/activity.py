"""What an action or probe is: its ``with:`` model, its entry, and how a module registers one.

The modules that hold actions and probes (``catalog.CATALOG_MODULES``) import this module,
never ``catalog.py``: the catalog imports them, so the dependency runs one way
(catalog → actions, probes, … → activity) and there is no import cycle.
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


#: Every registered entry by name, filled as the catalog's modules are imported.
REGISTRY: dict[str, Entry] = {}


def register(
    kind: Kind, name: str, arguments: type[Arguments], *, lab_only: bool = False
) -> Callable[[Callable[[DrillContext, Any], Any]], Callable[[DrillContext, Any], Any]]:
    """Add the decorated function to the registry; its docstring's first line describes it."""

    def decorate(
        function: Callable[[DrillContext, Any], Any],
    ) -> Callable[[DrillContext, Any], Any]:
        if name in REGISTRY:
            raise ValueError(f"{name} is registered twice")
        description = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else ""
        REGISTRY[name] = Entry(name, kind, arguments, function, description, lab_only)
        return function

    return decorate
