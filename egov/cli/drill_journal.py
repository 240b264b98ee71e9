"""``egov drill report``, ``verify`` and ``history``: the commands that read drill journals.

They only read, and trust a journal only once its chain, closing entry and signature hold
against the estate's public key (``drills/verification.py``). ``drill.py`` registers them on
the ``drill`` sub-app, in the order its help lists them.
"""

from __future__ import annotations

import os
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    load_inventory,
    print_json,
    stdout,
)
from egov.cli.drill_options import DrillDirOption, get_drill_dir, print_progress
from egov.errors import InputError, JournalError, JournalUnreadable
from egov.hostlayout import SECRET_DIRECTORY
from egov.outputfile import write_output_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from egov.drills.verification import Closure


class ReportFormat(StrEnum):
    """The report's format."""

    MARKDOWN = "md"
    HTML = "html"


PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="The estate's drill public key (ssh-ed25519 …) "
        "[default: the .pub beside $EGOV_DRILL_KEY, else "
        f"{SECRET_DIRECTORY}/drill-signing-<estate>.pub].",
        show_default=False,
    ),
]


def _public_key(option: Path | None, inventory: Path | None) -> Ed25519PublicKey:
    """The key journals must be signed with: ``--public-key``, else the estate's."""
    from egov.drills.signing import (
        SIGNING_KEY_ENVIRONMENT_VARIABLE,
        get_public_key_path,
        get_signing_key_path,
        load_public_key,
    )

    if option is not None:
        return load_public_key(option)
    from_environment = os.environ.get(SIGNING_KEY_ENVIRONMENT_VARIABLE)
    private = (
        Path(from_environment)
        if from_environment
        else get_signing_key_path(load_inventory(inventory).estate.name)
    )
    public = get_public_key_path(private)
    # the .pub is what an auditor has; the private key serves when only it is there
    return load_public_key(private if private.exists() and not public.exists() else public)


def _verified(
    journal: Path, public_key: Path | None, inventory: Path | None
) -> tuple[list[dict[str, Any]], Closure]:
    """The journal's entries and closure once they hold (``verification.py``); the journal is
    read before the key, so a wrong file is named as such, not as a missing key."""
    from egov.drills.journal import read_journal
    from egov.drills.verification import check_closure

    entries = read_journal(journal)
    if not entries:  # nothing to verify, and nothing a key could change: the wrong file
        raise JournalUnreadable(f"{journal}: empty, not a drill journal", "give a journal.jsonl")
    return entries, check_closure(entries, _public_key(public_key, inventory), str(journal))


def drill_report(
    journal: Annotated[Path, typer.Argument(help="A drill's journal.jsonl.")],
    lang: Annotated[str, typer.Option("--lang", help="vi or en.")] = "vi",
    report_format: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.HTML,
    output_file: Annotated[
        Path | None, typer.Option("--output-file", help="Write here [default: stdout].")
    ] = None,
    public_key: PublicKeyOption = None,
    inventory: InventoryOption = None,
) -> None:
    """Render a journal's report, only once it verifies (as `egov drill verify`)."""
    from egov.drills.events import parse_events
    from egov.drills.i18n import LANGUAGES
    from egov.drills.report import render_html, render_markdown
    from egov.drills.summary import summarize

    if lang not in LANGUAGES:
        raise InputError(f"--lang {lang}: not a report language", "use vi or en")
    try:
        entries, _closure = _verified(journal, public_key, inventory)
    except JournalError as error:
        # a report is rendered only from evidence that holds: to `report`, a journal that
        # fails its check is bad input (exit 2), named at its line; `verify` judges it (exit 1)
        raise InputError(error.message, error.hint) from None
    try:
        summary = summarize(parse_events(entries), str(journal))
    except (ValueError, KeyError, TypeError):  # chained, yet not the entries a drill writes
        raise InputError(f"{journal}: not a drill journal", "give a journal.jsonl") from None
    render = render_html if report_format is ReportFormat.HTML else render_markdown
    text = render(summary, lang)
    if output_file is None:
        sys.stdout.write(text)
    else:
        write_output_text(output_file, text)
        stdout.print(f"wrote {output_file}", markup=False)


def drill_verify(
    journal: Annotated[Path, typer.Argument(help="A drill's journal.jsonl.")],
    public_key: PublicKeyOption = None,
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Check a journal's chain, closing entry and signature against the estate's key.

    Exit 0 when it holds; 1 when it does not (changed, re-hashed, cut, unclosed, signed by
    another key), naming the line at fault as file:line; 2 when the file is no drill journal
    or the key cannot be read.
    """
    _entries, closure = _verified(journal, public_key, inventory)
    if output is OutputFormat.JSON:
        print_json(
            {
                "journal": str(journal),
                "entries": closure.entries,
                "status": closure.status,
                "closing_hash": closure.closing_hash,
                "key": closure.key,
            }
        )
        return
    stdout.print(
        f"{journal}: ok: {closure.entries} entries, chained, closed and signed by {closure.key};"
        f" run {closure.status or 'without end'}; closing hash {closure.closing_hash}",
        markup=False,
        soft_wrap=True,
    )


def drill_history(
    inventory: InventoryOption = None,
    drill_dir: DrillDirOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Every drill of the estate, newest first; journals that fail verification say where."""
    from egov.drills.history import list_history
    from egov.drills.signing import SigningKeyError

    directory = get_drill_dir(drill_dir, load_inventory(inventory).estate)
    try:
        public_key = _public_key(None, inventory)
    except SigningKeyError as error:  # no key yet: no run closed a journal here
        public_key = None
        print_progress(f"signatures not checked: {error.message}")
    rows = list_history(directory, public_key)
    if output is OutputFormat.JSON:
        print_json(
            [
                {
                    "journal": str(row.journal),
                    "problem": row.problem,
                    **(
                        {
                            "scenario": row.summary.scenario,
                            "mode": row.summary.mode,
                            "status": row.summary.status.value,
                            "succeeded": row.summary.succeeded,
                            "operator": row.summary.operator,
                            "started_at": row.summary.started_at,
                            "finished_at": row.summary.finished_at,
                        }
                        if row.summary
                        else {}
                    ),
                }
                for row in rows
            ]
        )
        return
    if not rows:
        stdout.print(f"no drill yet under {directory}", markup=False)
    for row in rows:
        if row.summary is None:
            stdout.print(f"{row.journal}: {row.problem}", markup=False, soft_wrap=True)
            continue
        s = row.summary
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(s.started_at))
        duration = f"{(s.finished_at or s.started_at) - s.started_at:.0f}s"
        verdict = "passed" if s.succeeded else s.status.value
        stdout.print(
            f"{when}Z  {s.scenario:26} {s.mode:10} {verdict:12} {duration:>6}  {s.operator}",
            markup=False,
        )
