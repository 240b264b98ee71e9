"""Running one step, probe or rollback: timeouts, retries, polling probes, masked output.

A probe in the method is polled until its tolerance holds or its timeout passes (waiting for
the recovery site to answer is a probe with a timeout). An action is retried ``retries``
times. Every text that reaches the journal goes through the Masker first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from egov.drills.catalog import get_catalog
from egov.drills.context import DrillContext
from egov.drills.scenario import Probe, Rollback, Step, Tolerance
from egov.errors import EgovError

OUTPUT_CHARS = 2000
MIN_SECRET_CHARS = 6
PROBE_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Masker:
    """Replaces every known secret value by ``***`` (a last line of defence)."""

    secrets: tuple[str, ...]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text[-OUTPUT_CHARS:]


def make_masker(estate: Any) -> Masker:
    """A Masker knowing every secret of the inventory that can be read here."""
    from egov.secrets import list_secret_references, read_secret

    values = []
    for reference in list_secret_references(estate.model_dump(mode="json")):
        try:
            value = read_secret(reference)
        except EgovError:
            continue
        if len(value) >= MIN_SECRET_CHARS:
            values.append(value)
    return Masker(tuple(values))


@dataclass
class Outcome:
    """What running a step gave."""

    status: str  # succeeded | failed | timed-out
    attempts: int
    output: str = ""
    error: str = ""
    value: Any = None


def call_with_timeout(function: Callable[[], Any], timeout: float) -> Any:
    """Run ``function`` in a worker thread; TimeoutError after ``timeout`` seconds.

    The worker cannot be killed: every remote command has its own timeout, so it ends soon
    after; its result is ignored.
    """
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = function()
        except BaseException as error:
            result["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"did not finish within {timeout:g} s")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def evaluate_probe(context: DrillContext, probe: Probe) -> tuple[bool, Any, str]:
    """Run a steady-state probe once: (tolerance met, value, detail)."""
    entry = get_catalog()[probe.probe]
    try:
        arguments = entry.arguments.model_validate(probe.with_)
        value = call_with_timeout(lambda: entry.function(context, arguments), 120)
    except (EgovError, TimeoutError, OSError) as error:
        return False, None, str(error)
    return probe.tolerance.accepts(value), value, ""


def run_step(context: DrillContext, step: Step, mask: Masker) -> Outcome:
    """Run an action or poll a probe step under its timeout and retries."""
    entry = get_catalog()[step.action or step.probe or ""]
    if entry.lab_only and context.lab is None and step.outside_lab is not None:
        return _ask(context, step.outside_lab)
    arguments = entry.arguments.model_validate(step.with_)
    timeout = step.timeout.total_seconds()
    if step.probe is not None:
        return _poll(context, entry.function, arguments, step.tolerance, timeout, mask)
    attempts = 0
    error_text = ""
    while attempts <= step.retries:
        attempts += 1
        try:
            output = call_with_timeout(lambda: entry.function(context, arguments), timeout)
        except TimeoutError as error:
            return Outcome("timed-out", attempts, error=mask(str(error)))
        except (EgovError, OSError) as error:
            error_text = mask(_describe(error))
            context.progress(f"{step.name}: attempt {attempts} failed: {error_text}")
            if attempts <= step.retries:
                time.sleep(step.retry_delay.total_seconds())
            continue
        return Outcome("succeeded", attempts, output=mask(str(output or "")))
    return Outcome("failed", attempts, error=error_text)


def run_rollback(context: DrillContext, rollback: Rollback, mask: Masker) -> Outcome:
    """Run a rollback action once (rollbacks are idempotent; recover may run them again)."""
    entry = get_catalog()[rollback.action]
    if entry.lab_only and context.lab is None and rollback.outside_lab is not None:
        return _ask(context, rollback.outside_lab)
    arguments = entry.arguments.model_validate(rollback.with_)
    try:
        output = call_with_timeout(
            lambda: entry.function(context, arguments), rollback.timeout.total_seconds()
        )
    except TimeoutError as error:
        return Outcome("timed-out", 1, error=mask(str(error)))
    except (EgovError, OSError) as error:
        return Outcome("failed", 1, error=mask(_describe(error)))
    return Outcome("succeeded", 1, output=mask(str(output or "")))


def _poll(
    context: DrillContext,
    function: Callable[[DrillContext, Any], Any],
    arguments: Any,
    tolerance: Tolerance | None,
    timeout: float,
    mask: Masker,
) -> Outcome:
    wanted = tolerance or Tolerance(equals=True)
    deadline = time.monotonic() + timeout
    attempts = 0
    last_value: Any = None
    last_error = ""
    while True:
        attempts += 1
        remaining = max(1.0, deadline - time.monotonic())
        try:
            last_value = call_with_timeout(lambda: function(context, arguments), remaining)
            last_error = ""
            if wanted.accepts(last_value):
                return Outcome(
                    "succeeded", attempts, output=mask(repr(last_value)), value=last_value
                )
        except TimeoutError:
            pass
        except (EgovError, OSError) as error:
            last_error = mask(_describe(error))
        if time.monotonic() >= deadline:
            detail = last_error or f"last value {last_value!r}, wanted {wanted.describe()}"
            return Outcome("timed-out", attempts, error=detail, value=last_value)
        time.sleep(min(PROBE_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _ask(context: DrillContext, instruction: str) -> Outcome:
    """Outside the lab a fault is a person's act: ask them to do it and confirm."""
    if context.confirm(instruction):
        return Outcome("succeeded", 1, output="done by hand, confirmed by the operator")
    return Outcome("failed", 1, error="the operator did not confirm")


def _describe(error: BaseException) -> str:
    hint = getattr(error, "hint", "")
    return f"{error} ({hint})" if hint else str(error)
