"""The drill journal: real files in a temporary directory, tampered with by hand."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from egov.drills.journal import (
    GENESIS,
    Journal,
    JournalError,
    format_time,
    hash_entry,
    read_journal,
)


def write_journal(path: Path, count: int = 4) -> list[dict[str, object]]:
    journal = Journal.create(path)
    return [journal.append("step", name=f"step-{index}", value=index) for index in range(count)]


def get_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def set_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def test_appended_entries_chain_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 3)
    entries = read_journal(path)
    assert entries == written
    assert [entry["seq"] for entry in entries] == [0, 1, 2]
    assert [entry["name"] for entry in entries] == ["step-0", "step-1", "step-2"]
    assert entries[0]["prev"] == GENESIS
    assert [entry["prev"] for entry in entries[1:]] == [entry["hash"] for entry in entries[:-1]]
    assert all(entry["hash"] == hash_entry(entry) for entry in entries)


def test_an_empty_journal_has_no_entries(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal.create(path)
    assert read_journal(path) == []


def test_create_refuses_an_existing_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write_journal(path, 1)
    with pytest.raises(FileExistsError):
        Journal.create(path)
    assert len(read_journal(path)) == 1


def test_editing_a_field_of_a_middle_line_names_that_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write_journal(path)
    lines = get_lines(path)
    entry = json.loads(lines[1])
    entry["value"] = 99
    lines[1] = json.dumps(entry, sort_keys=True) + "\n"
    set_lines(path, lines)
    with pytest.raises(JournalError, match=r"journal\.jsonl:2: this entry was changed"):
        read_journal(path)


def test_editing_a_line_and_its_hash_breaks_the_chain_at_the_next(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write_journal(path)
    lines = get_lines(path)
    entry = json.loads(lines[1])
    entry["value"] = 99
    entry["hash"] = hash_entry(entry)
    lines[1] = json.dumps(entry, sort_keys=True) + "\n"
    set_lines(path, lines)
    with pytest.raises(JournalError, match=r"journal\.jsonl:3: the chain is broken"):
        read_journal(path)


def test_deleting_a_line_names_the_line_after_the_gap(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write_journal(path)
    lines = get_lines(path)
    del lines[1]
    set_lines(path, lines)
    with pytest.raises(JournalError, match=r"journal\.jsonl:2: the chain is broken"):
        read_journal(path)


def test_swapping_two_lines_names_the_first_out_of_place(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write_journal(path)
    lines = get_lines(path)
    lines[1], lines[2] = lines[2], lines[1]
    set_lines(path, lines)
    with pytest.raises(JournalError, match=r"journal\.jsonl:2: the chain is broken"):
        read_journal(path)


def test_a_line_that_is_not_json_in_the_middle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write_journal(path)
    lines = get_lines(path)
    lines[1] = lines[1][:20] + "\n"
    set_lines(path, lines)
    with pytest.raises(JournalError, match=r"journal\.jsonl:2: not a JSON journal entry"):
        read_journal(path)


def test_json_that_is_not_an_entry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"seq": 0, "event": "start"}\n', encoding="utf-8")
    with pytest.raises(JournalError, match=r"journal\.jsonl:1: not a drill journal entry"):
        read_journal(path)


def test_a_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(JournalError, match="not UTF-8"):
        read_journal(path)


def test_a_missing_journal_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no such file"):
        read_journal(tmp_path / "nowhere.jsonl")


def test_a_torn_last_line_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write_journal(path, 3)
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"seq": 3, "event": "st')
    with pytest.raises(JournalError, match=r"journal\.jsonl:4: the last line was cut short"):
        read_journal(path)


def test_a_torn_last_line_is_left_out_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 3)
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"seq": 3, "event": "st')
    assert read_journal(path, torn_tail_ok=True) == written


def test_a_garbled_last_line_with_its_newline_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    write_journal(path, 3)
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"seq": 3, "ev\n')
    with pytest.raises(JournalError, match=r"journal\.jsonl:4: not a JSON journal entry"):
        read_journal(path, torn_tail_ok=True)


def test_resume_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 2)
    journal = Journal.resume(path)
    assert journal.next_seq == 2
    assert journal.last_hash == written[-1]["hash"]
    journal.append("end", status="recovered")
    entries = read_journal(path)
    assert [entry["seq"] for entry in entries] == [0, 1, 2]
    assert entries[2]["prev"] == written[-1]["hash"]
    assert entries[2]["t"] >= written[-1]["t"]  # the drill's clock goes on, not from zero


def test_resume_after_a_torn_line_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 2)
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"seq": 2, "event": "rollb')
    journal = Journal.resume(path)
    journal.append("note", text="recovering")
    journal.append("end", status="recovered")
    entries = read_journal(path)
    assert [entry["event"] for entry in entries] == ["step", "step", "note", "end"]
    assert entries[2]["prev"] == written[-1]["hash"]


def test_appends_from_several_threads_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path)
    start = threading.Barrier(4)

    def write(writer: int) -> None:
        start.wait()
        for index in range(10):
            journal.append("step", name=f"writer-{writer}-{index}")

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = read_journal(path)
    assert [entry["seq"] for entry in entries] == list(range(40))


def test_the_journal_is_readable_by_owner_and_group_only(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "journal.jsonl"
    Journal.create(path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_format_time_is_utc_with_milliseconds() -> None:
    assert format_time(1795766400.1234) == "2026-11-27T08:00:00.123Z"
