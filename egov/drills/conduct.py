"""Running a drill: readiness gate, the method's groups, measurement, rollbacks, the verdict.

Order of a run: take the lock; journal the start (scenario hash, operator, reason, targets);
run the readiness probes and refuse to change anything if one fails; start the canary;
silence the alerts the drill causes (``silences.py``); run the groups (in order; a parallel
group's steps at once); on a failed critical step or Ctrl-C, stop; run the rollbacks of the
steps that started, newest first (always for a test: that is its cleanup); probe readiness
again after a cleanup; judge the journal (``verdict.judge_drill``: a failure for each
objective missed) and end it as ``verdict.get_end_status`` says; lift the silences; journal
the end; close the journal, signed; release the lock. A runner killed outright leaves the
lock and a journal without an end: ``recover.py`` finishes it. The groups, rollbacks and
probes themselves run in ``method.py``.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from egov import __version__
from egov.drills import lock
from egov.drills.canary import CanaryWriter
from egov.drills.context import DrillContext
from egov.drills.events import read_events
from egov.drills.journal import JOURNAL_NAME, Journal, has_ended, read_journal
from egov.drills.loader import LoadedScenario
from egov.drills.method import probe_all, run_groups, run_rollbacks
from egov.drills.remote import Remote
from egov.drills.scenario import Cleanup, Mode, ModePlan, Step
from egov.drills.signing import get_or_create_signing_key, get_signing_key_path
from egov.drills.silences import (
    SilenceService,
    get_journal_id,
    lift_drill_silences,
    make_drill_silences,
    make_settle_time,
    set_drill_silences,
)
from egov.drills.steps import Masker, make_masker
from egov.drills.summary import DrillSummary, summarize
from egov.drills.verdict import DrillStatus, Targets, get_end_status, judge_drill
from egov.errors import DrillInputError
from egov.inventory.model import Environment, Estate
from egov.monitoring.alertmanager_api import SilenceRequest

CANARY_WARMUP_SECONDS = 3.0
#: The canary writes at least this much longer than the tightest RPO target before the fault,
#: so that records older than the target exist and their loss is judged one by one ...
CANARY_WARMUP_MARGIN_SECONDS = 2.0
#: ... but never longer than this (a 15-minute RPO is judged by its seconds and by the records
#: of the last minute).
CANARY_WARMUP_MAX_SECONDS = 60.0


@dataclass
class RunOptions:
    """How to run: the mode, who runs it and why, how to reach the operator."""

    mode: Mode
    directory: Path  # the estate's drill directory (journals, lock)
    operator: str = field(default_factory=getpass.getuser)
    reason: str = ""
    confirmed: bool = False
    confirm_manual: Callable[[str], bool] = lambda _instruction: False
    progress: Callable[[str], None] = lambda _message: None
    # the estate's drill signing key [default: $EGOV_DRILL_KEY, else /etc/egov/secrets/…]
    signing_key: Path | None = None
    # where the drill silences the alerts it causes (``silences.py``); None sets none
    # (the runner's unit tests), the CLI gives the monitoring hosts' Alertmanagers
    alertmanager: SilenceService | None = None


def check_options(loaded: LoadedScenario, options: RunOptions) -> None:
    """Refuse a run that touches production without --confirm and a reason (exit 2)."""
    if options.mode.touches_production:
        problems = []
        if not options.confirmed:
            problems.append(f"--mode {options.mode.value} changes production and needs --confirm")
        if not options.reason.strip():
            problems.append(f"--mode {options.mode.value} needs --reason (the ticket or why)")
        if problems:
            raise DrillInputError(problems, "nothing was touched")


def make_run_directory(directory: Path, scenario: str, mode: Mode, now: float) -> Path:
    """``<directory>/20261127T080000Z-<scenario>-<mode>``."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = directory / f"{stamp}-{scenario}-{mode.value}"
    number = 1
    while candidate.exists():  # two runs within one second
        number += 1
        candidate = directory / f"{stamp}-{scenario}-{mode.value}-{number}"
    return candidate


def get_targets(estate: Estate, loaded: LoadedScenario, services: list[str]) -> dict[str, Targets]:
    """Each service's targets: the scenario's overrides, else the inventory's.

    A service's file-store target is the tightest of its file trees' (each the path's own
    ``rpo``, else the service's): one snapshot restores them all, so the tightest binds.
    """
    scenario_targets = loaded.scenario.targets
    targets = {}
    for name in services:
        service = estate.services[name]
        file_rpos = [f.rpo or service.rpo for f in service.data.files]
        files_rpo = scenario_targets.files_rpo or (min(file_rpos) if file_rpos else None)
        targets[name] = Targets(
            rto_seconds=(scenario_targets.rto or service.rto).total_seconds(),
            rpo_seconds=(scenario_targets.rpo or service.rpo).total_seconds(),
            files_rpo_seconds=files_rpo.total_seconds() if files_rpo else None,
        )
    return targets


