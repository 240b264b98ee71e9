"""Helpers of the role tests that run real servers on loopback or read site.py."""

from __future__ import annotations

import ast
import io
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.api.deploy import add_deploy
from pyinfra.api.state import StateStage

from egov.deploys.context import make_global_data
from egov.inventory.model import Estate

SITE_MODULE = Path(__file__).resolve().parents[2] / "egov" / "deploys" / "site.py"


def get_free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_seconds: float = 20.0) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def get_site_role_calls() -> set[str]:
    """``module.function`` of every call in site.py's ``apply_roles``, read without importing
    it (site.py imports every role, some of which may be mid-change elsewhere)."""
    tree = ast.parse(SITE_MODULE.read_text(encoding="utf-8"))
    function = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "apply_roles"
    )
    return {
        f"{node.func.value.id}.{node.func.attr}"
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
    }


def plan_deploy(
    estate: Estate, selector: str, deploy: Callable[[], None], data: dict[str, Any] | None = None
) -> tuple[list[str], str]:
    """Prepare ``deploy`` for one host of ``estate`` on pyinfra's ``@fake`` connector.

    Returns the planned operation names and everything pyinfra logged (diffs included), so a
    test can check the plan and that no secret reached the logs. Every fact is empty: the
    host looks pristine.
    """
    site, _, name = selector.partition("/")
    host_data = {
        "egov_site": site,
        "egov_host": name,
        "fake_delay": 0,
        "fake_delay_jitter": 0,
        "fake_responses": {"uname -s": "Linux", "command -v useradd": "/usr/sbin/useradd"},
        **(data or {}),
    }
    inventory = Inventory(([(f"@fake/{name}", host_data)], make_global_data(estate, None)))
    state = State(inventory, Config(DIFF=True))
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    logger = logging.getLogger("pyinfra")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        state.set_stage(StateStage.Connect)
        connect_all(state)
        state.set_stage(StateStage.Prepare)
        add_deploy(state, deploy)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    names = [" / ".join(sorted(state.get_op_meta(op).names)) for op in state.get_op_order()]
    return names, logs.getvalue()
