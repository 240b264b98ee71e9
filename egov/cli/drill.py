"""``egov drill``: list, validate, run, report, verify, history, recover.

The ``drill`` sub-app, its commands registered in the order its help lists them: here those
that load scenarios and run drills (and finish a killed one); the commands that read
journals are in ``drill_journal.py``, the options both take in ``drill_options.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict

import typer

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    app,
    load_inventory,
    print_json,
    stdout,
)
from egov.cli.drill_journal import drill_history, drill_report, drill_verify
from egov.cli.drill_options import DrillDirOption, get_drill_dir, print_progress
from egov.errors import DrillFailed, DrillInputError

if TYPE_CHECKING:
    from egov.drills.loader import LoadedScenario
    from egov.drills.summary import DrillSummary
    from egov.inventory.model import Estate
    from egov.monitoring.alertmanager_api import AlertmanagerClient

drill_app = typer.Typer(help="Failover drills: scenarios, runs, reports.", no_args_is_help=True)
app.add_typer(drill_app, name="drill")

SigningKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--signing-key",
        help="The estate's drill signing key (made on first use, mode 0600) "
        "[default: $EGOV_DRILL_KEY, else /etc/egov/secrets/drill-signing-<estate>.key].",
        show_default=False,
    ),
]
StateDirOption = Annotated[
    Path | None, typer.Option("--state-dir", help="Where the exporter's records go here.")
]


def _alertmanager(estate: Estate) -> AlertmanagerClient:
    """The monitoring hosts' Alertmanagers, where a drill silences the alerts it causes."""
    from egov.deploys.topology import ALERTMANAGER_PORT
    from egov.monitoring.alertmanager_api import AlertmanagerClient
    from egov.monitoring.endpoints import get_monitoring_urls

    return AlertmanagerClient(get_monitoring_urls(estate, ALERTMANAGER_PORT))


