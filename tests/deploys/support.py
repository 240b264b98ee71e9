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

from pyinfra.api import Config, FileUploadCommand, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.api.deploy import add_deploy
from pyinfra.api.state import StateStage
from pyinfra.context import ctx_host, ctx_state

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
    estate: Estate,
    selector: str,
    deploy: Callable[[], None],
    data: dict[str, Any] | None = None,
    commands: dict[str, list[str]] | None = None,
) -> tuple[list[str], str]:
    """Prepare ``deploy`` for one host of ``estate`` on pyinfra's ``@fake`` connector.

    Returns the planned operation names and everything pyinfra logged (diffs included), so a
    test can check the plan and that no secret reached the logs. Every fact is empty: the
    host looks pristine. Given ``commands``, fills it with each operation's commands by name
    (uploads as ``upload DEST``), as the pristine host would run them.
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
    if commands is not None:
        (host,) = inventory
        with ctx_state.use(state), ctx_host.use(host):
            for name, op in zip(names, state.get_op_order(), strict=True):
                generated = state.get_op_data_for_host(host, op).command_generator()
                commands[name] = [_shown(command) for command in generated]
    return names, logs.getvalue()


def _shown(command: object) -> str:
    if isinstance(command, FileUploadCommand):
        return f"upload {command.dest}"
    return str(command)


def with_alerting_secrets(
    estate: Estate, environment: dict[str, str], prefix: str = "EGOV_TEST_ALERTING"
) -> Estate:
    """``estate`` with each secret reference of its ``alerting:`` section turned into an
    ``env:`` reference, whose value this puts in ``environment`` (give it
    ``monkeypatch.setenv``'s dict, or ``os.environ`` under monkeypatch): a recognisable value
    per secret (a URL for a webhook's ``url``), so a test can look for it in files and logs.
    """
    counter = iter(range(1000))

    def replace(item: Any, key: str = "") -> Any:
        if isinstance(item, dict):
            return {name: replace(child, name) for name, child in item.items()}
        if isinstance(item, list):
            return [replace(child, key) for child in item]
        if isinstance(item, str) and item.startswith(("file:/", "env:")):
            variable = f"{prefix}_{next(counter)}"
            value = f"alerting-secret-{variable.lower()}-0123456789"
            environment[variable] = f"https://hooks.example/{value}" if key == "url" else value
            return f"env:{variable}"
        return item

    data = replace(estate.alerting.model_dump(mode="json"))
    alerting = type(estate.alerting).model_validate(data)
    return estate.model_copy(update={"alerting": alerting})
