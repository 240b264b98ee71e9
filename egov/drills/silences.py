"""The silences a drill sets for the alerts it is expected to cause, and lifts when it ends.

A drill powers hosts off, cuts links, promotes databases: the alerts that follow are the
drill working, not an incident, and must not page anyone. So ``egov drill run`` sets, before
its first step, one silence per site the drill acts on, and, in a mode that changes what
users are served by, one per drilled service (the error-budget alerts name a service, not a
site). Each matches ``severity=~"warning|critical"``, so it stays visible (``egov monitor
alerts`` names the drill) without paging.

What a drill acts on is read from its mode's steps and rollbacks, pure: every action's
``site``, ``source`` and ``target`` arguments, the site of a machine named by ``host`` (the
lab faults' ``primary-db-01``), and for an action that changes a replication chain
(promote, fence, re-seed, switch over) every site holding a member of the drilled services'
chains, whose replicas lose or change their upstream. Probes and manual steps act on
nothing. A finer derivation (per host, per alert) would miss what a fault causes elsewhere:
a host powered off also fails its site's probes and its replicas' lag.

A silence lasts the drill's bound (``get_drill_bound``: the steps' timeouts and retries and
the rollbacks' timeouts, plus a margin), so the silences of a drill that was killed expire
by themselves even if nobody runs ``egov drill recover``. Each names the drill: ``createdBy``
``egov drill <scenario>``, comment ``drill <scenario> (<mode>), journal <id>: <reason>``,
where the journal id is the run directory's name; ``recover`` finds them by that.

No Alertmanager answering never fails a drill: a ``warning`` entry says the alerts may page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from egov.drills.context import get_database_roots
from egov.drills.events import JournalEvent, SilenceEvent
from egov.drills.journal import Journal, format_time
from egov.drills.scenario import Mode, ModePlan, Step
from egov.errors import MonitoringError
from egov.inventory.derive import get_chain_replicas
from egov.inventory.model import Environment, Estate
from egov.monitoring.alert import make_window
from egov.monitoring.alertmanager_api import Answer, Matcher, Silence, SilenceRequest
from egov.monitoring.alerts import DRILL_CREATOR_PREFIX
from egov.monitoring.prometheus_config import SCRAPE_INTERVAL
from egov.monitoring.rules import HOST_DOWN_WINDOW

#: Added to the steps' and rollbacks' time bounds: readiness probes, the canary's warm-up,
#: an operator's pause at a manual step.
SILENCE_MARGIN = timedelta(minutes=30)
SILENCED_SEVERITIES = "warning|critical"
SITE_ARGUMENTS = ("site", "source", "target")
HOST_ARGUMENTS = ("host", "source_host", "target_host")
#: Actions that change a replication chain: every site of the drilled chains is affected.
CHAIN_ACTIONS = frozenset(
    {"promote-database", "fence-database", "reseed-database", "switchover-database"}
)
SILENCE_EVENT = "silence"
SILENCE_END_EVENT = "silence-end"
WARNING_EVENT = "warning"


class SilenceService(Protocol):
    """What a drill needs of the Alertmanagers (``AlertmanagerClient`` is one)."""

    def list_silences(self) -> Answer[list[Silence]]: ...

    def create_silence(self, request: SilenceRequest) -> Answer[str]: ...

    def expire_silence(self, silence_id: str) -> Answer[bool]: ...

    def end_silence_at(self, silence: Silence, ends_at: datetime) -> Answer[str]: ...


def _acting(plan: ModePlan) -> list[tuple[str, dict[str, object]]]:
    """Every action of ``plan`` and its arguments: the steps' and their rollbacks'."""
    found: list[tuple[str, dict[str, object]]] = []
    for group in plan.steps:
        for step in group.steps:
            if step.action is not None:
                found.append((step.action, dict(step.with_)))
            if step.rollback is not None:
                found.append((step.rollback.action, dict(step.rollback.with_)))
    return found


def get_affected_sites(plan: ModePlan, estate: Estate, services: list[str]) -> list[str]:
    """The sites ``plan``'s actions act on (see the module's docstring), in inventory order."""
    machines = {ref.qualified_name: ref.site for ref in estate.iter_hosts()}
    named: set[str] = set()
    for action, arguments in _acting(plan):
        named.update(str(arguments[key]) for key in SITE_ARGUMENTS if arguments.get(key))
        named.update(
            machines[str(arguments[key])]
            for key in HOST_ARGUMENTS
            if str(arguments.get(key)) in machines
        )
        if action in CHAIN_ACTIONS:
            for root_name in get_database_roots(estate, services):
                root = estate.find_host(estate.primary_site, root_name)
                if root is not None:
                    named.update(ref.site for ref in [root, *get_chain_replicas(estate, root)])
    return [site for site in estate.sites if site in named]


def _step_bound(step: Step) -> timedelta:
    return step.timeout * (step.retries + 1) + step.retry_delay * step.retries


def get_drill_bound(plan: ModePlan) -> timedelta:
    """How long a run of ``plan`` may take: each group's steps (a parallel group's longest),
    with their retries, every rollback, and ``SILENCE_MARGIN``."""
    total = SILENCE_MARGIN
    for group in plan.steps:
        bounds = [_step_bound(step) for step in group.steps]
        total += max(bounds) if group.parallel else sum(bounds, timedelta())
        total += sum(
            (step.rollback.timeout for step in group.steps if step.rollback is not None),
            timedelta(),
        )
    return total


def make_comment(scenario: str, mode: Mode, journal_id: str, reason: str) -> str:
    """``drill <scenario> (<mode>), journal <id>: <reason>``."""
    why = reason.strip() or "no reason given"
    return f"drill {scenario} ({mode.value}), journal {journal_id}: {why}"


def make_drill_silences(
    scenario: str,
    mode: Mode,
    plan: ModePlan,
    estate: Estate,
    services: list[str],
    journal_id: str,
    reason: str,
    now: datetime,
) -> list[SilenceRequest]:
    """The silences a run of ``plan`` sets at ``now``: one per affected site, and one per
    drilled service when ``mode`` changes production, each until ``now`` + the drill's bound."""
    severity = Matcher("severity", SILENCED_SEVERITIES, is_regex=True)
    scopes = [Matcher("site", site) for site in get_affected_sites(plan, estate, services)]
    if mode.touches_production:
        scopes += [Matcher("service", name) for name in services]
    ends_at = now + get_drill_bound(plan)
    comment = make_comment(scenario, mode, journal_id, reason)
    return [
        SilenceRequest(
            (scope, severity), now, ends_at, f"{DRILL_CREATOR_PREFIX} {scenario}", comment
        )
        for scope in scopes
    ]


