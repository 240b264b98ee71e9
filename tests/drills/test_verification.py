"""``check_closure`` and ``verify_journal``: a good signed journal passes; every rewrite a
sceptic would try is refused, naming the line (tampering.py lists them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from egov.drills.journal import Journal
from egov.drills.verification import check_closure, verify_journal
from egov.errors import ExitCode, JournalError, JournalUnreadable
from tests.drills.support import get_test_key
from tests.drills.tampering import (
    CASES,
    Tampering,
    apply,
    read_entries,
    sign_with,
    write_signed_journal,
)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.jsonl"
    write_signed_journal(path, get_test_key())
    return path


def test_a_good_journal_verifies_with_its_closing_hash_and_key(journal: Path) -> None:
    key = get_test_key()
    entries, closure = verify_journal(journal, key.public_key)
    assert len(entries) == closure.entries == 6
    assert closure.closing_hash == entries[-1]["hash"]
    assert closure.key == key.fingerprint
    assert closure.status == "succeeded"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_rewritten_journal_is_refused_naming_the_line(journal: Path, case: Tampering) -> None:
    apply(case, journal)
    with pytest.raises(JournalError) as caught:
        verify_journal(journal, get_test_key().public_key)
    assert str(caught.value).startswith(f"{journal}:{case.line}: "), caught.value
    assert case.words in str(caught.value)
    assert caught.value.exit_code is ExitCode.FAILED  # the evidence fails: not bad input


def test_a_journal_checked_against_another_key_is_refused(journal: Path) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(JournalError, match=r"journal\.jsonl:6: signed with another key"):
        verify_journal(journal, other)


def test_an_empty_journal_is_an_unfinished_run(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal.create(path)
    with pytest.raises(JournalError, match=r"journal\.jsonl:1: the journal is empty") as caught:
        verify_journal(path, get_test_key().public_key)
    assert "egov drill recover" in caught.value.hint


def test_an_open_journal_names_its_last_line_and_points_at_recover(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path)
    journal.append("start", scenario="t-drill")
    journal.append("step", name="a")
    with pytest.raises(JournalError, match=r"journal\.jsonl:2: .*without its closing") as caught:
        verify_journal(path, get_test_key().public_key)
    assert "egov drill recover" in caught.value.hint


def test_a_file_that_is_no_journal_is_unreadable_input(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a journal\n", encoding="utf-8")
    with pytest.raises(
        JournalUnreadable, match=r"notes\.txt:1: not a JSON journal entry"
    ) as caught:
        verify_journal(path, get_test_key().public_key)
    assert caught.value.exit_code is ExitCode.BAD_INPUT


def test_a_missing_journal_is_unreadable_input(tmp_path: Path) -> None:
    with pytest.raises(JournalUnreadable, match="cannot read the journal"):
        verify_journal(tmp_path / "nowhere.jsonl", get_test_key().public_key)


def test_check_closure_is_pure_on_entries(journal: Path) -> None:
    entries, _ = verify_journal(journal, get_test_key().public_key)
    closure = check_closure(entries, get_test_key().public_key, "copy.jsonl")
    assert closure.entries == 6
    with pytest.raises(JournalError, match=r"^copy\.jsonl:5: "):
        check_closure(entries[:-1], get_test_key().public_key, "copy.jsonl")


def test_a_closing_entry_that_miscounts_is_refused_even_when_signed(journal: Path) -> None:
    entries = read_entries(journal)
    entries[-1]["entries"] = 4  # as a writer with a bug would: the signature is good
    sign_with(entries, get_test_key().private_key, None)
    with pytest.raises(JournalError, match=r"^j:6: the closing entry counts 4 entries"):
        check_closure(entries, get_test_key().public_key, "j")
