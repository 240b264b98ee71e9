"""Suite-wide rules, and the estates tests of several packages read.

In CI (``CI=true``) a skipped test is a failure: every prerequisite of the suite (PostgreSQL,
htpasswd, promtool, root, the lab) is something ``make test`` installs or has, so a skip there
means a missing install step, and a run that executed no lab test must not pass. On a
developer's machine a missing tool still skips, with the reason.

``lab_estate`` and ``songxanh_estate`` are loaded once per session and shared by every
package's tests (the pki, deploy and drill tests use them); ``Estate`` is a frozen model,
and tests only read it.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

from egov.inventory import load_estate
from egov.inventory.model import Estate

REPOSITORY = Path(__file__).resolve().parents[1]
LAB_INVENTORY = REPOSITORY / "inventory" / "lab.yaml"
#: a fictional province unlike Cà Mau (other names, counts and layout), for tests only
SONGXANH_INVENTORY = REPOSITORY / "tests" / "inventory" / "data" / "songxanh.yaml"


def is_ci() -> bool:
    """True when running under CI, which sets ``CI=true`` (any value but empty/0/false)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def skip_reason(report: pytest.TestReport) -> str:
    """The reason pytest records for a skipped report (its longrepr is (file, line, reason))."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and is_ci() and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped in CI, which counts as a failure: {skip_reason(report)} — "
            "make test must install or provide this prerequisite"
        )


@pytest.fixture(scope="session")
def lab_estate() -> Estate:
    """The lab's estate (``inventory/lab.yaml``)."""
    return load_estate(LAB_INVENTORY).estate


@pytest.fixture(scope="session")
def songxanh_estate() -> Estate:
    """The fictional second province's estate (``tests/inventory/data/songxanh.yaml``)."""
    return load_estate(SONGXANH_INVENTORY).estate


pytest_plugins = ["pytester"]