def is_drill_silence(silence: Silence, journal_id: str) -> bool:
    """Whether a drill set ``silence`` for the run whose journal id is ``journal_id``."""
    return silence.created_by.startswith(f"{DRILL_CREATOR_PREFIX} ") and (
        f", journal {journal_id}: " in silence.comment
    )


def get_journal_id(journal: Journal) -> str:
    """The id silences name a run by: its run directory's name (unique per estate)."""
    return journal.path.parent.name


def set_drill_silences(
    service: SilenceService,
    journal: Journal,
    requests: list[SilenceRequest],
    progress: Callable[[str], None],
) -> list[str]:
    """Create ``requests``, journalling each silence; return their ids. When no Alertmanager
    answers, journal a warning and stop trying: the drill goes on."""
    ids: list[str] = []
    for request in requests:
        try:
            answer = service.create_silence(request)
        except MonitoringError as error:
            text = f"the drill's alerts are not silenced and may page: {error.message}" + (
                f" ({len(ids)} of {len(requests)} silences were set)" if ids else ""
            )
            journal.append(WARNING_EVENT, text=text)
            progress(f"warning: {text}")
            break
        ids.append(answer.value)
        matchers = [str(matcher) for matcher in request.matchers]
        journal.append(
            SILENCE_EVENT,
            id=answer.value,
            alertmanager=answer.url,
            matchers=matchers,
            starts_at=format_time(request.starts_at.timestamp()),
            ends_at=format_time(request.ends_at.timestamp()),
            created_by=request.created_by,
            comment=request.comment,
        )
        progress(f"silenced {', '.join(matchers)} until {format_time(request.ends_at.timestamp())}")
    return ids


def make_settle_time(estate: Estate) -> timedelta:
    """How long a finished drill's silences outlast it: the alerts its last steps caused
    must clear before they can page.

    A host the drill brought back is seen up at the next scrape, but ``SiteDown`` keeps firing
    for ``HostDown``'s window after its hosts answer (so hosts still booting do not page one
    by one), and a resolution takes a rule evaluation to reach the Alertmanager: the window
    plus two scrape intervals. An alert still firing after that is the estate's, not the
    drill's, and pages.
    """
    lab = estate.environment is Environment.LAB
    return make_window(HOST_DOWN_WINDOW, lab) + 2 * SCRAPE_INTERVAL


def lift_drill_silences(
    service: SilenceService,
    journal: Journal,
    known_ids: list[str],
    by: str,
    progress: Callable[[str], None],
    settle: tuple[datetime, timedelta] | None = None,
) -> None:
    """End the live silences of this run: those in ``known_ids`` and any other the
    Alertmanagers hold with this run's journal id (set just before the runner was killed).

    With ``settle`` (now, the settle time: a drill that ended) each silence is made to end
    the settle time from now, so what the drill's last steps caused clears without paging;
    without it (``egov drill recover``: the drill's end is long past) each expires at once.
    Each is journalled with ``by`` (``runner`` or ``recover``); when no Alertmanager answers,
    a warning says when the silences expire by themselves."""
    journal_id = get_journal_id(journal)
    try:
        listed = service.list_silences().value
    except MonitoringError as error:
        text = (
            f"the drill's silences could not be removed ({error.message}); "
            "they expire by themselves at the end of the drill's time bound"
        )
        journal.append(WARNING_EVENT, text=text)
        progress(f"warning: {text}")
        return
    for silence in listed:
        if not silence.live or not (
            silence.id in known_ids or is_drill_silence(silence, journal_id)
        ):
            continue
        try:
            if settle is None:
                expired = service.expire_silence(silence.id)
            else:
                ends_at = settle[0] + settle[1]
                ending = service.end_silence_at(silence, ends_at)
        except MonitoringError as error:
            text = f"silence {silence.id} could not be removed ({error.message})"
            journal.append(WARNING_EVENT, text=text)
            progress(f"warning: {text}")
            continue
        if settle is None:
            journal.append(
                SILENCE_END_EVENT,
                id=silence.id,
                alertmanager=expired.url,
                status="expired" if expired.value else "gone",
                by=by,
            )
            progress(f"removed silence {silence.id}")
            continue
        stamp = format_time(ends_at.timestamp())
        journal.append(
            SILENCE_END_EVENT,
            id=silence.id,
            alertmanager=ending.url,
            status="ending",
            ends_at=stamp,
            new_id=ending.value,
            by=by,
        )
        progress(f"silence {silence.id} ends at {stamp}, once the drill's alerts have cleared")


def get_silence_ids(events: Sequence[JournalEvent]) -> list[str]:
    """The ids of the silences a journal says were set (for ``egov drill recover``)."""
    return [event.id for event in events if isinstance(event, SilenceEvent)]
