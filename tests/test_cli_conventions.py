"""The CLI's shared conventions hold on every command: one ``-i/--inventory`` option (with
``$EGOV_INVENTORY``) wherever the inventory is read, ``--limit``/``--exclude`` wherever a
command acts on a chosen set of hosts, and no helper in ``egov/cli/`` returning ``Any``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from egov.cli import app, run
from egov.inventory.loader import INVENTORY_ENVIRONMENT_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "egov" / "cli"

# commands that read no inventory (they read the agent's configuration, the lab's image cache,
# the model's assumptions, or nothing); every other command must take -i/--inventory
READS_NO_INVENTORY = {
    "inventory schema",
    "lab image build",
    "lab image status",
    "lab image prune",
    "backup plan",  # reads assumptions only, for now: may take --inventory without failing this
}
# commands that act on a set of hosts chosen by the operator
ACTS_ON_HOSTS = {"deploy", "backup run"}


# typer 0.29 carries its own click (typer._click): its classes are reached through typer
Command = Any


def _commands(group: Command, prefix: str = "") -> Iterator[tuple[str, Command]]:
    for name, command in group.commands.items():
        path = f"{prefix} {name}".strip()
        if hasattr(command, "commands"):  # a group
            yield from _commands(command, path)
        else:
            yield path, command


def _option(command: Command, name: str) -> Command | None:
    for parameter in command.params:
        if parameter.param_type_name == "option" and parameter.name == name:
            return parameter
    return None


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _signature(option: Command) -> tuple[object, ...]:
    return (tuple(option.opts), option.envvar, option.help, option.multiple, option.default)


def test_the_command_tree_is_walked() -> None:
    assert {"deploy", "backup run", "lab fault power-off", "agent backup"} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_reading_the_inventory_takes_the_one_inventory_option(path: str) -> None:
    option = _option(COMMANDS[path], "inventory")
    if option is None:
        assert path.startswith("agent ") or path in READS_NO_INVENTORY, (
            f"egov {path} takes no -i/--inventory: give it InventoryOption from egov/cli/app.py"
        )
        return
    assert _signature(option) == _signature(_option(COMMANDS["deploy"], "inventory"))
    assert set(option.opts) == {"--inventory", "-i"}
    assert option.envvar == INVENTORY_ENVIRONMENT_VARIABLE


@pytest.mark.parametrize("path", sorted(ACTS_ON_HOSTS))
def test_every_command_acting_on_hosts_takes_limit_and_exclude(path: str) -> None:
    for name in ("limit", "exclude"):
        option = _option(COMMANDS[path], name)
        assert option is not None, f"egov {path} takes no --{name}"
        assert _signature(option) == _signature(_option(COMMANDS["deploy"], name))
        assert option.multiple


def test_the_inventory_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    songxanh = ROOT / "tests" / "inventory" / "data" / "songxanh.yaml"
    monkeypatch.setenv(INVENTORY_ENVIRONMENT_VARIABLE, str(songxanh))
    assert run(["inventory", "validate"]) == 0
    assert f"{songxanh}: valid" in capsys.readouterr().out
    assert run(["backup", "run", "--dry-run", "--host", "dc-north/pg-a"]) == 0
    assert "on dc-north/pg-a" in capsys.readouterr().out


def _any_in(node: ast.expr) -> bool:
    """True when ``node``, a return annotation, gives the caller an Any: ``Any`` itself, or as
    a member of a tuple or a union (``tuple[Any, str]``, ``Any | None``). ``dict[str, Any]``
    is a typed container of JSON values, not an untyped result."""
    if isinstance(node, ast.Name):
        return node.id == "Any"
    if isinstance(node, ast.Attribute):
        return node.attr == "Any"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted annotation
        return _any_in(ast.parse(node.value, mode="eval").body)
    if isinstance(node, ast.BinOp):  # X | Y
        return _any_in(node.left) or _any_in(node.right)
    if isinstance(node, ast.Subscript):
        outer = node.value.id if isinstance(node.value, ast.Name) else ""
        members = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer in {"tuple", "Tuple", "Optional", "Union"}:
            return any(_any_in(member) for member in members)
        if outer == "Callable" and isinstance(node.slice, ast.Tuple):
            return _any_in(node.slice.elts[-1])
    return False


def find_any_returns(source: str, filename: str) -> list[str]:
    """``file:line name`` of each function in ``source`` annotated to return Any."""
    return [
        f"{filename}:{node.lineno} {node.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.returns is not None
        and _any_in(node.returns)
    ]


def test_no_function_in_egov_cli_returns_any() -> None:
    found = [
        problem
        for path in sorted(CLI.glob("*.py"))
        for problem in find_any_returns(path.read_text(encoding="utf-8"), str(path))
    ]
    assert found == [], "type these (TYPE_CHECKING imports keep the runtime imports lazy)"


@pytest.mark.parametrize(
    "returns",
    [
        "Any",
        "typing.Any",
        "'Any'",
        "tuple[Any, Any]",
        "tuple[Any, str | None]",
        "Any | None",
        "Optional[Any]",
        "Callable[..., Any]",
    ],
)
def test_the_any_check_catches_an_untyped_helper(returns: str) -> None:
    source = f"def _lab_spec(inventory: Path | None) -> {returns}:\n    return None\n"
    assert find_any_returns(source, "cli.py") == ["cli.py:1 _lab_spec"]


@pytest.mark.parametrize("returns", ["None", "dict[str, Any]", "list[dict[str, Any]]", "Estate"])
def test_the_any_check_leaves_typed_results_alone(returns: str) -> None:
    assert find_any_returns(f"def f() -> {returns}:\n    pass\n", "cli.py") == []
