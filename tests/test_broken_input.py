"""Every bad input, through the real CLI: one clear message, exit 2, nothing written, no hang.

Each case builds its files in a temporary directory, runs ``egov`` in-process and expects
exit code 2, its words in an ``egov:`` line naming the file (with ``:line:`` where the content
is at fault), no traceback or internal error, and not one file added or changed under the
temporary directory. Inputs that are not regular files (a FIFO, a device, a directory, a
sparse file over the cap) are read by every command that reads a file; a timer turns a hang
into a failure.

The inventory and scenario contents are broken in ``tests/inventory/test_broken_inventories.py``
and ``tests/drills/test_broken_scenarios.py``; here come the file kinds, the journals, the
arguments and the output paths.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from egov.cli import run
from egov.drills.journal import JOURNAL_NAME, Journal
from egov.drills.signing import get_or_create_signing_key
from egov.inputfile import JOURNAL_MAX_BYTES, JSON_MAX_BYTES, YAML_MAX_BYTES
from tests.drills.test_broken_scenarios import CASES as SCENARIO_CASES
from tests.inventory.test_broken_inventories import CASES as INVENTORY_CASES
from tests.inventory.test_broken_inventories import FILE_CASES as INVENTORY_FILE_CASES

REPOSITORY = Path(__file__).parents[1]
LAB_INVENTORY = REPOSITORY / "inventory" / "lab.yaml"
HANG_SECONDS = 5


class Fifo:
    """A named pipe nobody writes to: opening it for reading blocks forever."""


class Directory:
    """A directory where a file is expected."""


@dataclass(frozen=True)
class Sparse:
    """A file of ``size`` bytes that takes no space: over a cap without writing it."""

    size: int


Content = str | bytes | Fifo | Directory | Sparse | Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One bad input: files to make, the argv (``{tmp}`` and ``{lab}`` filled in), the
    words expected, and the file and line at fault (line None: the file as a whole)."""

    id: str
    argv: tuple[str, ...]
    words: str
    at: str | None = None
    line: int | None = None
    files: dict[str, Content] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)


def _make(path: Path, content: Content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, Fifo):
        os.mkfifo(path)
    elif isinstance(content, Directory):
        path.mkdir()
    elif isinstance(content, Sparse):
        with path.open("wb") as stream:
            stream.truncate(content.size)
    else:
        content(path)


# --- every command that reads a file, given something that is not a readable regular file --

READERS: dict[str, tuple[tuple[str, ...], str, int]] = {
    # reader: (argv with {input}, file name, cap)
    "inventory": (("inventory", "validate", "{input}"), "estate.yaml", YAML_MAX_BYTES),
    "inventory-option": (("inventory", "show", "-i", "{input}"), "estate.yaml", YAML_MAX_BYTES),
    "scenario": (
        ("drill", "validate", "-i", "{lab}", "{input}"),
        "drills/broken.yaml",
        YAML_MAX_BYTES,
    ),
    "scenario-run": (
        ("drill", "run", "-i", "{lab}", "{input}", "--mode", "test", "--drill-dir", "{tmp}/runs"),
        "drills/broken.yaml",
        YAML_MAX_BYTES,
    ),
    "journal": (("drill", "report", "{input}"), JOURNAL_NAME, JOURNAL_MAX_BYTES),
    "plan-inventory": (("backup", "plan", "-i", "{input}"), "estate.yaml", YAML_MAX_BYTES),
    "targets": (
        ("monitor", "exporter", "--state-dir", "{tmp}", "--targets", "{input}"),
        "targets.json",
        JSON_MAX_BYTES,
    ),
    "agent-config": (("agent", "backup", "--config", "{input}"), "agent.json", JSON_MAX_BYTES),
}

FILE_KINDS: dict[str, tuple[Content | None, str]] = {
    # kind: (what to make at the input path, or None for a path outside {tmp}; words)
    "fifo": (Fifo(), "is a FIFO (named pipe), not a regular file"),
    "directory": (Directory(), "is a directory, not a regular file"),
    "missing": (None, "no such"),
    "dev-zero": (None, "is a device, not a regular file"),
    "over-the-cap": (Sparse(0), "MiB"),
}


