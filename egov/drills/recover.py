"""``egov drill recover``: finish what a killed runner left half done.

The journal says which steps started and which rollbacks succeeded; the scenario file (the
same version, checked by its hash) says how to roll each step back. Rollbacks are safe to
repeat, so one cut off halfway runs again from its start. Until every rollback succeeds the
lock stays and no new drill starts. When they have, recover writes the end and the signed
closing entry the runner never wrote; a torn last line it cuts is journalled, not dropped.
Before the end it lifts the silences the drill set (``silences.py``: by the ids journalled
and by the run's journal id in their comment, for one set just before the runner died).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from egov.drills import lock
from egov.drills.conduct import RunOptions, make_context
from egov.drills.events import (
    EventError,
    StartEvent,
    StepEndEvent,
    StepStartEvent,
    parse_events,
    read_events,
)
from egov.drills.journal import Journal, JournalError, has_ended, is_closed, read_journal
from egov.drills.loader import load_scenario
from egov.drills.method import probe_all, run_rollbacks
from egov.drills.scenario import Mode, Step
from egov.drills.signing import get_or_create_signing_key, get_signing_key_path
from egov.drills.silences import SilenceService, get_silence_ids, lift_drill_silences
from egov.drills.steps import make_masker
from egov.drills.summary import DrillSummary, summarize
from egov.drills.verdict import DrillStatus
from egov.errors import DrillError
from egov.inventory.model import Estate

CUT_TEXT_SHOWN_CHARS = 200


def recover_drill(
    directory: Path,
    estate: Estate,
    progress: Callable[[str], None] = lambda _m: None,
    signing_key: Path | None = None,
    alertmanager: SilenceService | None = None,
) -> DrillSummary | None:
    """Finish the unfinished drill of ``directory`` and close its journal, signed with the
    estate's key (``signing_key`` overrides where it is); None when there is none.
    ``alertmanager`` is where the drill's silences are lifted (None: not looked for)."""
    holder = lock.read_lock(directory)
    if holder is None:
        return None
    if holder.is_alive():
        raise DrillError(
            f"the drill of {holder.journal} is still running (pid {holder.pid})",
            "stop it with Ctrl-C (it rolls back by itself), or wait",
        )
    key = get_or_create_signing_key(get_signing_key_path(estate.name, signing_key), estate.name)
    try:
        # a torn last line is what a killed runner leaves: resume cuts it, and says so below
        entries = read_journal(holder.journal, torn_tail_ok=True)
        events = parse_events(entries)
    except (JournalError, EventError) as error:
        raise DrillError(str(error), "the journal was damaged: roll back by hand") from None
    if not entries:
        lock.release(directory)  # it died before writing anything: nothing happened
        return None
    if is_closed(entries):
        lock.release(directory)
        return summarize(events, str(holder.journal))
    if has_ended(entries):  # killed between its end and its close: only the close is missing
        journal = Journal.resume(holder.journal)
        _note_cut_line(journal)
        journal.close(key)
        lock.release(directory)
        return summarize(read_events(holder.journal), str(holder.journal))
    start = events[0]
    if not isinstance(start, StartEvent):
        raise DrillError(
            f"{holder.journal}:1: the journal does not begin with the drill's start",
            "the journal was damaged: roll back by hand",
        )
    loaded = load_scenario(Path(start.scenario_path), estate)
    if loaded.sha256 != start.scenario_version:
        raise DrillError(
            f"{loaded.path} changed since the drill started",
            "put back the version the drill ran (its SHA-256 is in the journal's first entry)",
        )
    mode = Mode(start.mode)
    plan = loaded.scenario.modes.get(mode)
    steps_by_name = {
        step.name: step for group in (plan.steps if plan else []) for step in group.steps
    }
    done = {
        e.name
        for e in events
        if isinstance(e, StepEndEvent) and e.event == "rollback-end" and e.status == "succeeded"
    }
    started: list[Step] = [
        steps_by_name[e.name]
        for e in events
        if isinstance(e, StepStartEvent)
        and e.event == "step"
        and e.name in steps_by_name
        and e.name not in done
    ]
    journal = Journal.resume(holder.journal)
    _note_cut_line(journal)
    journal.append(
        "note",
        text=(
            f"egov drill recover: the runner (pid {holder.pid}) stopped after entry "
            f"{events[-1].seq}; running the rollbacks of {len(started)} started steps"
        ),
    )
    options = RunOptions(mode=mode, directory=directory, progress=progress)
    context = make_context(estate, journal, options, list(start.services), loaded, plan)
    mask = make_masker(estate)
    if run_rollbacks(context, started, mask):
        raise DrillError(
            "a rollback failed again (see the journal)",
            f"fix its cause and run `egov drill recover` again; journal {holder.journal}",
        )
    probe_all(context, loaded.scenario.get_readiness(mode), "after", mask)
    if alertmanager is not None:
        lift_drill_silences(alertmanager, journal, get_silence_ids(events), "recover", progress)
    journal.append("end", status=DrillStatus.RECOVERED.value)
    journal.close(key)
    lock.release(directory)
    return summarize(read_events(holder.journal), str(holder.journal))


def _note_cut_line(journal: Journal) -> None:
    """Journal the torn last line ``Journal.resume`` cut off, so nothing goes unsaid."""
    if journal.cut_text:
        shown = journal.cut_text[:CUT_TEXT_SHOWN_CHARS]
        journal.append(
            "note",
            text=(
                f"egov drill recover: line {journal.next_seq + 1} was cut short mid-write "
                f"(the runner was killed) and was removed; it began {shown!r}"
            ),
        )
