"""One bar of a predicted night, and the changes the plan may try: apart from ``night`` so
that ``nightshare`` re-times bars without importing the module that places them."""

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


class Changes(StrictModel):
    """What the plan may change: the configuration as it is when empty."""

    shards: dict[str, int] = Field(default_factory=dict, description="dataset → shards.")
    starts: dict[str, float] = Field(
        default_factory=dict, description="dataset → start, seconds from the window's start."
    )
    parallel_copies: bool = False
    link_rates: dict[str, float] = Field(
        default_factory=dict, description="repository → bytes/s its copy would need."
    )
    source_rate: float | None = None
    moved_dumps: list[str] = Field(
        default_factory=list,
        description="Archived datasets whose dump moves to ``PlanInputs.dump_moves``.",
    )
    first_days: dict[str, int] = Field(
        default_factory=dict,
        description="Schedule field (backup.datasets.X.schedule, …archive.schedule) → the "
        "first_day it would run on.",
    )
