"""The one module that drives pyinfra's API: connect, prepare in parallel, run, collect.

Two of pyinfra 3.10's API-mode sharp edges are handled here (see the reference notes):
- API mode identifies an operation by its index on each host, so hosts with different roles
  would merge unrelated operations in the plan. We prepare the way the pyinfra CLI does (one
  greenlet per host, ``pyinfra.is_cli`` set), which identifies operations by their call site:
  the same line of the same role lines up across hosts, and lockstep execution finishes every
  host's ``db`` operations before any replica starts cloning.
- ``add_deploy`` prepares hosts one after another; the greenlets prepare them in parallel.
- Lockstep execution follows levels of the operations' graph, not their order across hosts;
  ``make_op_order`` (``oporder.py``) restores the order ``site.py`` declares.
File diffs are logged by pyinfra during preparation; we collect them per host as data.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gevent
import pyinfra
from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.operations import run_ops
from pyinfra.api.state import BaseStateCallback, State, StateStage
from pyinfra.context import ctx_config, ctx_host, ctx_state

from egov.deploys.context import make_global_data
from egov.deploys.oporder import make_op_order
from egov.deploys.recap import DeployResult, HostOutcome, HostStatus
from egov.deploys.site import apply_roles
from egov.inventory.model import Estate, HostRef
from egov.inventory.pyinfra_bridge import make_pyinfra_inventory

CONNECT_TIMEOUT_SECONDS = 10
SLOWEST_REPORTED = 10
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DIFF_HEADER = re.compile(r"Will (create|modify) (\S+)")


class DeployProgress(Protocol):
    """What the runner reports while it works (the CLI draws it)."""

    def phase(self, name: str, hosts: int) -> None:
        """A phase (connect, prepare, execute) starts over ``hosts`` hosts."""

    def host_done(self, host: str, ok: bool) -> None:
        """One host finished the current phase."""

    def operation(self, name: str) -> None:
        """An operation starts (lockstep: on every host at once)."""


class SilentProgress:
    """Reports nothing."""

    def phase(self, name: str, hosts: int) -> None:
        del name, hosts

    def host_done(self, host: str, ok: bool) -> None:
        del host, ok

    def operation(self, name: str) -> None:
        del name


@dataclass
class _Tracker(BaseStateCallback):
    # pyinfra declares the hooks as static methods but calls them on the instance.
    """pyinfra callbacks → progress and per-host timings."""

    progress: DeployProgress
    started: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    operation_seconds: dict[str, float] = field(default_factory=dict)
    _operation_started: dict[str, float] = field(default_factory=dict)

    def host_before_connect(  # type: ignore[override]
        self, state: State, host: Host
    ) -> None:
        self.started[host.name] = time.monotonic()

    def host_connect(  # type: ignore[override]
        self, state: State, host: Host
    ) -> None:
        self.progress.host_done(host.name, True)

    def host_connect_error(  # type: ignore[override]
        self, state: State, host: Host, error: object
    ) -> None:
        self.errors[host.name] = _clean(str(error))
        self.finished[host.name] = time.monotonic()
        self.progress.host_done(host.name, False)

    def operation_start(  # type: ignore[override]
        self, state: State, op_hash: str
    ) -> None:
        self.progress.operation(_operation_label(state, op_hash))
        self._operation_started[op_hash] = time.monotonic()

    def operation_end(  # type: ignore[override]
        self, state: State, op_hash: str
    ) -> None:
        started = self._operation_started.pop(op_hash, None)
        if started is not None:
            label = _operation_label(state, op_hash)
            self.operation_seconds[label] = (
                self.operation_seconds.get(label, 0.0) + time.monotonic() - started
            )

    def operation_host_success(  # type: ignore[override]
        self, state: State, host: Host, op_hash: str, retry_count: int = 0
    ) -> None:
        self.finished[host.name] = time.monotonic()

    def operation_host_error(  # type: ignore[override]
        self, state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None:
        self.finished[host.name] = time.monotonic()
        detail = ""
        try:
            lines = state.ops[host][op_hash].operation_meta.stderr_lines
            detail = ": " + " / ".join(line.strip() for line in lines[-3:] if line.strip())
        except (KeyError, RuntimeError, AssertionError):
            pass  # no output recorded (the connection dropped)
        label = _operation_label(state, op_hash)
        self.errors.setdefault(host.name, _clean(f"{label} failed{detail}"))


class _DiffCollector(logging.Handler):
    """Collects the file diffs pyinfra logs while preparing, per host, colours removed."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.diffs: dict[str, list[str]] = {}
        self.warnings: dict[str, list[str]] = {}
        self._open: dict[str, bool] = {}

    def emit(self, record: logging.LogRecord) -> None:
        host = pyinfra.context.host
        name = host.name if pyinfra.context.ctx_host.isset() else "-"
        message = _clean(record.getMessage())
        if record.levelno >= logging.WARNING:
            self.warnings.setdefault(name, []).append(message)
            return
        header = _DIFF_HEADER.search(message)
        if header:
            self._open[name] = True
            self.diffs.setdefault(name, []).append(f"--- {header.group(2)} ({header.group(1)})")
        elif self._open.get(name):
            if message.strip():
                self.diffs[name].append(_unified(message.removeprefix("  ")))
            else:
                self._open[name] = False