def _file_kind_cases() -> Iterator[Case]:
    for reader, (argv, name, cap) in READERS.items():
        for kind, (content, words) in FILE_KINDS.items():
            if kind == "dev-zero":
                yield Case(f"{reader}-{kind}", _fill(argv, "/dev/zero"), words, at="/dev/zero")
                continue
            files: dict[str, Content] = {}
            if isinstance(content, Sparse):
                files[name] = Sparse(cap + 1)
            elif content is not None:
                files[name] = content
            yield Case(
                f"{reader}-{kind}",
                _fill(argv, f"{{tmp}}/{name}"),
                words,
                at=f"{{tmp}}/{name}",
                files=files,
            )


def _fill(argv: tuple[str, ...], path: str) -> tuple[str, ...]:
    return tuple(part.replace("{input}", path) for part in argv)


ENVIRONMENT_CASES = [
    Case(
        "inventory-from-environment-fifo",
        ("inventory", "validate"),
        "is a FIFO",
        at="{tmp}/estate.yaml",
        files={"estate.yaml": Fifo()},
        environment={"EGOV_INVENTORY": "{tmp}/estate.yaml"},
    ),
    Case(
        "inventory-from-environment-device",
        ("inventory", "show"),
        "is a device",
        at="/dev/zero",
        environment={"EGOV_INVENTORY": "/dev/zero"},
    ),
]


# --- journals given to `egov drill report` ---------------------------------------------------


#: the signing key the journals below are closed with; their cases point $EGOV_DRILL_KEY here
KEY_NAME = "drill-signing.key"


def _journal(*events: tuple[str, dict[str, Any]]) -> Callable[[Path], None]:
    """A journal written by the real Journal (so its chain holds) with these entries, closed
    and signed by the key beside it: what is wrong with it is only what the case says."""

    def make(path: Path) -> None:
        journal = Journal.create(path)
        for event, fields in events:
            journal.append(event, **fields)
        journal.close(get_or_create_signing_key(path.parent / KEY_NAME, "test"))

    return make


START = ("start", {"scenario": "s", "mode": "test", "targets": {}})
END = ("end", {"status": "succeeded"})
GOOD_JOURNAL = _journal(START, END)


def _then(make: Callable[[Path], None], change: Callable[[str], str]) -> Callable[[Path], None]:
    """A journal made by ``make``, then its text changed by ``change``."""

    def changed(path: Path) -> None:
        make(path)
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return changed


def _swap_lines(text: str) -> str:
    first, second, *rest = text.splitlines(keepends=True)
    return "".join([second, first, *rest])


def _edit_first(text: str) -> str:
    return text.replace('"scenario": "s"', '"scenario": "t"', 1)


JOURNAL = f"{{tmp}}/{JOURNAL_NAME}"
REPORT = ("drill", "report", JOURNAL)

JOURNAL_CASES = [
    Case(
        "journal-not-utf8", REPORT, "not UTF-8", at=JOURNAL, files={JOURNAL_NAME: b"\xff\xfe{}\n"}
    ),
    Case(
        "journal-not-json",
        REPORT,
        "not a JSON journal entry",
        at=JOURNAL,
        line=1,
        files={JOURNAL_NAME: "hello\nworld\n"},
    ),
    Case(
        "journal-a-list",
        REPORT,
        "not a drill journal entry",
        at=JOURNAL,
        line=1,
        files={JOURNAL_NAME: "[1, 2]\n"},
    ),
    Case(
        "journal-deep-json",
        REPORT,
        "not a JSON journal entry",
        at=JOURNAL,
        line=1,
        files={JOURNAL_NAME: "[" * 100_000 + "]" * 100_000 + "\n{}\n"},
    ),
    Case(
        "journal-endless-number",
        REPORT,
        "not a JSON journal entry",
        at=JOURNAL,
        line=1,
        files={JOURNAL_NAME: "9" * 10_000 + "\n{}\n"},
    ),
    Case(
        "journal-lines-swapped",
        REPORT,
        "the chain is broken",
        at=JOURNAL,
        line=1,
        files={JOURNAL_NAME: _then(GOOD_JOURNAL, _swap_lines)},
    ),
    Case(
        "journal-entry-edited",
        REPORT,
        "changed after it was written",
        at=JOURNAL,
        line=1,
        files={JOURNAL_NAME: _then(GOOD_JOURNAL, _edit_first)},
    ),
    Case("journal-empty", REPORT, "not a drill journal", at=JOURNAL, files={JOURNAL_NAME: ""}),
    Case(
        "journal-without-start",
        REPORT,
        "not a drill journal",
        at=JOURNAL,
        files={JOURNAL_NAME: _journal(END)},
    ),
    Case(
        "journal-start-without-time",
        REPORT,
        "not a drill journal",
        at=JOURNAL,
        files={JOURNAL_NAME: _journal(("start", {"epoch": "yesterday"}), END)},
    ),
    Case(
        "journal-entry-without-event",
        REPORT,
        "not a drill journal",
        at=JOURNAL,
        files={JOURNAL_NAME: _journal(START, ("step", {"name": None, "epoch": []}))},
    ),
    Case(
        "journal-report-language",
        (*REPORT, "--lang", "fr"),
        "not a report language",
        files={JOURNAL_NAME: GOOD_JOURNAL},
    ),
    Case(
        "journal-report-format",
        (*REPORT, "--format", "pdf"),
        "pdf",
        files={JOURNAL_NAME: GOOD_JOURNAL},
    ),
    Case(
        "journal-report-into-missing-directory",
        (*REPORT, "--output-file", "{tmp}/nowhere/report.html"),
        "the directory {tmp}/nowhere does not exist",
        at="{tmp}/nowhere/report.html",
        files={JOURNAL_NAME: GOOD_JOURNAL},
    ),
    Case(
        "journal-report-into-a-directory",
        (*REPORT, "--output-file", "{tmp}/reports"),
        "is a directory",
        at="{tmp}/reports",
        files={JOURNAL_NAME: GOOD_JOURNAL, "reports": Directory()},
    ),
    Case(
        "journal-report-into-a-file-as-directory",
        (*REPORT, "--output-file", "{tmp}/plain/report.html"),
        "is not a directory",
        at="{tmp}/plain/report.html",
        files={JOURNAL_NAME: GOOD_JOURNAL, "plain": "a file\n"},
    ),
    Case(
        "journal-report-into-a-fifo",
        (*REPORT, "--output-file", "{tmp}/pipe"),
        "cannot write",
        at="{tmp}/pipe",
        files={JOURNAL_NAME: GOOD_JOURNAL, "pipe": Fifo()},
    ),
]


