"""``egov drill history``: every drill of the estate, newest first, from the journals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from egov.drills.journal import JOURNAL_NAME, JournalError, read_journal
from egov.drills.summary import DrillSummary, summarize


@dataclass(frozen=True)
class HistoryRow:
    """One drill, or a journal that could not be read (``problem``)."""

    journal: Path
    summary: DrillSummary | None
    problem: str = ""


def list_history(directory: Path) -> list[HistoryRow]:
    """The drills under ``directory`` (one subdirectory each), newest first."""
    rows = []
    for path in sorted(directory.glob(f"*/{JOURNAL_NAME}"), reverse=True):
        try:
            entries = read_journal(path)
            rows.append(HistoryRow(path, summarize(entries, str(path))))
        except (JournalError, ValueError, KeyError) as error:
            rows.append(HistoryRow(path, None, str(error)))
    return rows