def _operation_label(state: State, op_hash: str) -> str:
    """An operation's name as reports show it: the first of its names, else its hash."""
    names = sorted(state.get_op_meta(op_hash).names)
    return names[0] if names else op_hash


def _unified(line: str) -> str:
    """pyinfra writes diff lines as "+ text"; unified diffs write "+text"."""
    if len(line) > 1 and line[0] in "+- " and line[1] == " ":
        return line[0] + line[2:]
    return line


def _clean(text: str) -> str:
    return _ANSI.sub("", text).strip("\n")


@contextmanager
def _collect_logs() -> Iterator[_DiffCollector]:
    logger = logging.getLogger("pyinfra")
    collector = _DiffCollector()
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.addHandler(collector)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # API mode: nothing of pyinfra's reaches our terminal raw
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate


def _prepare(state: State, deploy: Callable[[], None]) -> dict[Host, str]:
    """Run ``deploy`` for every active host in parallel greenlets; return hosts that failed."""

    def prepare_host(host: Host) -> str | None:
        try:
            with ctx_config.use(state.config.copy()), ctx_host.use(host):
                deploy()
        except Exception as error:  # one host's failure must not stop the others
            return _clean(f"{type(error).__name__}: {error}")
        return None

    previous = pyinfra.is_cli
    pyinfra.is_cli = True  # operations identified by call site, as under the pyinfra CLI
    try:
        with ctx_state.use(state):
            greenlets = {
                state.pool.spawn(prepare_host, host): host
                for host in state.inventory.get_active_hosts()
            }
            gevent.joinall(list(greenlets))
    finally:
        pyinfra.is_cli = previous
    return {host: greenlet.get() for greenlet, host in greenlets.items() if greenlet.get()}


def _fix_op_order(state: State) -> None:
    """Make pyinfra execute in ``make_op_order``'s order."""
    order = make_op_order(
        [list(host.op_hash_order) for host in state.inventory],
        {op_hash: meta.op_order for op_hash, meta in state.op_meta.items()},
    )
    state.get_op_order = lambda: order  # type: ignore[method-assign]


