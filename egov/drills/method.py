"""The method of a drill: its groups of steps, the rollbacks of the steps that started, and
the steady-state probes, each journalled as it starts and ends (``conduct.py`` orders them;
``recover.py`` runs the rollbacks and probes a killed runner left).

A manual step asks the operator through ``context.confirm``; progress goes to
``context.progress``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from egov.drills.context import DrillContext
from egov.drills.journal import Journal
from egov.drills.scenario import ModePlan, Probe, Step
from egov.drills.steps import Masker, Outcome, evaluate_probe, run_rollback, run_step


def run_groups(
    plan: ModePlan, context: DrillContext, operator: str, mask: Masker, started: list[Step]
) -> bool:
    """Run the groups in order, a parallel group's steps at once, adding each step to
    ``started`` as it starts; True when a critical step failed (the method stopped there)."""
    for group in plan.steps:
        context.progress(f"group {group.group}")
        if group.parallel and len(group.steps) > 1:
            with ThreadPoolExecutor(max_workers=len(group.steps)) as pool:
                futures = [
                    pool.submit(_run_one, context, group.group, step, operator, mask, started)
                    for step in group.steps
                ]
                results = [future.result() for future in futures]
        else:
            results = []
            for step in group.steps:
                results.append(_run_one(context, group.group, step, operator, mask, started))
                if not results[-1]:
                    break
        if not all(results):
            return True
    return False


def _run_one(
    context: DrillContext,
    group: str,
    step: Step,
    operator: str,
    mask: Masker,
    started: list[Step],
) -> bool:
    """Run one step; False when it failed and is critical."""
    journal = context.journal
    journal.append(
        "step",
        group=group,
        name=step.name,
        kind=step.kind,
        description=step.description or (step.manual or ""),
        critical=step.critical,
    )
    started.append(step)
    if step.fault:
        context.mark_fault()
    context.progress(f"step {step.name}")
    if step.manual is not None:
        confirmed = context.confirm(step.manual)
        answer = (
            Outcome("succeeded", 1, output=f"confirmed by {operator}")
            if confirmed
            else Outcome("failed", 1, error="the operator did not confirm")
        )
        _journal_end(journal, "step-end", step.name, answer)
        return confirmed or not step.critical
    outcome = run_step(context, step, mask)
    _journal_end(journal, "step-end", step.name, outcome)
    context.progress(f"step {step.name}: {outcome.status}")
    if outcome.status != "succeeded" and step.critical:
        journal.append("failure", text=f"step {step.name} {outcome.status}: {outcome.error}")
        return False
    return True


def _journal_end(journal: Journal, event: str, name: str, outcome: Outcome) -> None:
    """Journal how a step or a rollback ended (``event``: ``step-end`` or ``rollback-end``)."""
    journal.append(
        event,
        name=name,
        status=outcome.status,
        attempts=outcome.attempts,
        output=outcome.output,
        error=outcome.error,
    )


def run_rollbacks(context: DrillContext, started: list[Step], mask: Masker) -> bool:
    """Roll back the started steps newest first; True when any rollback failed."""
    failed = False
    for step in reversed(started):
        if step.rollback is None:
            continue
        context.journal.append(
            "rollback", name=step.name, kind="rollback", description=step.rollback.action
        )
        context.progress(f"rollback of {step.name}")
        outcome = run_rollback(context, step.rollback, mask)
        _journal_end(context.journal, "rollback-end", step.name, outcome)
        if outcome.status != "succeeded":
            failed = True
            context.journal.append(
                "failure", text=f"rollback of {step.name} {outcome.status}: {outcome.error}"
            )
    return failed


def probe_all(context: DrillContext, probes: list[Probe], phase: str, mask: Masker) -> bool:
    ok = True
    for probe in probes:
        met, value, detail = evaluate_probe(context, probe)
        context.journal.append(
            "probe",
            phase=phase,
            name=probe.name,
            value=value,
            tolerance=probe.tolerance.describe(),
            ok=met,
            detail=mask(detail),
        )
        context.progress(f"probe {probe.name}: {value!r} {'ok' if met else 'FAILED'}")
        ok = ok and met
    return ok
