"""The actions and probes a scenario may name, each with the arguments it accepts.

A scenario refers to them by name (``action: promote-database``); the loader checks the name
and validates ``with:`` against the entry's argument model before anything runs, so a typo
is a ``file:line`` error, not a failure halfway through a drill.

The catalog is the entries of the modules in ``CATALOG_MODULES``, imported here: a new
module of actions goes in that list. Those modules register through ``activity.py`` and
never import this one, so there is no import cycle.
"""

from __future__ import annotations

from types import ModuleType

from egov.drills import (
    actions,
    filestore,
    isolation,
    operatorerror,
    probes,
    replicationsteps,
    testcopy,
)
from egov.drills.activity import REGISTRY, Entry
from egov.drills.activity import Arguments as Arguments  # noqa: PLC0414 (the tests register)
from egov.drills.activity import register as register  # noqa: PLC0414

#: Every module whose functions are catalog entries (registered on import).
CATALOG_MODULES: tuple[ModuleType, ...] = (
    actions,
    filestore,
    isolation,
    operatorerror,
    probes,
    replicationsteps,
    testcopy,
)

#: Every action and probe by name (the tests add their fakes here and remove them).
CATALOG: dict[str, Entry] = REGISTRY


def get_catalog() -> dict[str, Entry]:
    """Every action and probe by name."""
    return CATALOG