@drill_app.command("list")
def drill_list(
    catalog: Annotated[
        bool, typer.Option("--catalog", help="List the actions and probes scenarios may use.")
    ] = False,
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """The scenarios (shipped, and those in drills/ beside the inventory) and their modes."""
    from egov.drills.catalog import get_catalog
    from egov.drills.loader import find_scenarios, load_scenario
    from egov.inventory import resolve_inventory_path

    if catalog:
        entries = [
            {
                "name": entry.name,
                "kind": entry.kind,
                "lab_only": entry.lab_only,
                "arguments": list(entry.arguments.model_fields),
                "description": entry.description,
            }
            for entry in sorted(get_catalog().values(), key=lambda e: (e.kind, e.name))
        ]
        if output is OutputFormat.JSON:
            print_json(entries)
            return
        for item in entries:
            arguments = ", ".join(str(a) for a in item["arguments"]) or "-"  # type: ignore[attr-defined]
            lab = " (lab only)" if item["lab_only"] else ""
            stdout.print(f"{item['kind']:6} {item['name']:26} [{arguments}]{lab}", markup=False)
            stdout.print(f"       {item['description']}", markup=False, soft_wrap=True)
        return
    loaded_estate = load_inventory(inventory)
    found = find_scenarios(resolve_inventory_path(inventory)).items()
    rows = [
        _make_scenario_row(path, load_scenario(path, loaded_estate.estate, allow_unmet=True))
        for _, path in found
    ]
    if output is OutputFormat.JSON:
        print_json(rows)
        return
    for row in rows:
        stdout.print(f"{row['name']:28} {', '.join(row['modes'])}", markup=False)
        stdout.print(f"    {row['title']} ({row['source']})", markup=False)
        if row["unmet"]:
            stdout.print(f"   {_describe_unmet(row['unmet'])}", markup=False)


class ScenarioRow(TypedDict):
    """One scenario as ``drill list`` shows it, the JSON object and the text lines alike."""

    name: str
    title: str
    #: readiness first: every scenario has it, then the modes the file declares
    modes: list[str]
    #: "shipped", or the file's path for a scenario from drills/ beside the inventory
    source: str
    applies: bool
    unmet: dict[str, str]


def _make_scenario_row(path: Path, loaded: LoadedScenario) -> ScenarioRow:
    """The row of the scenario ``loaded`` from ``path``, for either output of ``drill list``."""
    from egov.drills.loader import SHIPPED_DIRECTORY

    return {
        "name": path.stem,
        "title": loaded.scenario.title,
        "modes": ["readiness", *(m.value for m in loaded.scenario.modes)],
        "source": "shipped" if path.parent == SHIPPED_DIRECTORY else str(path),
        "applies": loaded.applies,
        "unmet": loaded.unmet,
    }


@drill_app.command("validate")
def drill_validate(
    scenarios: Annotated[
        list[str] | None, typer.Argument(help="Scenario names or files [default: all].")
    ] = None,
    inventory: InventoryOption = None,
) -> None:
    """Check scenario files against the inventory and the catalog; exit 2 on any problem."""
    from egov.drills.loader import find_scenarios, load_scenario, resolve_scenario
    from egov.inventory import resolve_inventory_path

    inventory_path = resolve_inventory_path(inventory)
    estate = load_inventory(inventory).estate
    paths = (
        [resolve_scenario(name, inventory_path) for name in scenarios]
        if scenarios
        else list(find_scenarios(inventory_path).values())
    )
    problems: list[str] = []
    for path in paths:
        try:
            loaded = load_scenario(path, estate, allow_unmet=True)
        except DrillInputError as error:
            problems += error.problems
            continue
        stdout.print(f"{path}: ok{_describe_unmet(loaded.unmet)}", markup=False, soft_wrap=True)
    if problems:
        raise DrillInputError(problems, "fix the scenarios; nothing was touched")


def _describe_unmet(unmet: dict[str, str]) -> str:
    """`` — does not apply to this estate: …`` for a scenario with unmet references, else ''."""
    if not unmet:
        return ""
    return " — does not apply to this estate: " + "; ".join(
        f"${name}: {why}" for name, why in unmet.items()
    )


@drill_app.command("run")
def drill_run(
    scenario: Annotated[str, typer.Argument(help="A scenario name or file.")],
    mode: Annotated[
        str, typer.Option("--mode", help="readiness, test, switchover, failover or failback.")
    ],
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Needed by modes that change production.")
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (a ticket): in the report.")] = "",
    operator: Annotated[
        str | None, typer.Option("--operator", help="Who runs it [default: the login name].")
    ] = None,
    confirm_manual: Annotated[
        bool,
        typer.Option(
            "--confirm-manual-steps",
            help="Confirm every manual step in advance (the journal says so).",
        ),
    ] = False,
    note: Annotated[
        list[str] | None, typer.Option("--note", help="An operator's note for the report.")
    ] = None,
    inventory: InventoryOption = None,
    drill_dir: DrillDirOption = None,
    signing_key: SigningKeyOption = None,
    state_dir: StateDirOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Run a scenario in a mode, live, and write its journal and reports (vi and en)."""
    import getpass

    from egov.drills.conduct import RunOptions, run_drill
    from egov.drills.loader import get_mode, load_scenario, resolve_scenario
    from egov.inventory import resolve_inventory_path

    loaded_estate = load_inventory(inventory)
    estate = loaded_estate.estate
    path = resolve_scenario(scenario, resolve_inventory_path(inventory))
    loaded = load_scenario(path, estate)
    chosen = get_mode(loaded.scenario, mode)
    who = operator or getpass.getuser()

    def ask(instruction: str) -> bool:
        if confirm_manual:
            print_progress(f"manual step (confirmed in advance by {who}): {instruction}")
            return True
        if not sys.stdin.isatty():
            print_progress(f"manual step needs an operator, none at a terminal: {instruction}")
            return False
        return typer.confirm(f"{instruction}\nDone?", default=False)

    options = RunOptions(
        mode=chosen,
        directory=get_drill_dir(drill_dir, estate),
        operator=who,
        reason=reason,
        confirmed=confirm,
        confirm_manual=ask,
        progress=print_progress,
        signing_key=signing_key,
        alertmanager=_alertmanager(estate),
    )
    summary = run_drill(loaded, estate, options, notes=note or [])
    report_paths = _write_reports(summary)
    _publish(summary, estate, state_dir)
    if output is OutputFormat.JSON:
        print_json(
            {
                **summary.model_dump(mode="json"),
                "succeeded": summary.succeeded,
                "reports": [str(p) for p in report_paths],
            }
        )
    else:
        _render_summary(summary, report_paths)
    if not summary.succeeded:
        raise DrillFailed(
            f"drill {summary.scenario} ({summary.mode}) {summary.status.value}"
            + (": " + "; ".join(summary.failures[:3]) if summary.failures else ""),
            f"the report: {report_paths[0] if report_paths else summary.journal_path}",
        )


def _publish(summary: DrillSummary, estate: Estate, state_dir: Path | None) -> None:
    """Give the exporter the result here and on the monitoring hosts (not a readiness run's)."""
    if summary.mode == "readiness":
        return
    from egov.drills.remote import Remote
    from egov.drills.results import publish

    missed = publish(summary, estate, Remote(estate), state_dir)
    if missed:
        print_progress(f"the result did not reach {', '.join(missed)} (down?)")


def _write_reports(summary: DrillSummary) -> list[Path]:
    from egov.drills.i18n import LANGUAGES
    from egov.drills.report import render_html, render_markdown

    directory = Path(summary.journal_path).parent
    paths = []
    for lang in LANGUAGES:
        for suffix, render in (("html", render_html), ("md", render_markdown)):
            path = directory / f"report.{lang}.{suffix}"
            path.write_text(render(summary, lang), encoding="utf-8")
            path.chmod(0o640)
            paths.append(path)
    return paths


def _render_summary(summary: DrillSummary, reports: list[Path]) -> None:
    colour = "green" if summary.succeeded else "red"
    stdout.print(
        f"[{colour}]{summary.scenario} ({summary.mode}): {summary.status.value}"
        f"{'' if summary.succeeded or summary.status.value != 'succeeded' else ', targets missed'}"
        f"[/{colour}]"
    )
    for service in summary.services:
        rto = "-" if service.rto_seconds is None else f"{service.rto_seconds:.1f}s"
        rpo = "-" if service.rpo_seconds is None else f"{service.rpo_seconds:.1f}s"
        files = "-" if service.files_rpo_seconds is None else f"{service.files_rpo_seconds:.0f}s"
        stdout.print(
            f"  {service.service:12} RTO {rto:>8} (target {service.rto_target_seconds:.0f}s)  "
            f"RPO {rpo:>7} (target {service.rpo_target_seconds:.0f}s)  files RPO {files}"
            f"  {'ok' if service.ok else 'MISSED'}",
            markup=False,
            soft_wrap=True,
        )
    for failure in summary.failures:
        stdout.print(f"  failure: {failure}", markup=False, soft_wrap=True)
    for warning in summary.warnings:
        stdout.print(f"  warning: {warning}", markup=False, soft_wrap=True)
    for silence in summary.silences:
        if silence.lifted_at is None:
            state = "still set"
        elif silence.lifted_by == "runner":  # a finished drill's: it runs a settle time on
            state = f"lifted by the runner: ends {silence.ends_at}, once the alerts have cleared"
        else:
            state = f"expired by {silence.lifted_by}"
        stdout.print(
            f"  silence: {', '.join(silence.matchers) or silence.id} ({state})",
            markup=False,
            soft_wrap=True,
        )
    stdout.print(f"journal: {summary.journal_path}", markup=False, soft_wrap=True)
    if summary.journal_key:
        stdout.print(
            f"closed:  {summary.journal_last_hash} (signed {summary.journal_key})",
            markup=False,
            soft_wrap=True,
        )
    for path in reports:
        stdout.print(f"report:  {path}", markup=False, soft_wrap=True)


drill_app.command("report")(drill_report)
drill_app.command("verify")(drill_verify)
drill_app.command("history")(drill_history)


@drill_app.command("recover")
def drill_recover(
    inventory: InventoryOption = None,
    drill_dir: DrillDirOption = None,
    signing_key: SigningKeyOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Finish the rollbacks of a drill whose runner was killed and close its journal, signed,
    and publish its result as `drill run` does; then new drills may start."""
    from egov.drills.recover import recover_drill

    estate = load_inventory(inventory).estate
    summary = recover_drill(
        get_drill_dir(drill_dir, estate), estate, print_progress, signing_key, _alertmanager(estate)
    )
    if summary is None:
        stdout.print("no unfinished drill: nothing to recover", markup=False)
        return
    _write_reports(summary)
    _publish(summary, estate, state_dir)
    stdout.print(
        f"{summary.scenario} ({summary.mode}): {summary.status.value}; journal "
        f"{summary.journal_path}",
        markup=False,
        soft_wrap=True,
    )
