"""``egov drill history`` from real journals in a temporary drill directory."""

from __future__ import annotations

from pathlib import Path

from egov.drills.history import list_history
from egov.drills.journal import JOURNAL_NAME, Journal
from egov.drills.summary import DrillStatus
from tests.drills.support import get_test_key
from tests.drills.tampering import CASES, apply, write_signed_journal


def write_drill(directory: Path, run: str, status: str | None) -> Path:
    path = directory / run / JOURNAL_NAME
    journal = Journal.create(path)
    journal.append("start", estate="camau-lab", scenario="t-drill", mode="test")
    if status is not None:
        journal.append("end", status=status)
    return path


def test_history_lists_drills_newest_first_and_names_bad_journals(tmp_path: Path) -> None:
    older = write_drill(tmp_path, "20261101T080000Z-t-drill-test", "succeeded")
    killed = write_drill(tmp_path, "20261115T080000Z-t-drill-test", None)
    broken = tmp_path / "20261120T080000Z-t-drill-test" / JOURNAL_NAME
    broken.parent.mkdir()
    broken.write_text('{"seq": 0}\n{"seq": 1}\n')
    empty = write_drill(tmp_path, "20261127T080000Z-t-drill-test", None)
    empty.write_text("")
    rows = list_history(tmp_path)
    assert [row.journal for row in rows] == [empty, broken, killed, older]
    assert rows[0].summary is None
    assert "starts with a 'start' entry" in rows[0].problem
    assert rows[1].summary is None
    assert ":1: not a drill journal entry" in rows[1].problem
    assert rows[2].summary is not None
    assert rows[2].summary.status is DrillStatus.UNFINISHED
    assert rows[3].summary is not None
    assert rows[3].summary.status is DrillStatus.SUCCEEDED


def test_history_names_a_closed_journal_that_fails_verification(tmp_path: Path) -> None:
    good = tmp_path / "20261101T080000Z-t-drill-test" / JOURNAL_NAME
    write_signed_journal(good, get_test_key())
    forged = tmp_path / "20261102T080000Z-t-drill-test" / JOURNAL_NAME
    write_signed_journal(forged, get_test_key())
    apply(next(case for case in CASES if case.name == "signed-with-another-key"), forged)
    unchecked = list_history(tmp_path)
    assert all(row.summary is not None for row in unchecked)  # the chain alone holds
    rows = list_history(tmp_path, get_test_key().public_key)
    assert [row.journal for row in rows] == [forged, good]
    assert rows[0].summary is None
    assert f"{forged}:6: signed with another key" in rows[0].problem
    assert rows[1].summary is not None and rows[1].summary.journal_key


def test_history_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert list_history(tmp_path / "drills") == []
