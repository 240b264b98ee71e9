"""The lab inventory and fake catalog entries for the drill runner's tests.

The fake actions and probes are registered in the real catalog (the loader checks scenarios
against it) under names starting ``t-``, and removed again after each test. Nothing here
reaches a host: the lab inventory is only read (``make_lab_spec`` is pure).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from egov.drills.catalog import CATALOG, Arguments, get_catalog, register
from egov.drills.context import DrillContext
from egov.drills.signing import SIGNING_KEY_ENVIRONMENT_VARIABLE
from egov.errors import DrillError
from tests.drills.support import FakeCatalog

FAKE_NAMES = ("t-record", "t-fail", "t-interrupt", "t-barrier", "t-value", "t-at-site")


class Label(Arguments):
    label: str = ""


class AtSite(Arguments):
    label: str = ""
    site: str = ""


class Value(Arguments):
    value: bool | int | float | str | None = True


@pytest.fixture(autouse=True)
def drill_signing_key(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every drill test signs with its own key in a temporary place, never /etc/egov."""
    path = tmp_path_factory.mktemp("keys") / "drill-signing-test.key"
    monkeypatch.setenv(SIGNING_KEY_ENVIRONMENT_VARIABLE, str(path))
    return path


@pytest.fixture
def fake_catalog() -> Iterator[FakeCatalog]:
    get_catalog()  # the real entries register on import: do it before ours
    fake = FakeCatalog()

    @register("action", "t-record", Label)
    def record(context: DrillContext, arguments: Label) -> str:
        """Remember the label."""
        fake.calls.append(arguments.label)
        return f"did {arguments.label}"

    @register("action", "t-fail", Label)
    def fail(context: DrillContext, arguments: Label) -> None:
        """Remember the label, then fail."""
        fake.calls.append(arguments.label)
        raise DrillError(f"{arguments.label} broke", "a test failure")

    @register("action", "t-at-site", AtSite)
    def at_site(context: DrillContext, arguments: AtSite) -> str:
        """Remember the label; act on ``site`` (what a drill silences alerts for)."""
        fake.calls.append(arguments.label)
        return f"did {arguments.label} at {arguments.site}"

    @register("action", "t-interrupt", Label)
    def interrupt(context: DrillContext, arguments: Label) -> None:
        """Remember the label, then act as if the operator pressed Ctrl-C."""
        fake.calls.append(arguments.label)
        raise KeyboardInterrupt

    @register("action", "t-barrier", Label)
    def meet(context: DrillContext, arguments: Label) -> str:
        """Wait for the other step of the parallel group."""
        try:
            fake.barrier.wait()
        except threading.BrokenBarrierError:
            raise DrillError(f"{arguments.label}: the other step never ran alongside") from None
        fake.calls.append(arguments.label)
        return "met"

    @register("probe", "t-value", Value)
    def value(context: DrillContext, arguments: Value) -> Any:
        """Return the value it is given."""
        return arguments.value

    try:
        yield fake
    finally:
        for name in FAKE_NAMES:
            CATALOG.pop(name, None)


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """A umask of 0, so a test sees the modes egov sets itself, not the caller's mask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)
