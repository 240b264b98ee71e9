"""Drill scenarios as data: readiness probes, grouped steps, rollbacks, targets, per mode.

A scenario is a YAML file (shipped ones in ``egov/drills/scenarios/``, the province's own in
``drills/`` beside the inventory). The models here check its shape; ``loader.py`` adds the
cross-checks that need the inventory and the catalog of actions and probes.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from egov.inventory.fields import Duration, Name, Number, PositiveDuration, StrictModel, WholeNumber

SCENARIO_SCHEMA_VERSION = 1


class Mode(StrEnum):
    """What a drill run does (``egov drill run --mode``)."""

    READINESS = "readiness"  # probes only; nothing changes
    TEST = "test"  # recover in isolation at the recovery site, verify, clean up
    SWITCHOVER = "switchover"  # planned, with a healthy primary: no data loss expected
    FAILOVER = "failover"  # unplanned: the primary is lost
    FAILBACK = "failback"  # re-seed the primary from the recovery site and return

    @property
    def touches_production(self) -> bool:
        """Whether the mode changes what users are served by (needs --confirm and a reason)."""
        return self in {Mode.SWITCHOVER, Mode.FAILOVER, Mode.FAILBACK}


class Tolerance(StrictModel):
    """What a probe's value must be: ``equals`` a value, or lie within ``[min, max]``."""

    equals: bool | int | float | str | None = None
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Tolerance:
        if self.equals is not None and (self.min is not None or self.max is not None):
            raise ValueError("a tolerance is either `equals:` or a range (`min:`/`max:`)")
        if self.equals is None and self.min is None and self.max is None:
            raise ValueError("a tolerance needs `equals:`, `min:` or `max:`")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"the range is empty: min {self.min} is above max {self.max}")
        return self

    def accepts(self, value: Any) -> bool:
        """The tolerance verdict (pure): does ``value`` satisfy it?"""
        if isinstance(self.equals, bool):
            return isinstance(value, bool) and value is self.equals  # 1 is not true here
        if self.equals is not None:
            return bool(value == self.equals)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        """``= true``, ``≤ 30``, ``10 … 20``."""
        if self.equals is not None:
            return f"= {str(self.equals).lower() if isinstance(self.equals, bool) else self.equals}"
        if self.min is None:
            return f"≤ {self.max:g}"
        if self.max is None:
            return f"≥ {self.min:g}"
        return f"{self.min:g} … {self.max:g}"


class Probe(StrictModel):
    """A steady-state probe: a catalog probe, its arguments and the tolerance it must meet."""

    name: Name
    probe: Name = Field(description="A probe of the catalog (`egov drill list --catalog`).")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    tolerance: Tolerance = Field(default_factory=lambda: Tolerance(equals=True))


OUTSIDE_LAB_DESCRIPTION = (
    "For a lab-only action (a lab fault): what the operator is asked to do and confirm instead "
    "when the inventory is not a lab."
)


class Rollback(StrictModel):
    """What undoes a step; run only if the step started, safe to run twice."""

    action: Name
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    timeout: PositiveDuration = Field(default=timedelta(minutes=5))
    outside_lab: str | None = Field(default=None, description=OUTSIDE_LAB_DESCRIPTION)


class Step(StrictModel):
    """One action, probe or manual confirmation."""

    name: Name
    description: str = ""
    action: Name | None = None
    probe: Name | None = None
    manual: str | None = Field(
        default=None, description="An instruction the operator confirms before the drill goes on."
    )
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    tolerance: Tolerance | None = None
    timeout: PositiveDuration = Field(default=timedelta(minutes=5))
    retries: WholeNumber = Field(default=0, ge=0, le=10)
    retry_delay: Duration = Field(default=timedelta(seconds=5))
    critical: bool = Field(default=True, description="A failed critical step stops the drill.")
    fault: bool = Field(default=False, description="RTO is measured from the start of this step.")
    outside_lab: str | None = Field(default=None, description=OUTSIDE_LAB_DESCRIPTION)
    rollback: Rollback | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [kind for kind in ("action", "probe", "manual") if getattr(self, kind) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a step is exactly one of `action:`, `probe:` or `manual:`"
                + (f" (it has {', '.join(kinds)})" if kinds else "")
            )
        if self.tolerance is not None and self.probe is None:
            raise ValueError("only a probe step takes a `tolerance:`")
        if self.rollback is not None and self.action is None:
            raise ValueError("only an action step takes a `rollback:` (probes change nothing)")
        return self

    @property
    def kind(self) -> str:
        """``action``, ``probe`` or ``manual``."""
        return "action" if self.action else "probe" if self.probe else "manual"


class Group(StrictModel):
    """Steps run in order, or all at once when ``parallel``; groups run one after another."""

    group: Name
    parallel: bool = False
    steps: list[Step] = Field(min_length=1)


class Cleanup(StrEnum):
    """When rollbacks run."""

    ALWAYS = "always"  # a test: cleanup is part of success
    ON_FAILURE = "on-failure"  # a real failover keeps its result unless it fails


class ModePlan(StrictModel):
    """The method of one mode."""

    description: str = ""
    readiness: list[Probe] | None = Field(
        default=None, description="Overrides the scenario's readiness probes for this mode."
    )
    steps: list[Group] = Field(min_length=1)
    cleanup: Cleanup = Cleanup.ON_FAILURE
    measure: bool = Field(default=False, description="Measure RTO and RPO with the canary.")
    active_site: Name | None = Field(
        default=None,
        description="Where the services answer when the mode starts (default: primary).",
    )
    recovery_site: Name | None = Field(
        default=None, description="Where the services must answer after this mode."
    )

    @model_validator(mode="after")
    def _parallel_groups(self) -> ModePlan:
        for group in self.steps:
            if group.parallel and any(step.manual is not None for step in group.steps):
                raise ValueError(
                    f"group {group.group!r} is parallel and has a manual step: an operator "
                    "confirms one thing at a time"
                )
        return self


class Targets(StrictModel):
    """Targets for the whole scenario; unset ones come from each service in the inventory."""

    rto: PositiveDuration | None = None
    rpo: PositiveDuration | None = None
    files_rpo: PositiveDuration | None = None


class Scenario(StrictModel):
    """A drill scenario file."""

    schema_version: WholeNumber = Field(default=SCENARIO_SCHEMA_VERSION, ge=1, le=1)
    name: Name
    title: str = Field(min_length=1)
    title_vi: str = ""
    description: str = ""
    services: list[Name] = Field(
        default_factory=list, description="Services the drill covers (empty: all)."
    )
    targets: Targets = Field(default_factory=Targets)
    readiness: list[Probe] = Field(default_factory=list)
    modes: dict[Mode, ModePlan] = Field(min_length=1)

    @field_validator("modes", mode="before")
    @classmethod
    def _no_readiness_plan(cls, modes: Any) -> Any:
        if isinstance(modes, dict) and Mode.READINESS.value in modes:
            raise ValueError(
                "`readiness` is not a plan: every scenario runs its readiness probes in that "
                "mode; list them under `readiness:`"
            )
        return modes

    def get_readiness(self, mode: Mode) -> list[Probe]:
        """The probes that must pass before ``mode`` starts (and, for a test, after)."""
        plan = self.modes.get(mode)
        if plan is not None and plan.readiness is not None:
            return plan.readiness
        return self.readiness
