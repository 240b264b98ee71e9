"""How long lab work reports progress without the lab importing a user interface.

``egov/cli.py`` passes an object with these methods (backed by rich); tests and library callers
pass ``NoProgress``.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives what the lab is doing; must not raise."""

    def step(self, what: str) -> None:
        """A new phase starts: ``"building image 3f2a…"``, ``"starting 14 hosts"``."""

    def advance(self, done: int, total: int) -> None:
        """``done`` of ``total`` items of the current phase are finished."""


class NoProgress:
    """A Progress that discards everything."""

    def step(self, what: str) -> None:
        """Ignore the step."""

    def advance(self, done: int, total: int) -> None:
        """Ignore the count."""


class RecordingProgress:
    """A Progress that keeps every step, for tests and benchmarks."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def step(self, what: str) -> None:
        """Remember the step."""
        self.steps.append(what)

    def advance(self, done: int, total: int) -> None:
        """Ignore the count."""
