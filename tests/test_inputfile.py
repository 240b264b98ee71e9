"""The one reader of input files: regular files only, under a cap, never blocking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egov.errors import ExitCode
from egov.inputfile import (
    InputLimit,
    MissingInput,
    UnreadableInput,
    read_input_bytes,
    read_input_text,
)

SMALL = InputLimit("test file", 16)


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "ok.txt"
    path.write_bytes(b"sixteen bytes ok")
    assert read_input_bytes(path, SMALL) == b"sixteen bytes ok"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (os.mkfifo, "is a FIFO (named pipe), not a regular file"),
        (Path.mkdir, "is a directory, not a regular file"),
        (lambda path: path.write_bytes(b"x" * 17), "larger than 0 MiB"),
    ],
    ids=["fifo", "directory", "over-the-cap"],
)
def test_anything_but_a_small_regular_file_is_refused(
    tmp_path: Path, make: object, words: str
) -> None:
    path = tmp_path / "input"
    make(path)  # type: ignore[operator]
    with pytest.raises(
        UnreadableInput, match=words.replace("(", r"\(").replace(")", r"\)")
    ) as caught:
        read_input_bytes(path, SMALL)
    assert caught.value.exit_code is ExitCode.BAD_INPUT
    assert str(caught.value).startswith(f"{path}: ")


def test_a_device_is_refused_before_it_is_read() -> None:
    with pytest.raises(UnreadableInput, match="is a device"):
        read_input_bytes(Path("/dev/zero"), SMALL)


def test_a_missing_file_is_told_apart(tmp_path: Path) -> None:
    with pytest.raises(MissingInput, match="no such file"):
        read_input_bytes(tmp_path / "nowhere", SMALL)


def test_text_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"ok\nc\xe0\n")
    with pytest.raises(UnreadableInput, match="line 2: not valid UTF-8"):
        read_input_text(path, SMALL)
