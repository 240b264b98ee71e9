"""One bar of a predicted night: apart from ``night`` so that ``nightshare`` re-times bars
without importing the module that places them."""

from __future__ import annotations

from pydantic import Field

from egov.inventory.fields import StrictModel


class Job(StrictModel):
    """One bar of the night (seconds from the window's start)."""

    label: str
    kind: str = Field(pattern="^(backup|copy|base-backup)$")
    repository: str | None = Field(default=None, description="For a copy: its target.")
    dataset: str | None = None
    host: str | None = None
    site: str
    start_seconds: float
    end_seconds: float
    bytes: float
    shards: int = 1
