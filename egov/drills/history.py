"""``egov drill history``: every drill of the estate, newest first, from the journals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from egov.drills.events import parse_events
from egov.drills.journal import JOURNAL_NAME, JournalError, is_closed, read_journal
from egov.drills.summary import DrillSummary, summarize
from egov.drills.verification import check_closure


@dataclass(frozen=True)
class HistoryRow:
    """One drill, or a journal that could not be read (``problem``)."""

    journal: Path
    summary: DrillSummary | None
    problem: str = ""


def list_history(directory: Path, public_key: Ed25519PublicKey | None = None) -> list[HistoryRow]:
    """The drills under ``directory`` (one subdirectory each), newest first.

    With ``public_key``, a closed journal that fails verification is a problem row, as one
    that fails its chain is; an open one is listed as unfinished (a run going, or killed).
    """
    rows = []
    for path in sorted(directory.glob(f"*/{JOURNAL_NAME}"), reverse=True):
        try:
            entries = read_journal(path)
            if public_key is not None and is_closed(entries):
                check_closure(entries, public_key, str(path))
            rows.append(HistoryRow(path, summarize(parse_events(entries), str(path))))
        except (JournalError, ValueError, KeyError) as error:
            rows.append(HistoryRow(path, None, str(error)))
    return rows
