"""Small modules, one concept each: none in ``egov/`` grows past 400 lines unnoticed.

A module that needs more is two concepts; split it along them (as ``backup/plan.py`` became
``night.py``, ``proposals.py`` and ``plan.py``) rather than raise the bound.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "egov"
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert len(sizes) > 100  # the package was found
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
