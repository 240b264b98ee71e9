"""The ``egov`` command line: parse, call the domain, render. Nothing else prints or exits.

One module per command group registers its commands on ``app`` (``egov/cli/app.py``); this
module holds the one place errors become words and exit codes (documented in the README):
0 ok, 1 failed, 2 bad input or configuration, 3 changes pending (dry runs), 70 internal
error, 130 interrupted (Ctrl-C); stopped by SIGTERM, egov unwinds as for Ctrl-C and then dies
by the signal (``egov/stopping.py``).
"""

from __future__ import annotations

import functools
import signal
import sys
import traceback
from collections.abc import Callable

import typer
import typer.main

from egov import stopping
from egov.cli import backup, deploy, drill, inventory, lab, lab_fault, monitor, pki
from egov.cli.app import app, settings, stderr
from egov.errors import EgovError, ExitCode

__all__ = ["app", "main", "run"]
INTERRUPTED = 130
# imported for their commands
_COMMAND_GROUPS = (backup, deploy, drill, inventory, lab, lab_fault, monitor, pki)


def _report(error: EgovError) -> int:
    for line in error.message.splitlines() or [""]:
        stderr.print(f"egov: {line}", markup=False, soft_wrap=True)
    if error.hint:
        stderr.print(f"hint: {error.hint}", markup=False, soft_wrap=True)
    return int(error.exit_code)


def _interrupted() -> int:
    """Ctrl-C, or a stop: egov.stopping's handler is the one source of Stopped."""
    if stopping.was_stopped():
        stderr.print(f"egov: {stopping.REASON}", markup=False)
        return 128 + int(signal.SIGTERM)
    stderr.print("egov: interrupted")
    return INTERRUPTED


@functools.cache
def _get_main() -> Callable[..., object]:
    """The ``main`` of the click command tree of ``app``, built once per process.

    ``app(...)`` rebuilds it on every call (the type hints of every command: about 25 ms),
    which is what calling ``run`` many times in one process (the tests) would pay each time.
    """
    return typer.main.get_command(app).main


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv`` and return the exit code; the one place errors become words."""
    try:
        result = _get_main()(args=argv, prog_name="egov", standalone_mode=False)
    except EgovError as error:
        return _report(error)
    except typer.Abort:
        return _interrupted()
    except typer.Exit as error:
        return int(error.exit_code)
    except typer.TyperException as error:  # usage errors: unknown option, bad value, …
        show = getattr(error, "show", None)
        if callable(show):
            show(file=sys.stderr)
        else:
            stderr.print(f"egov: {error}", markup=False)
        return int(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as error:  # the last line of defence: never a bare traceback
        stderr.print(f"egov: internal error: {type(error).__name__}", markup=False)
        if settings.debug:
            traceback.print_exc()
        else:
            stderr.print("hint: run again with --debug and report the traceback", markup=False)
        return int(ExitCode.INTERNAL)
    # typer turns Ctrl-C (and so a stop) inside a command into a plain 130
    if result == INTERRUPTED or stopping.was_stopped():
        return _interrupted()
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point."""
    stopping.install()
    code = run(sys.argv[1:])
    if stopping.was_stopped():
        stopping.die_by_sigterm()
    sys.exit(code)