def get_warmup_seconds(targets: dict[str, Targets]) -> float:
    """How long the canary writes before the method starts (see the constants)."""
    tightest = min((target.rpo_seconds for target in targets.values()), default=0.0)
    wanted = max(CANARY_WARMUP_SECONDS, tightest + CANARY_WARMUP_MARGIN_SECONDS)
    return min(wanted, CANARY_WARMUP_MAX_SECONDS)


def run_drill(
    loaded: LoadedScenario, estate: Estate, options: RunOptions, notes: list[str] | None = None
) -> DrillSummary:
    """Run ``loaded`` in ``options.mode``; return the summary of its journal."""
    check_options(loaded, options)
    scenario = loaded.scenario
    services = scenario.services or list(estate.services)
    run_directory = make_run_directory(options.directory, scenario.name, options.mode, time.time())
    journal_path = run_directory / JOURNAL_NAME
    plan = scenario.modes.get(options.mode)
    # before the lock: a drill that could not sign its journal must not start
    key = get_or_create_signing_key(
        get_signing_key_path(estate.name, options.signing_key), estate.name
    )
    lock.acquire(options.directory, journal_path)
    try:
        journal = Journal.create(journal_path)
        context = make_context(estate, journal, options, services, loaded, plan)
        _journal_start(journal, loaded, estate, options, context)
        for text in notes or []:
            journal.append("note", text=text, author=options.operator)
    except BaseException:
        lock.release(options.directory)
        raise
    try:
        _run(loaded, plan, context, options, make_masker(estate))
    finally:
        # without its end (the runner broke in a rollback) the journal stays open and the lock
        # stays: recover finishes and closes it
        if has_ended(read_journal(journal_path, torn_tail_ok=True)):
            journal.close(key)
        if lock.is_finished(journal_path):
            lock.release(options.directory)
    return summarize(read_events(journal_path), str(journal_path))


def make_context(
    estate: Estate,
    journal: Journal,
    options: RunOptions,
    services: list[str],
    loaded: LoadedScenario,
    plan: ModePlan | None,
) -> DrillContext:
    lab = None
    if estate.environment is Environment.LAB:
        from egov.lab.estate import make_lab_spec

        lab = make_lab_spec(estate)
    return DrillContext(
        estate=estate,
        remote=Remote(estate),
        journal=journal,
        mode=options.mode,
        services=services,
        targets=get_targets(estate, loaded, services),
        lab=lab,
        recovery_site=plan.recovery_site if plan else None,
        measuring=bool(plan and plan.measure),
        progress=options.progress,
        confirm=options.confirm_manual,
    )


def _journal_start(
    journal: Journal,
    loaded: LoadedScenario,
    estate: Estate,
    options: RunOptions,
    context: DrillContext,
) -> None:
    scenario = loaded.scenario
    journal.append(
        "start",
        estate=estate.name,
        estate_title=estate.title,
        scenario=scenario.name,
        scenario_title=scenario.title,
        scenario_title_vi=scenario.title_vi,
        description=scenario.description,
        scenario_path=str(loaded.path),
        scenario_version=loaded.sha256,
        mode=options.mode.value,
        operator=options.operator,
        reason=options.reason,
        control_node=socket.gethostname(),
        pid=os.getpid(),
        egov_version=__version__,
        measured=context.measuring,
        services=context.services,
        targets={
            name: {
                "title": estate.services[name].title,
                "rto_seconds": target.rto_seconds,
                "rpo_seconds": target.rpo_seconds,
                "files_rpo_seconds": target.files_rpo_seconds,
            }
            for name, target in context.targets.items()
        },
    )


