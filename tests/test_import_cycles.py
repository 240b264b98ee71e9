"""No import cycle in ``egov``: the modules import each other one way (STYLE.md, habit 1).

The first test counts module-level imports only, those that run when the module is
imported (at top level, or in a top-level ``try``/``if``): a cycle of those breaks on
import order. The second counts the imports inside functions too (egov's CLI keeps its
imports lazy that way): a lazy cycle runs, but it hides one the layout should not have, as
the drill catalog's did (``catalog`` importing the actions that imported ``catalog``).
Imports under ``if TYPE_CHECKING:`` never run and count in neither.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import egov

PACKAGE_DIRECTORY = Path(egov.__file__).parent


def list_modules(directory: Path = PACKAGE_DIRECTORY) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    modules = {}
    for path in sorted(directory.rglob("*.py")):
        parts = path.relative_to(directory.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _runtime_imports(
    statements: list[ast.stmt], *, lazy: bool = False
) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run on import: top level, and inside top-level ``try``/``if`` blocks
    (but not ``if TYPE_CHECKING:``); with ``lazy``, those in functions and classes too."""
    for statement in statements:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement
        elif lazy and isinstance(
            statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.With
        ):
            yield from _runtime_imports(statement.body, lazy=lazy)
        elif isinstance(statement, ast.If):
            test = statement.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
            if name != "TYPE_CHECKING":
                yield from _runtime_imports(statement.body, lazy=lazy)
            yield from _runtime_imports(statement.orelse, lazy=lazy)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from _runtime_imports(block, lazy=lazy)
            for handler in statement.handlers:
                yield from _runtime_imports(handler.body, lazy=lazy)
        elif lazy and isinstance(statement, ast.For | ast.While):
            yield from _runtime_imports([*statement.body, *statement.orelse], lazy=lazy)


def get_imports(name: str, path: Path, modules: dict[str, Path], *, lazy: bool = False) -> set[str]:
    """The ``egov`` modules ``name`` imports at module level, or anywhere with ``lazy``
    (``from egov.a import b``
    imports ``egov.a.b`` when that is a module, else ``egov.a``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text("utf-8"))
    for statement in _runtime_imports(tree.body, lazy=lazy):
        if isinstance(statement, ast.Import):
            found.update(alias.name for alias in statement.names)
            continue
        base = statement.module or ""
        if statement.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - statement.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in statement.names:
            submodule = f"{base}.{alias.name}"
            found.add(submodule if submodule in modules else base)
    return {imported for imported in found if imported in modules and imported != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as the modules along it, first repeated last ([]: none)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def make_import_graph(*, lazy: bool = False) -> dict[str, set[str]]:
    """Each ``egov`` module and the ``egov`` modules it imports."""
    modules = list_modules()
    return {name: get_imports(name, path, modules, lazy=lazy) for name, path in modules.items()}


def test_egov_has_no_import_cycle_at_module_level() -> None:
    cycle = find_cycle(make_import_graph())
    assert cycle == [], "import cycle: " + " → ".join(cycle)


def test_egov_has_no_import_cycle_through_lazy_imports_either() -> None:
    cycle = find_cycle(make_import_graph(lazy=True))
    assert cycle == [], "import cycle (function-level imports counted): " + " → ".join(cycle)


def test_the_cycle_finder_finds_a_cycle_it_is_given() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_a_module_level_import_counts_and_a_lazy_one_does_not(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "one.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from pkg import two\n"
        "if TYPE_CHECKING:\n    from pkg import three\n"
        "def later():\n    from pkg import four\n"
    )
    for name in ("two", "three", "four"):
        (package / f"{name}.py").write_text("")
    modules = list_modules(package)
    assert get_imports("pkg.one", package / "one.py", modules) == {"pkg.two"}
    assert get_imports("pkg.one", package / "one.py", modules, lazy=True) == {"pkg.two", "pkg.four"}
