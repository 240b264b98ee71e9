"""The one module that runs restic: argv from ``restic.py``, environment from ``repositories``.

Why not resticpy (on the design card)? Checked against resticpy 1.x: it keeps the
repository and password file in module globals and runs ``subprocess`` itself with the
parent's whole environment, so it cannot give each call its own secret-carrying environment
nor go through ``egov.execute``; it turns every non-zero exit into one exception whose code
is only in the text, losing 3 (partial snapshot) and 10/11/12; it has no ``--stdin`` backup,
and its ``backup`` passes 0.17-only flags (``--skip-if-unchanged``) by name. Every call here
needs one of those, so no call uses it, and egov does not depend on it.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from egov.backup.restic import make_version_command, parse_version
from egov.backup.resticoutcome import (
    Outcome,
    classify_failure,
    strip_stack_traces,
    strip_terminal_codes,
)
from egov.errors import BackupError, CommandFailed
from egov.execute import StartedCommand, run_command, run_pipeline

STDERR_SHOWN_CHARS = 600
MASK = "***"


def mask_secrets(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret value (and its URL-quoted form) replaced by ``***``."""
    from urllib.parse import quote

    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
    return text


@dataclass(frozen=True)
class ResticResult:
    """One finished restic call, stderr already masked."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    #: classified on the unmasked stderr: a secret could otherwise hide restic's words
    outcome: Outcome

    @property
    def stderr_tail(self) -> str:
        """The last lines of stderr (restic's words, not its Go stack nor its terminal
        codes), for a message."""
        words = strip_stack_traces(strip_terminal_codes(self.stderr))
        return words.strip()[-STDERR_SHOWN_CHARS:]


@dataclass(frozen=True)
class Restic:
    """restic bound to one repository: its environment holds the location and the secrets.

    ``label`` names the repository and site in messages (``primary (site primary)``). The
    environment (S3 keys) and the secrets stay out of ``repr``: a traceback or a test
    failure that shows this object must not show them.
    """

    environment: Mapping[str, str] = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    label: str
    timeout_seconds: float | None = None

    def run(
        self,
        argv: Sequence[str],
        *,
        input_text: str | None = None,
        output: IO[bytes] | None = None,
    ) -> ResticResult:
        """Run ``argv`` (from a ``make_*_command``) against the repository; never raises on
        a restic failure, only when restic cannot start. With ``output`` (a file), stdout
        goes there instead of into the result: a ``dump`` of any size."""
        return self._complete(
            argv,
            lambda: run_command(
                argv,
                input_text=input_text,
                check=False,
                timeout_seconds=self.timeout_seconds,
                environment=self.environment,
                output=output,
            ),
        )

    def start(self, argv: Sequence[str]) -> StartedCommand | None:
        """Start ``argv`` against the repository now, its stdin to come (``finish``); None
        when restic cannot start (the caller then runs it the plain way)."""
        try:
            return StartedCommand(argv, self.environment)
        except CommandFailed:
            return None

    def finish(self, started: StartedCommand, input_text: str) -> ResticResult:
        """Hand ``started`` its stdin and wait for it; never raises on a restic failure."""
        return self._complete(
            started.argv, lambda: started.finish(input_text, self.timeout_seconds)
        )

    def cancel(self, started: StartedCommand) -> ResticResult:
        """Interrupt ``started`` before its stdin closes (it stores nothing) and return how it
        ended; never raises on a restic failure."""
        return self._complete(started.argv, started.cancel)

    def run_from(
        self,
        producer: Sequence[str],
        argv: Sequence[str],
        producer_environment: Mapping[str, str],
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> tuple[ResticResult, ResticResult]:
        """Pipe ``producer`` (pg_dump) into restic ``argv``; the producer never sees the
        repository's environment."""
        source, sink = run_pipeline(
            producer,
            argv,
            producer_environment=producer_environment,
            consumer_environment=self.environment,
            on_chunk=on_chunk,
        )
        return (
            self._result(producer, source.returncode, "", source.stderr),
            self._result(argv, sink.returncode, sink.stdout, sink.stderr),
        )

    def check(self, result: ResticResult, what: str, *, allow_partial: bool = False) -> None:
        """Raise BackupError naming the repository when ``result`` did not succeed."""
        if result.outcome is Outcome.OK or (allow_partial and result.outcome is Outcome.PARTIAL):
            return
        raise BackupError(
            f"{what} on repository {self.label} failed ({result.outcome.value}, exit "
            f"{result.returncode}): {result.stderr_tail or 'no message'}",
            _HINTS.get(result.outcome, "see the message above; the run can be repeated safely"),
        )

    def _complete(
        self, argv: Sequence[str], wait: Callable[[], subprocess.CompletedProcess[str]]
    ) -> ResticResult:
        """The result of ``wait``'s process; one that could not start or timed out too."""
        try:
            completed = wait()
        except CommandFailed as error:
            return self._result(argv, error.returncode, "", error.stderr_tail)
        return self._result(argv, completed.returncode, completed.stdout, completed.stderr)

    def _result(
        self, argv: Sequence[str], returncode: int, stdout: str, stderr: str
    ) -> ResticResult:
        return ResticResult(
            tuple(argv),
            returncode,
            stdout,
            mask_secrets(stderr, self.secrets),
            classify_failure(returncode, stderr),
        )


_HINTS = {
    Outcome.MISSING: (
        "create it: a REST repository is created by the deploy of its storage host (egov "
        "deploy --limit SITE/HOST), a copy target by the next egov backup replicate"
    ),
    Outcome.WRONG_PASSWORD: "the repository password differs from the inventory's secret",
    Outcome.UNAUTHORIZED: "the REST or S3 credentials were refused; redeploy the secrets",
    Outcome.LOCKED: "another restic holds a lock; stale locks go with `restic unlock`",
    Outcome.NETWORK: "the repository is unreachable; the next run resumes where this stopped",
    Outcome.SERVER_ERROR: (
        "the repository's server could not store the data; a full disk is the usual cause: "
        "see df and the repository server's journal on its host (nothing was lost: the "
        "snapshots already there are untouched, and the next run after the fix completes)"
    ),
    Outcome.CORRUPTED: (
        "the repository holds damaged data: restore from another site's repository, and run "
        "restic check --read-data on this one to find the damaged packs"
    ),
}


@functools.cache
def get_restic_version(path: str = "") -> tuple[int, int, int]:
    """The installed restic's version, asked once per process (``path`` keys the cache).

    Raise BackupError when restic is missing or older than 0.14.
    """
    del path
    try:
        completed = run_command(make_version_command(), timeout_seconds=30)
        version = parse_version(completed.stdout)
    except (CommandFailed, ValueError) as error:
        raise BackupError(
            f"cannot tell restic's version: {error}", "install restic (apt-get install restic)"
        ) from None
    if version < (0, 14, 0):
        raise BackupError(f"restic {version} is older than 0.14", "upgrade restic")
    return version