# --- arguments and output paths ---------------------------------------------------------------

SCENARIO = "{tmp}/drills/broken.yaml"

ARGUMENT_CASES = [
    Case("unknown-command", ("frobnicate",), "No such command"),
    Case("unknown-option", ("inventory", "validate", "--colour"), "No such option"),
    Case("output-format", ("inventory", "show", "-i", "{lab}", "--output", "yaml"), "yaml"),
    Case("exporter-port-zero", ("monitor", "exporter", "--port", "0"), "--port"),
    Case("exporter-port-high", ("monitor", "exporter", "--port", "70000"), "--port"),
    Case("exporter-port-word", ("monitor", "exporter", "--port", "http"), "--port"),
    Case(
        "exporter-state-dir-missing",
        ("monitor", "exporter", "--state-dir", "{tmp}/nowhere", "-i", "{lab}"),
        "cannot read the state directory",
    ),
    Case(
        "drill-unknown-mode",
        ("drill", "run", "-i", "{lab}", "quarterly-test-failover", "--mode", "sideways"),
        "no such mode",
    ),
    Case(
        "drill-mode-unsupported",
        ("drill", "run", "-i", "{lab}", "quarterly-test-failover", "--mode", "failback"),
        "has no failback mode",
    ),
    Case(
        "drill-mode-missing",
        ("drill", "run", "-i", "{lab}", "quarterly-test-failover"),
        "--mode",
    ),
    Case(
        "drill-unknown-scenario",
        ("drill", "validate", "-i", "{lab}", "quarterly-test-failovr"),
        "did you mean",
    ),
    Case(
        "drill-missing-scenario-file",
        ("drill", "validate", "-i", "{lab}", "{tmp}/nowhere.yaml"),
        "no such scenario file",
    ),
    Case(
        "drill-production-mode-unconfirmed",
        (
            "drill",
            "run",
            "-i",
            "{lab}",
            "loss-of-primary-site",
            "--mode",
            "failover",
            "--drill-dir",
            "{tmp}/runs",
        ),
        "--confirm",
    ),
    Case(
        "schema-into-missing-directory",
        ("inventory", "schema", "{tmp}/nowhere/schema.json"),
        "the directory {tmp}/nowhere does not exist",
        at="{tmp}/nowhere/schema.json",
    ),
    Case(
        "schema-into-a-directory",
        ("inventory", "schema", "{tmp}/out"),
        "is a directory",
        at="{tmp}/out",
        files={"out": Directory()},
    ),
    Case(
        "schema-into-a-fifo-without-reader",
        ("inventory", "schema", "{tmp}/pipe"),
        "cannot write",
        at="{tmp}/pipe",
        files={"pipe": Fifo()},
    ),
    Case(
        "rules-into-a-file-as-directory",
        ("monitor", "rules", "-i", "{lab}", "{tmp}/plain"),
        "cannot use as output directory",
        at="{tmp}/plain",
        files={"plain": "a file\n"},
    ),
    Case(
        "rules-from-a-fifo-inventory",
        ("monitor", "rules", "-i", "{tmp}/estate.yaml", "{tmp}/rules"),
        "is a FIFO",
        at="{tmp}/estate.yaml",
        line=1,
        files={"estate.yaml": Fifo()},
    ),
    Case(
        "dashboards-from-a-device-inventory",
        ("monitor", "dashboards", "-i", "/dev/zero", "{tmp}/dashboards"),
        "is a device",
        at="/dev/zero",
        line=1,
    ),
    Case(
        "deploy-from-a-device-inventory",
        ("deploy", "-i", "/dev/zero", "--dry-run"),
        "is a device",
        at="/dev/zero",
        line=1,
    ),
    Case(
        "backup-status-from-a-directory-inventory",
        ("backup", "status", "-i", "{tmp}"),
        "is a directory",
        at="{tmp}",
        line=1,
    ),
    Case(
        "plan-svg-into-missing-directory",
        (
            "backup",
            "plan",
            "-i",
            "{lab}",
            "--state-dir",
            "{tmp}",
            "--svg",
            "{tmp}/nowhere/night.svg",
        ),
        "the directory {tmp}/nowhere does not exist",
        at="{tmp}/nowhere/night.svg",
    ),
    Case(
        "targets-not-json",
        ("monitor", "exporter", "--state-dir", "{tmp}", "--targets", "{tmp}/targets.json"),
        "cannot read the monitoring targets",
        at="{tmp}/targets.json",
        files={"targets.json": "{not json"},
    ),
    Case(
        "agent-config-not-json",
        ("agent", "backup", "--config", "{tmp}/agent.json"),
        "agent.json",
        at="{tmp}/agent.json",
        files={"agent.json": "[]"},
    ),
    Case(
        "scenario-run-deep-nesting",
        (
            "drill",
            "run",
            "-i",
            "{lab}",
            SCENARIO,
            "--mode",
            "test",
            "--drill-dir",
            "{tmp}/runs",
        ),
        "nested deeper than 64",
        at=SCENARIO,
        line=1,
        files={"drills/broken.yaml": "name: " + "[" * 300 + "]" * 300 + "\n"},
    ),
]

