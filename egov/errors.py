"""The one error tree of egov.

Library code raises these; ``egov/cli.py`` is the only place that turns them into words on
stderr and an exit code. Every error carries a hint telling the user what to do next.
Messages must never contain a secret value: builders mask them before raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes of every egov command."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    CHANGES_PENDING = 3
    INTERNAL = 70


class EgovError(Exception):
    """Base of every error egov expects; carries an exit code and a hint."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(EgovError):
    """Bad input or configuration: nothing was touched on any host."""

    exit_code = ExitCode.BAD_INPUT


class InventoryError(InputError):
    """The inventory file cannot be read, parsed or validated.

    ``problems`` holds one line per problem, each ``file:line:column: message``.
    """

    def __init__(self, problems: Sequence[str], hint: str = "") -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems), hint)


class LabError(EgovError):
    """The lab could not be built, started, changed or stopped."""


class LabInputError(InputError):
    """The lab was asked something impossible (not root, unknown host, overlapping network)."""


class BackupError(EgovError):
    """A backup, copy, check or restore failed; the message names dataset, repository, site."""


class CommandFailed(EgovError):
    """A subprocess egov ran exited non-zero.

    ``argv`` must already have its secrets masked by the caller.
    """

    def __init__(
        self, argv: Sequence[str], returncode: int, stderr_tail: str = "", hint: str = ""
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        shown = " ".join(self.argv)
        detail = f": {stderr_tail.strip()}" if stderr_tail.strip() else ""
        super().__init__(f"command failed with exit code {returncode}: {shown}{detail}", hint)


class MonitoringError(EgovError):
    """Prometheus could not be reached or answered nonsense."""


class DrillError(EgovError):
    """A drill step failed; the drill rolled back what it had done (the journal says how)."""


class DrillFailed(EgovError):
    """A drill ran to its end but did not succeed (a step, a cleanup or a target failed)."""


class JournalError(EgovError):
    """A drill journal fails its check: an entry changed, removed or re-hashed, its tail cut,
    no closing entry, or a signature by another key. The evidence does not hold: exit 1.

    The message starts with ``file:line`` of the line at fault.
    """


class JournalUnreadable(JournalError):
    """The file is not a drill journal at all (missing, unreadable, not UTF-8, or its first
    line is no journal entry): bad input, exit 2."""

    exit_code = ExitCode.BAD_INPUT


class DrillInputError(InputError):
    """A scenario file or a drill argument is wrong: nothing was touched."""

    def __init__(self, problems: Sequence[str], hint: str = "") -> None:
        super().__init__("\n".join(problems), hint)
        self.problems = list(problems)