def run_deploy(
    estate: Estate,
    hosts: list[HostRef],
    *,
    dry_run: bool = False,
    serial: bool = False,
    fail_fast: bool = False,
    wheelhouse: Path | None = None,
    progress: DeployProgress | None = None,
    deploy: Callable[[], None] = apply_roles,
    extra_data: Mapping[str, Any] | None = None,
) -> DeployResult:
    """Deploy ``hosts`` of ``estate`` (or only plan it with ``dry_run``) and report per host.

    ``extra_data`` joins pyinfra's global data (a role's own wheelhouse, for instance).
    """
    progress = progress or SilentProgress()
    started = time.monotonic()
    global_data = {**make_global_data(estate, wheelhouse), **(extra_data or {})}
    inventory = make_pyinfra_inventory(estate, hosts, global_data)
    config = Config(
        CONNECT_TIMEOUT=CONNECT_TIMEOUT_SECONDS,
        FAIL_PERCENT=0 if fail_fast else None,
        DIFF=True,
    )
    # Planning runs every operation's facts once more; only a dry run needs the plan (a real
    # run reports what changed from the execution itself), as `pyinfra -y` does.
    state = State(inventory, config, check_for_changes=dry_run)
    # Errors inside pyinfra's greenlets are reported per host below, not as raw tracebacks.
    gevent.get_hub().exception_stream = None
    tracker = _Tracker(progress)
    state.add_callback_handler(tracker)
    unreachable: set[str] = set()
    prepare_errors: dict[str, str] = {}
    aborted = ""
    with _collect_logs() as logs:
        try:
            state.set_stage(StateStage.Connect)
            progress.phase("connect", len(hosts))
            try:
                connect_all(state)
            except PyinfraError as error:
                aborted = str(error)
            unreachable = {host.name for host in state.failed_hosts}
            if not aborted:
                state.set_stage(StateStage.Prepare)
                progress.phase("prepare", len(state.inventory.get_active_hosts()))
                failed = _prepare(state, deploy)
                prepare_errors = {host.name: error for host, error in failed.items()}
                if failed:
                    state.fail_hosts(set(failed))
                _fix_op_order(state)
            if not aborted and not dry_run and state.inventory.get_active_hosts():
                config.DIFF = False  # diffs were collected while preparing
                state.set_stage(StateStage.Execute)
                progress.phase("execute", len(state.inventory.get_active_hosts()))
                run_ops(state, serial=serial)
        except PyinfraError as error:
            aborted = str(error)
        finally:
            state.set_stage(StateStage.Disconnect)
            disconnect_all(state)
    outcomes = [
        _outcome(state, host, tracker, unreachable, prepare_errors, logs, dry_run)
        for host in inventory
    ]
    slowest = sorted(tracker.operation_seconds.items(), key=lambda item: -item[1])
    return DeployResult(
        hosts=outcomes,
        dry_run=dry_run,
        seconds=time.monotonic() - started,
        slowest_operations=slowest[:SLOWEST_REPORTED],
        aborted=_clean(aborted) if aborted and aborted != "No hosts remaining!" else "",
    )


def _outcome(
    state: State,
    host: Host,
    tracker: _Tracker,
    unreachable: set[str],
    prepare_errors: dict[str, str],
    logs: _DiffCollector,
    dry_run: bool,
) -> HostOutcome:
    name = host.name
    seconds = tracker.finished.get(name, time.monotonic()) - tracker.started.get(name, 0.0)
    if name in unreachable:
        return HostOutcome(
            name=name,
            status=HostStatus.UNREACHABLE,
            seconds=max(seconds, 0.0),
            error=tracker.errors.get(name, "could not connect"),
        )
    changed: list[str] = []
    conditional: list[str] = []
    ok = failed = 0
    for op_hash in state.get_op_order():
        data: Any = state.ops.get(host, {}).get(op_hash)
        if data is None:
            continue
        meta = data.operation_meta
        label = _operation_label(state, op_hash)
        if dry_run:
            # set while preparing; the public will_change would re-run the generator
            if meta._maybe_is_change and data.global_arguments.get("_if"):
                conditional.append(label)  # runs only if what it depends on changes
            elif meta._maybe_is_change:
                changed.append(label)
            else:
                ok += 1
        elif not meta.is_complete():
            continue
        elif meta.did_error():
            failed += 1
        elif meta.did_change():
            changed.append(label)
        else:
            ok += 1
    error = prepare_errors.get(name) or tracker.errors.get(name, "")
    status = (
        HostStatus.FAILED
        if (failed or error)
        else (HostStatus.CHANGED if changed else HostStatus.OK)
    )
    return HostOutcome(
        name=name,
        status=status,
        ok=ok,
        changed=changed,
        conditional=conditional,
        failed=failed,
        seconds=max(seconds, 0.0),
        error=error,
        diff=logs.diffs.get(name, []),
        warnings=logs.warnings.get(name, []),
    )