def _run(
    loaded: LoadedScenario,
    plan: ModePlan | None,
    context: DrillContext,
    options: RunOptions,
    mask: Masker,
) -> None:
    journal = context.journal
    readiness = loaded.scenario.get_readiness(options.mode)
    options.progress("readiness probes")
    ready = probe_all(context, readiness, "before", mask)
    if plan is None:  # --mode readiness
        journal.append("end", status=(DrillStatus.SUCCEEDED if ready else DrillStatus.FAILED).value)
        return
    if not ready:
        journal.append("failure", text="readiness probes failed: nothing was changed")
        journal.append("end", status=DrillStatus.REFUSED.value)
        return
    if plan.measure and not _start_canary(context, plan):
        # nothing acknowledged, nothing to lose: every RPO would pass for nothing
        journal.append("failure", text="the canary cannot write: RPO cannot be measured")
        journal.append("end", status=DrillStatus.REFUSED.value)
        return
    started: list[Step] = []
    failed = interrupted = False
    silences = _plan_silences(loaded, plan, context, options)
    silence_ids: list[str] = []
    try:
        silence_ids = _set_silences(options, journal, silences)
        failed = run_groups(plan, context, options.operator, mask, started)
    except KeyboardInterrupt:
        interrupted = True
        journal.append("failure", text="interrupted by the operator (Ctrl-C)")
    except Exception as error:
        failed = True
        journal.append("failure", text=mask(f"internal error: {type(error).__name__}: {error}"))
    finally:
        if context.canary is not None:
            context.canary.stop()
            _journal_canary(context)
    cleanup_failed = False
    if failed or interrupted or plan.cleanup is Cleanup.ALWAYS:
        cleanup_failed = run_rollbacks(context, started, mask)
        options.progress("readiness probes after the cleanup")
        if not probe_all(context, readiness, "after", mask) and not (failed or interrupted):
            cleanup_failed = True
            journal.append("failure", text="the estate fails its readiness probes after cleanup")
    status = _judge(context, interrupted=interrupted, failed=failed, cleanup_failed=cleanup_failed)
    _lift_silences(options, journal, silences, silence_ids, make_settle_time(context.estate))
    journal.append("end", status=status.value)
    if interrupted:
        raise KeyboardInterrupt


def _set_silences(
    options: RunOptions, journal: Journal, silences: list[SilenceRequest]
) -> list[str]:
    if options.alertmanager is None or not silences:
        return []
    return set_drill_silences(options.alertmanager, journal, silences, options.progress)


def _lift_silences(
    options: RunOptions,
    journal: Journal,
    silences: list[SilenceRequest],
    ids: list[str],
    settle: timedelta,
) -> None:
    """Lift this run's silences, a settle time from now, when it set (or tried to set) any."""
    if options.alertmanager is not None and silences:
        lift_drill_silences(
            options.alertmanager,
            journal,
            ids,
            "runner",
            options.progress,
            settle=(datetime.now(UTC), settle),
        )


def _plan_silences(
    loaded: LoadedScenario, plan: ModePlan, context: DrillContext, options: RunOptions
) -> list[SilenceRequest]:
    """The silences this run sets before its first step (none without an Alertmanager)."""
    if options.alertmanager is None:
        return []
    return make_drill_silences(
        loaded.scenario.name,
        options.mode,
        plan,
        context.estate,
        context.services,
        get_journal_id(context.journal),
        options.reason,
        datetime.now(UTC),
    )


def _start_canary(context: DrillContext, plan: ModePlan) -> bool:
    """Start writing records where the services answer now; False (stopped) when a service
    acknowledged none within the warm-up."""
    site = plan.active_site or context.estate.primary_site
    endpoints = {name: context.get_endpoint(name, site) for name in context.services}
    canary = CanaryWriter(endpoints)
    canary.start()
    context.progress(f"canary writing to {site}")
    time.sleep(get_warmup_seconds(context.targets))
    silent = [name for name in context.services if not canary.get_acknowledged(name)]
    for name in silent:
        context.journal.append(
            "failure", text=f"the canary of {name} got no acknowledgement at {site}"
        )
    if silent:
        canary.stop()
        return False
    context.canary = canary
    return True


def _journal_canary(context: DrillContext) -> None:
    """What the canary wrote: the last acknowledged record per service (evidence for failback),
    the writes that failed, and of those the ones the verdict counts (``refused_writes``)."""
    assert context.canary is not None
    services = {}
    for name in context.services:
        acknowledged = context.canary.get_acknowledged(name)
        services[name] = {
            "acknowledged": len(acknowledged),
            "last_acknowledged": max(acknowledged) if acknowledged else None,
            "failed_writes": context.canary.failed_writes.get(name, 0),
            "refused_writes": context.count_refused_writes(name),
            "site": context.canary.endpoints[name].site,
        }
    context.journal.append("canary", services=services)


def _judge(
    context: DrillContext, *, interrupted: bool, failed: bool, cleanup_failed: bool
) -> DrillStatus:
    """The run's end status from ``verdict.judge_drill`` over its journal so far; a run that
    went its whole way journals a failure for every objective the verdict finds missed."""
    verdict = judge_drill(read_events(context.journal.path))
    if not (failed or interrupted):
        for text in verdict.problems:
            context.journal.append("failure", text=text)
    return get_end_status(verdict, interrupted=interrupted, failed=failed or cleanup_failed)
