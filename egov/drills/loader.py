"""Finding and loading drill scenarios: YAML → validated Scenario, problems as ``file:line``.

The shape is checked by the models (``scenario.py``); here come the checks that need the
inventory and the catalog: every action, probe, site, service, dataset and repository a
scenario names must exist, and its arguments must fit. A scenario that loads runs without
a typo surfacing halfway through a drill.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from egov.drills.activity import Entry
from egov.drills.bindings import bind, explain_unknown, find_references, get_unmet, make_bindings
from egov.drills.catalog import get_catalog
from egov.drills.scenario import Group, Mode, Probe, Rollback, Scenario, Step
from egov.errors import DrillInputError
from egov.inventory.loader import format_problem, format_validation_error
from egov.inventory.model import Environment, Estate
from egov.inventory.yamlsource import PathKey, SourceError, SourceMap, read_yaml

SHIPPED_DIRECTORY = Path(__file__).parent / "scenarios"
LOCAL_DIRECTORY_NAME = "drills"
HINT = "fix the scenario and run `egov drill validate` again; nothing was touched"
SITE_KEYS = ("site", "source", "target")


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario, where it came from and the hash of the file as read."""

    scenario: Scenario
    path: Path
    sha256: str
    source_map: SourceMap
    #: The ``$references`` this estate cannot give, and why: the scenario does not apply to
    #: it (only ``load_scenario(..., allow_unmet=True)`` returns such a scenario, unbound).
    unmet: dict[str, str]

    @property
    def applies(self) -> bool:
        """Whether the scenario can run on the estate it was loaded against."""
        return not self.unmet


class ScenarioNotApplicable(DrillInputError):
    """A valid scenario that needs what this estate does not have (an offsite site, say)."""

    def __init__(self, name: str, estate: str, unmet: dict[str, str]) -> None:
        needs = "; ".join(f"${ref}: {why}" for ref, why in unmet.items())
        super().__init__(
            [f"scenario {name} does not apply to estate {estate}: {needs}"],
            "`egov drill list` shows which scenarios apply; write this estate's own in drills/ "
            "beside the inventory",
        )
        self.unmet = unmet


def find_scenarios(inventory_path: Path) -> dict[str, Path]:
    """Scenario name → file: the shipped ones, then ``drills/`` beside the inventory (which
    may replace a shipped one by using its name)."""
    found: dict[str, Path] = {}
    for directory in (SHIPPED_DIRECTORY, inventory_path.parent / LOCAL_DIRECTORY_NAME):
        if directory.is_dir():
            for path in sorted(directory.glob("*.yaml")):
                found[path.stem] = path
    return found


