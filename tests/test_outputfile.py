"""The one writer of output files the user names: bad paths are exit 2, never an OSError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egov.errors import ExitCode, InputError
from egov.outputfile import write_output_text


def test_a_file_is_written_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    write_output_text(path, "first, and longer\n")
    write_output_text(path, "second\n")
    assert path.read_text(encoding="utf-8") == "second\n"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("nowhere/out.txt", "does not exist"),
        ("plain/out.txt", "is not a directory"),
        ("directory", "is a directory"),
        ("pipe", "cannot write"),
    ],
)
def test_a_path_that_cannot_be_written_is_bad_input(tmp_path: Path, name: str, words: str) -> None:
    (tmp_path / "plain").write_text("a file\n", encoding="utf-8")
    (tmp_path / "directory").mkdir()
    os.mkfifo(tmp_path / "pipe")  # no reader: a blocking open would hang
    with pytest.raises(InputError, match=words) as caught:
        write_output_text(tmp_path / name, "text\n")
    assert caught.value.exit_code is ExitCode.BAD_INPUT
    assert not (tmp_path / "nowhere").exists()
