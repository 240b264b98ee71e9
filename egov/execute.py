"""The one place egov runs local processes (restic, pip, nft, systemd-nspawn, …).

Callers build argv tuples (pure, tested without binaries) and hand them here; the lab's
containers too (``spawn_detached`` starts one that outlives us). A failure becomes
``CommandFailed`` with the tail of stderr; secrets travel in the environment or on stdin, never
in argv, so the argv in the error is safe to show.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from egov.errors import CommandFailed

STDERR_TAIL_CHARS = 2000
#: how long a timed-out command gets to clean up after SIGINT before it is killed
TIMEOUT_GRACE_SECONDS = 10.0
#: how long the pipes of a stopped command are read for what it said last
DRAIN_SECONDS = 2.0


def run_command(
    argv: Sequence[str],
    *,
    input_text: str | None = None,
    check: bool = True,
    timeout_seconds: float | None = None,
    environment: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    capture: bool = True,
    output: IO[bytes] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion, capturing its output (unless ``capture`` is false: then
    it goes to our own stdout and stderr as it comes; with ``output``, a file, stdout goes
    there and the result's is empty: output too large to hold).

    A command that outlives ``timeout_seconds`` is interrupted (SIGINT, as Ctrl-C would:
    restic then removes its repository locks where it still can) and killed when it has
    not exited ``TIMEOUT_GRACE_SECONDS`` later. Raise CommandFailed when it exits non-zero
    (and ``check``), cannot start, or outlives ``timeout_seconds`` (exit code 124).
    """
    process = _start(
        argv,
        environment,
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=output if output is not None else subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        text=True,
        errors="replace",
        cwd=cwd,
    )
    with process:
        try:
            stdout, stderr = process.communicate(input_text, timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            _stop(process)
            said = _drain_stderr(process) if capture else ""
            raise CommandFailed(argv, 124, _timed_out(timeout_seconds, said)) from None
        except BaseException:  # Ctrl-C or a stop: leave no child behind, but let it clean up
            _stop(process)
            raise
    result = subprocess.CompletedProcess(
        list(argv), process.returncode, stdout if output is None else "", stderr
    )
    if check and result.returncode != 0:
        raise CommandFailed(argv, result.returncode, (result.stderr or "")[-STDERR_TAIL_CHARS:])
    return result


class StartedCommand:
    """A command started now whose stdin is written later (``finish``) or never (``cancel``).

    restic spends most of a second opening a repository (its key derivation); a small stream
    known only at the end of another restic run (a backup's manifest) can have its process
    opened while that run works. Output goes to temporary files, so a command waiting for
    its input never blocks on a full pipe however long the wait.
    """

    def __init__(self, argv: Sequence[str], environment: Mapping[str, str] | None = None):
        self.argv = tuple(argv)
        # kept open as long as the command: closed by _collect or _close
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._process: subprocess.Popen[bytes] = _start(
                argv, environment, stdin=subprocess.PIPE, stdout=self._stdout, stderr=self._stderr
            )
        except CommandFailed:
            self._close()
            raise

    @property
    def exited(self) -> bool:
        """Whether the command has ended already (it failed before reading its input)."""
        return self._process.poll() is not None

    def feed(self, text: str) -> bool:
        """Write ``text`` to stdin now, leaving it open; False when the command has gone (its
        stdin closed) or the pipe broke. May block until the command reads: call it from a
        thread of its own while a command is slow to start reading."""
        stdin = self._process.stdin
        if stdin is None:
            return False
        try:
            stdin.write(text.encode())
            stdin.flush()
        except (OSError, ValueError):  # a broken pipe, or stdin closed by cancel()
            return False
        return True

    def finish(
        self, input_text: str, timeout_seconds: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Write ``input_text``, close stdin, wait; as :func:`run_command` with check off."""
        try:
            self._process.communicate(input_text.encode(), timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            said = self.cancel().stderr
            raise CommandFailed(self.argv, 124, _timed_out(timeout_seconds, said)) from None
        return self._collect()

    def interrupt(self) -> None:
        """Send SIGINT now if the command still runs, and return at once: for another thread
        than the one waiting in ``finish``, which returns when the command has cleaned up."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)

    def cancel(self) -> subprocess.CompletedProcess[str]:
        """Interrupt the command if it still runs (SIGINT, then SIGKILL after the grace
        period) before its stdin closes: an empty input must never be taken as the stream."""
        if self._process.poll() is None:
            _stop(self._process)
        return self._collect()

    def _collect(self) -> subprocess.CompletedProcess[str]:
        if self._stdout.closed:
            return subprocess.CompletedProcess(list(self.argv), self._process.returncode, "", "")
        self._stdout.seek(0)
        self._stderr.seek(0)
        stdout = self._stdout.read().decode(errors="replace")
        stderr = self._stderr.read().decode(errors="replace")
        self._close()
        with contextlib.suppress(BrokenPipeError):
            if self._process.stdin is not None:
                self._process.stdin.close()
        code = self._process.returncode
        return subprocess.CompletedProcess(list(self.argv), code, stdout, stderr)

    def _close(self) -> None:
        self._stdout.close()
        self._stderr.close()


def _start(
    argv: Sequence[str], environment: Mapping[str, str] | None, **options: Any
) -> subprocess.Popen[Any]:
    """Popen ``argv``; a program that cannot start is CommandFailed with the shell's codes
    (127 not found, 126 not executable), as if a shell had tried."""
    try:
        return subprocess.Popen(
            list(argv), env=dict(environment) if environment is not None else None, **options
        )
    except FileNotFoundError as error:
        raise CommandFailed(argv, 127, str(error)) from None
    except PermissionError as error:
        raise CommandFailed(argv, 126, str(error)) from None


def _timed_out(timeout_seconds: float | None, stderr: str) -> str:
    """The message of a timeout, with the tail of what the command said before it: why it
    stalled (restic's "retrying after …" of a failing server, a lock it waits for)."""
    message = f"timed out after {timeout_seconds} s"
    tail = stderr.strip()[-STDERR_TAIL_CHARS:]
    return f"{message}; its last words:\n{tail}" if tail else message


def _drain_stderr(process: subprocess.Popen[str]) -> str:
    """What a stopped ``process`` wrote to stderr (the pipes ``communicate`` had begun to read
    are read to their end); nothing when a grandchild still holds them open."""
    try:
        return process.communicate(timeout=DRAIN_SECONDS)[1] or ""
    except subprocess.TimeoutExpired:
        return ""


def _stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Interrupt ``process``, then kill it if it has not exited after the grace period."""
    process.send_signal(signal.SIGINT)
    try:
        # wait(), not communicate(): a grandchild may hold the pipes open long after
        process.wait(timeout=TIMEOUT_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_pipeline(
    producer: Sequence[str],
    consumer: Sequence[str],
    *,
    producer_environment: Mapping[str, str] | None = None,
    consumer_environment: Mapping[str, str] | None = None,
    on_chunk: Callable[[bytes], None] | None = None,
    chunk_bytes: int = 1 << 20,
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """Stream ``producer``'s stdout into ``consumer``'s stdin, nothing on disk in between.

    Each side gets its own environment, so a secret meant for the consumer (restic) never
    reaches the producer (pg_dump, run as another user). The stream passes through this
    process so that ``on_chunk`` can see it (a checksum of a database dump as it is backed
    up). Returns both completed processes (stdout of the producer is empty); never raises
    for a non-zero exit: the caller judges both codes.

    The consumer sees the end of its input only when the producer succeeded: when the
    producer fails, or this process is interrupted, the consumer is interrupted first (SIGINT,
    as Ctrl-C would), so restic never stores a cut dump as if it were whole.
    """
    with tempfile.TemporaryFile() as producer_errors:
        source: subprocess.Popen[bytes] = _start(
            producer,
            producer_environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=producer_errors,
        )
        try:
            sink: subprocess.Popen[bytes] = _start(
                consumer,
                consumer_environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except CommandFailed:
            source.kill()
            source.wait()
            raise
        sink_output: dict[str, bytes] = {}

        def drain(name: str, stream: IO[bytes] | None) -> None:
            sink_output[name] = stream.read() if stream is not None else b""

        readers = [
            threading.Thread(target=drain, args=("stdout", sink.stdout), daemon=True),
            threading.Thread(target=drain, args=("stderr", sink.stderr), daemon=True),
        ]
        for reader in readers:
            reader.start()
        assert source.stdout is not None and sink.stdin is not None
        try:
            while chunk := source.stdout.read(chunk_bytes):
                if on_chunk is not None:
                    on_chunk(chunk)
                sink.stdin.write(chunk)
        except BrokenPipeError:
            source.kill()
        except BaseException:  # interrupted (Ctrl-C, the agent stopped): neither is finished
            _stop(sink)
            source.kill()
            raise
        finally:
            source_code = source.wait()
            if source_code != 0 and sink.poll() is None:
                _stop(sink)  # a cut stream must never look complete: no end-of-input for it
            with contextlib.suppress(BrokenPipeError):
                sink.stdin.close()
        sink_code = sink.wait()
        for reader in readers:
            reader.join()
        producer_errors.seek(0)
        producer_stderr = producer_errors.read()[-STDERR_TAIL_CHARS:].decode(errors="replace")
    return (
        subprocess.CompletedProcess(list(producer), source_code, "", producer_stderr),
        subprocess.CompletedProcess(
            list(consumer),
            sink_code,
            sink_output.get("stdout", b"").decode(errors="replace"),
            sink_output.get("stderr", b"").decode(errors="replace"),
        ),
    )


def spawn_detached(argv: Sequence[str], log_path: Path) -> int:
    """Start ``argv`` in its own session, output appended to ``log_path``; return its PID.

    The process outlives us (a new session, stdin from /dev/null), which is how a lab container
    keeps running after ``egov lab up`` returns. The child is not waited for here:
    ``reap_detached`` collects it if it exits while we are still running.
    """
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _detached[process.pid] = process
    return process.pid


def reap_detached() -> None:
    """Collect the detached children of this process that have exited (no zombies linger).

    Only our own ``spawn_detached`` children are polled: a blanket ``waitpid(-1)`` would steal
    the exit status of commands other threads are running.
    """
    for pid, process in list(_detached.items()):
        if process.poll() is not None:
            del _detached[pid]


_detached: dict[int, subprocess.Popen[bytes]] = {}


def find_program(name: str, path: str | None = None) -> str | None:
    """Return the full path of program ``name`` on ``path`` (default $PATH plus sbin), or None."""
    search = path if path is not None else os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return shutil.which(name, path=search)
