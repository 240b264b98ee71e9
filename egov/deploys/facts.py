"""Facts of our own: a command plus a pure ``process`` of its output (pyinfra's pattern)."""

from __future__ import annotations

from pyinfra.api import FactBase


class ContainerKind(FactBase[str]):
    """The container technology the host runs in (``systemd-nspawn``), or "" on a machine."""

    def command(self) -> str:
        return "systemd-detect-virt --container || true"

    def process(self, output: list[str]) -> str:
        value = output[0].strip() if output else ""
        return "" if value == "none" else value


class FileMode(FactBase[str | None]):
    """The octal mode of a path with its special bits (``2750``), or None when it is absent."""

    def command(self, path: str) -> str:
        return f"stat -c %a {path} 2>/dev/null || true"

    def process(self, output: list[str]) -> str | None:
        value = output[0].strip() if output else ""
        return value or None


def is_container() -> bool:
    """Whether the current host is a container (inside a deploy)."""
    from pyinfra import host

    return bool(host.get_fact(ContainerKind))