# every journal case has the key its journals were signed with (the estate's key, in a run)
JOURNAL_CASES = [
    replace(case, environment={**case.environment, "EGOV_DRILL_KEY": f"{{tmp}}/{KEY_NAME}"})
    for case in JOURNAL_CASES
]
CASES = [*_file_kind_cases(), *ENVIRONMENT_CASES, *JOURNAL_CASES, *ARGUMENT_CASES]


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Turn a hang (a blocking open of a FIFO, an endless read) into a failure."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"egov did not answer within {HANG_SECONDS}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``directory`` with its size and modification time."""
    found = {}
    for path in directory.rglob("*"):
        status = path.lstat()
        found[str(path.relative_to(directory))] = (status.st_size, status.st_mtime_ns)
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
@pytest.mark.usefixtures("no_hang")
def test_bad_input_gives_one_clear_message_exit_2_and_writes_nothing(
    case: Case,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp_path)).replace("{lab}", str(LAB_INVENTORY))

    for name, content in case.files.items():
        _make(tmp_path / name, content)
    for name, value in case.environment.items():
        monkeypatch.setenv(name, fill(value))
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)

    code = run([fill(part) for part in case.argv])

    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert code == 2, output
    assert "Traceback" not in output and "internal error" not in output, output
    words = fill(case.words)
    assert words in output, output
    if case.at is not None:
        where = fill(case.at) + (f":{case.line}:" if case.line is not None else ":")
        lines = [line for line in captured.err.splitlines() if line.startswith("egov: ")]
        assert any(line.startswith(f"egov: {where}") for line in lines), captured.err
    assert _snapshot(tmp_path) == before, "bad input must leave every file as it was"


def test_the_broken_input_suites_hold_at_least_100_cases() -> None:
    total = len(CASES) + len(INVENTORY_CASES) + len(INVENTORY_FILE_CASES) + len(SCENARIO_CASES)
    assert total >= 100
    assert len(JOURNAL_CASES) >= 10
    assert len(ARGUMENT_CASES) >= 10