def resolve_scenario(name_or_path: str, inventory_path: Path) -> Path:
    """A scenario named ``name_or_path`` (see ``find_scenarios``), or a file by its path."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or "/" in name_or_path:
        if not candidate.exists():  # not a regular file: load_scenario says what it is
            raise DrillInputError([f"{name_or_path}: no such scenario file"], HINT)
        return candidate
    known = find_scenarios(inventory_path)
    if name_or_path in known:
        return known[name_or_path]
    close = difflib.get_close_matches(name_or_path, list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known) or 'none'}"
    raise DrillInputError([f"{name_or_path}: no such scenario"], f"{hint} (`egov drill list`)")


def load_scenario(path: Path, estate: Estate, *, allow_unmet: bool = False) -> LoadedScenario:
    """Read, validate and cross-check the scenario at ``path`` against ``estate``.

    Its ``$references`` are replaced by the estate's names first (``bindings.py``). When the
    estate cannot give one, raise ``ScenarioNotApplicable``; with ``allow_unmet`` (listing,
    validating) return the scenario unbound, its shape checked, with ``unmet`` set instead.
    """
    try:
        data, source_map = read_yaml(path)
    except SourceError as error:
        problem = error.problem
        line, column = problem.position.line, problem.position.column
        raise DrillInputError(
            [format_problem(str(path), line, column, (), problem.message, hint=problem.hint)],
            HINT,
        ) from None
    if not isinstance(data, dict):
        shown = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise DrillInputError(
            [f"{path}:1:1: the scenario is {shown} — start from a shipped one (`egov drill list`)"],
            HINT,
        )
    bindings = make_bindings(estate)
    unknown = [
        format_problem(
            source_map.file,
            *_locate(source_map, ref.path),
            ref.path,
            f"${ref.name} is no name egov derives from the inventory",
            hint=explain_unknown(ref.name, bindings),
        )
        for ref in find_references(data)
        if ref.name not in bindings.names
    ]
    if unknown:
        raise DrillInputError(unknown, HINT)
    unmet = get_unmet(data, bindings)
    if unmet and not allow_unmet:
        raise ScenarioNotApplicable(str(data.get("name", path.stem)), estate.name, unmet)
    # an unmet reference stands in as its own name (``$offsite_site`` → ``offsite-site``) so
    # the scenario's shape is still checked; its names are not (they do not exist here)
    bound = bind(data, bindings.with_stand_ins())
    try:
        scenario = Scenario.model_validate(bound)
    except ValidationError as error:
        problems = [format_validation_error(d, bound, source_map, Scenario) for d in error.errors()]
        raise DrillInputError(list(dict.fromkeys(problems)), HINT) from None
    checked = [] if unmet else check_scenario(scenario, estate, path.stem)
    problems = [
        format_problem(source_map.file, *_locate(source_map, where), where, message, hint=hint)
        for where, message, hint in checked
    ]
    if problems:
        raise DrillInputError(problems, HINT)
    # the hash of the bytes validated, not of a second read the file may have changed before
    return LoadedScenario(
        scenario=scenario,
        path=path,
        sha256=source_map.sha256,
        source_map=source_map,
        unmet=unmet,
    )


Problem = tuple[PathKey, str, str]


def check_scenario(scenario: Scenario, estate: Estate, file_stem: str) -> list[Problem]:
    """Cross-checks of ``scenario`` against ``estate`` and the catalog (pure)."""
    problems: list[Problem] = []
    if scenario.name != file_stem:
        problems.append(
            (
                ("name",),
                f"the name {scenario.name!r} differs from the file's",
                f"rename one to {file_stem!r}",
            )
        )
    for index, service in enumerate(scenario.services):
        if service not in estate.services:
            problems.append(
                (
                    ("services", index),
                    f"unknown service {service!r}",
                    _suggest(service, estate.services),
                )
            )
    for index, probe in enumerate(scenario.readiness):
        problems += _check_probe(probe, ("readiness", index), estate)
    for mode, plan in scenario.modes.items():
        base: PathKey = ("modes", mode.value)
        for key in ("active_site", "recovery_site"):
            site = getattr(plan, key)
            if site is not None and site not in estate.sites:
                problems.append(
                    ((*base, key), f"unknown site {site!r}", _suggest(site, estate.sites))
                )
        for index, probe in enumerate(plan.readiness or []):
            problems += _check_probe(probe, (*base, "readiness", index), estate)
        names: set[str] = set()
        faults = 0
        for path, step in _iter_steps(plan.steps, base):
            if step.name in names:
                problems.append(
                    (
                        (*path, "name"),
                        f"step {step.name!r} appears twice in {mode.value}",
                        "give each step its own name",
                    )
                )
            names.add(step.name)
            faults += step.fault
            problems += _check_step(step, path, estate)
        if plan.measure and faults == 0:
            problems.append(
                (
                    (*base, "measure"),
                    "RTO is measured from a fault, and no step has `fault: true`",
                    "mark the step that causes the outage with `fault: true`",
                )
            )
        if faults > 1:
            problems.append(
                ((*base, "steps"), f"{faults} steps have `fault: true`", "mark exactly one")
            )
        if plan.measure and plan.recovery_site is None:
            problems.append(
                (
                    (*base, "recovery_site"),
                    "a measured mode needs the site the services recover at",
                    "add `recovery_site:`",
                )
            )
    return problems


def _iter_steps(groups: list[Group], base: PathKey) -> Iterator[tuple[PathKey, Step]]:
    for group_index, group in enumerate(groups):
        for step_index, step in enumerate(group.steps):
            yield (*base, "steps", group_index, "steps", step_index), step


def _check_step(step: Step, path: PathKey, estate: Estate) -> list[Problem]:
    if step.manual is not None:
        return (
            []
            if not step.with_
            else [((*path, "with"), "a manual step takes no `with:`", "remove it")]
        )
    kind = step.kind
    name = step.action or step.probe or ""
    problems = _check_entry(kind, name, step.with_, path, estate, manual=step.outside_lab)
    if step.rollback is not None:
        problems += _check_rollback(step.rollback, (*path, "rollback"), estate)
    return problems


def _check_probe(probe: Probe, path: PathKey, estate: Estate) -> list[Problem]:
    return _check_entry("probe", probe.probe, probe.with_, path, estate, key="probe")


def _check_rollback(rollback: Rollback, path: PathKey, estate: Estate) -> list[Problem]:
    return _check_entry(
        "action", rollback.action, rollback.with_, path, estate, manual=rollback.outside_lab
    )


def _check_entry(
    kind: str,
    name: str,
    arguments: dict[str, Any],
    path: PathKey,
    estate: Estate,
    key: str = "",
    manual: str | None = None,
) -> list[Problem]:
    catalog = get_catalog()
    key = key or kind
    entry = catalog.get(name)
    if entry is None:
        same_kind = [n for n, e in catalog.items() if e.kind == kind]
        return [((*path, key), f"unknown {kind} {name!r}", _suggest(name, same_kind))]
    if entry.kind != kind:
        return [
            (
                (*path, key),
                f"{name!r} is {_article(entry.kind)} {entry.kind}, not {_article(kind)} {kind}",
                f"write `{entry.kind}: {name}`",
            )
        ]
    if entry.lab_only and estate.environment is not Environment.LAB and manual is None:
        return [
            (
                (*path, key),
                f"{name!r} exists only in the lab",
                "add `outside_lab:`, the instruction an operator follows and confirms instead",
            )
        ]
    return _check_arguments(entry, arguments, path, estate)


def _check_arguments(
    entry: Entry, arguments: dict[str, Any], path: PathKey, estate: Estate
) -> list[Problem]:
    problems: list[Problem] = []
    try:
        parsed = entry.arguments.model_validate(arguments)
    except ValidationError as error:
        for detail in error.errors():
            where = (*path, "with", *detail["loc"])
            message = detail["msg"].removeprefix("Value error, ")
            if detail["type"] == "extra_forbidden":
                allowed = list(entry.arguments.model_fields)
                message = f"{entry.name} takes no argument {detail['loc'][-1]!r}"
                hint = f"it takes: {', '.join(allowed) or 'nothing'}"
            elif detail["type"] == "missing":
                message = f"{entry.name} needs the argument {detail['loc'][-1]!r}"
                hint = "add it under `with:`"
            else:
                hint = ""
            problems.append((where, message[0].lower() + message[1:], hint))
        return problems
    for key in SITE_KEYS:
        site = getattr(parsed, key, None)
        if isinstance(site, str) and site not in estate.sites:
            problems.append(
                ((*path, "with", key), f"unknown site {site!r}", _suggest(site, estate.sites))
            )
    for key, site_key in (("host", "site"), ("source_host", "source"), ("target_host", "target")):
        host = getattr(parsed, key, None)
        if not isinstance(host, str):
            continue
        site = getattr(parsed, site_key, None)
        if isinstance(site, str):
            known = list(estate.sites[site].hosts) if site in estate.sites else []
        else:  # a lab machine name such as primary-db-01
            known = [ref.qualified_name for ref in estate.iter_hosts()]
        if known and host not in known:
            problems.append(((*path, "with", key), f"unknown host {host!r}", _suggest(host, known)))
    dataset = getattr(parsed, "dataset", None)
    if isinstance(dataset, str) and dataset not in estate.backup.datasets:
        problems.append(
            (
                (*path, "with", "dataset"),
                f"unknown dataset {dataset!r}",
                _suggest(dataset, estate.backup.datasets),
            )
        )
    repository = getattr(parsed, "repository", None)
    if isinstance(repository, str) and repository not in estate.backup.repositories:
        problems.append(
            (
                (*path, "with", "repository"),
                f"unknown repository {repository!r}",
                _suggest(repository, estate.backup.repositories),
            )
        )
    return problems


def _article(kind: str) -> str:
    return "an" if kind == "action" else "a"


def _suggest(name: str, known: Any) -> str:
    names = [str(item) for item in known]
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(names) or 'none'}"


def _locate(source_map: SourceMap, where: PathKey) -> tuple[int, int]:
    position = source_map.locate(where)
    return position.line, position.column


def get_mode(scenario: Scenario, mode: str) -> Mode:
    """``mode`` as a Mode the scenario supports (readiness always is)."""
    try:
        chosen = Mode(mode)
    except ValueError:
        raise DrillInputError(
            [f"--mode {mode}: no such mode"], f"use one of {', '.join(m.value for m in Mode)}"
        ) from None
    if chosen is not Mode.READINESS and chosen not in scenario.modes:
        supported = ["readiness", *(m.value for m in scenario.modes)]
        raise DrillInputError(
            [f"scenario {scenario.name} has no {chosen.value} mode"],
            f"it supports: {', '.join(supported)}",
        )
    return chosen
