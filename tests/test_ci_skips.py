"""In CI a skip is a failure (tests/conftest.py); elsewhere it stays a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

RULES = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")
INNER = """
import pytest

def test_needs_a_tool():
    pytest.skip("htpasswd is not installed")

@pytest.mark.skipif(True, reason="no PostgreSQL")
def test_needs_postgres():
    pass

@pytest.mark.xfail(reason="known")
def test_known_failure():
    assert False
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str) -> pytest.RunResult:
    pytester.makeconftest(RULES.replace('pytest_plugins = ["pytester"]', ""))
    pytester.makepyfile(INNER)
    monkeypatch.setenv("CI", ci)
    return pytester.runpytest_inprocess("-ra")


def test_a_skip_in_ci_fails_the_run_and_says_why(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(pytester, monkeypatch, "true")
    result.assert_outcomes(failed=1, errors=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped in CI, which counts as a failure: htpasswd*"])
    assert result.ret != 0


def test_outside_ci_a_missing_tool_still_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(pytester, monkeypatch, "").assert_outcomes(skipped=2, xfailed=1)
