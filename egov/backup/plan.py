"""``egov backup plan``: will the night fit, and if not, what would make it fit? Pure.

``make_backup_plan`` predicts the night as configured (``night``), proposes changes for what
does not fit (``proposals``: an earlier start, shards, parallel copies, the bandwidth a link
would need), predicts the night again with them applied, and says how long each dataset
would take to restore. When jobs run less often than daily (a weekly dump, the WAL
archives' base backups), ``longer`` holds the nights they run on (one for each set of them
that run together, ``stagger``), with the proposals applied: staggering them onto
different nights is proposed when the ones that share a night make it not fit.
"""

from __future__ import annotations

from pydantic import Field

from egov.backup.night import Night, configured, plan_night
from egov.backup.nightjobs import Changes
from egov.backup.planfigure import Figure
from egov.backup.planinputs import PlanInputs
from egov.backup.proposals import Proposal, propose_changes
from egov.backup.stagger import plan_longer_nights, propose_stagger
from egov.inventory.fields import StrictModel


class Restore(StrictModel):
    """How long restoring one dataset of one host would take."""

    dataset: str
    host: str
    bytes: float
    seconds: float
    rate: Figure


class BackupPlan(StrictModel):
    """The night as configured, the changes proposed, and the night with them."""

    inputs: PlanInputs
    night: Night
    proposals: list[Proposal]
    changes: Changes
    proposed: Night
    longer: list[Night] = Field(
        description="The nights the jobs run less often than daily run on, each with the "
        "days of the month it stands for (none: there are no such jobs)."
    )
    restores: list[Restore]


def make_restores(inputs: PlanInputs) -> list[Restore]:
    """How long each dataset of each host would take to restore, at the restore rate."""
    return [
        Restore(
            dataset=job.dataset,
            host=job.host,
            bytes=job.size_bytes.value,
            seconds=job.size_bytes.value / job.restore_throughput.value,
            rate=job.restore_throughput,
        )
        for job in inputs.jobs
    ]


def make_backup_plan(inputs: PlanInputs) -> BackupPlan:
    """The night as configured, what would make it fit, and the night with that applied."""
    night = plan_night(inputs)
    done = night.fits and night.meets_targets
    changes, proposals = (configured(inputs), []) if done else propose_changes(inputs, night)
    proposed = plan_night(inputs, changes) if proposals else night
    changes, staggered = propose_stagger(inputs, changes)
    return BackupPlan(
        inputs=inputs,
        night=night,
        proposals=[*proposals, *staggered],
        changes=changes,
        proposed=proposed,
        longer=plan_longer_nights(inputs, changes),
        restores=make_restores(inputs),
    )
