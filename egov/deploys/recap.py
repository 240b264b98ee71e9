"""What a deploy did, per host: the recap table and the JSON report are rendered from this."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from egov.errors import ExitCode


class HostStatus(StrEnum):
    """The outcome of one host."""

    OK = "ok"
    CHANGED = "changed"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class HostOutcome:
    """One host's result: operations unchanged, changed (by name), failed; time; error.

    In a dry run ``changed`` lists what will change and ``conditional`` what runs only if
    something it depends on changes (a restart after a configuration file, say).
    """

    name: str
    status: HostStatus
    ok: int = 0
    changed: list[str] = field(default_factory=list)
    conditional: list[str] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0
    error: str = ""
    diff: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeployResult:
    """The whole run."""

    hosts: list[HostOutcome]
    dry_run: bool
    seconds: float
    aborted: str = ""
    slowest_operations: list[tuple[str, float]] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """Operations changed (or, in a dry run, that would change) over all hosts."""
        return sum(len(host.changed) for host in self.hosts)

    @property
    def failed_hosts(self) -> list[str]:
        """Hosts that failed or could not be reached."""
        return [
            host.name
            for host in self.hosts
            if host.status in (HostStatus.FAILED, HostStatus.UNREACHABLE)
        ]

    def exit_code(self) -> ExitCode:
        """1 if any host failed; for a dry run, 3 if changes are pending; else 0."""
        if self.failed_hosts or self.aborted:
            return ExitCode.FAILED
        if self.dry_run and self.changes:
            return ExitCode.CHANGES_PENDING
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "changes": self.changes,
            "failed_hosts": self.failed_hosts,
            "aborted": self.aborted,
            "exit_code": int(self.exit_code()),
            "slowest_operations": [
                {"operation": name, "seconds": round(seconds, 2)}
                for name, seconds in self.slowest_operations
            ],
            "hosts": [
                {**asdict(host), "status": host.status.value, "seconds": round(host.seconds, 3)}
                for host in self.hosts
            ],
        }
