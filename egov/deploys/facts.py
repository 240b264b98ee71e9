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


def is_container() -> bool:
    """Whether the current host is a container (inside a deploy)."""
    from pyinfra import host

    return bool(host.get_fact(ContainerKind))
