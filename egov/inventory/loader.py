"""Loading an inventory: YAML → validated Estate, every problem as ``file:line:column: …``.

This is the only way the rest of egov gets an Estate, so every command sees the same errors.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from egov.errors import InventoryError
from egov.inventory.alerting import ALERT_NAME_PATTERN, EMAIL_PATTERN, HTTP_URL_PATTERN
from egov.inventory.backup import TIME_OF_DAY_PATTERN
from egov.inventory.checks import check_estate
from egov.inventory.fields import NAME_PATTERN
from egov.inventory.findings import Finding, Severity
from egov.inventory.model import Estate
from egov.inventory.yamlsource import PathKey, SourceError, SourceMap, read_yaml

INVENTORY_ENVIRONMENT_VARIABLE = "EGOV_INVENTORY"
DEFAULT_INVENTORY = Path("inventory/lab.yaml")


@dataclass(frozen=True)
class LoadedEstate:
    """A validated estate with where it came from and what deserves attention."""

    estate: Estate
    path: Path
    source_map: SourceMap
    warnings: tuple[str, ...]


def resolve_inventory_path(option: Path | None) -> Path:
    """The inventory named by ``--inventory``, else ``$EGOV_INVENTORY``, else the lab's."""
    if option is not None:
        return option
    from_environment = os.environ.get(INVENTORY_ENVIRONMENT_VARIABLE)
    return Path(from_environment) if from_environment else DEFAULT_INVENTORY


def load_estate(path: Path) -> LoadedEstate:
    """Read, validate and cross-check the inventory at ``path``.

    Raise InventoryError listing every problem as ``file:line:column: path: message`` (with
    the fix after ' — '); warnings come back in ``LoadedEstate.warnings`` in the same form.
    """
    try:
        data, source_map = read_yaml(path)
    except SourceError as error:
        problem = error.problem
        raise InventoryError(
            [
                format_problem(
                    str(path),
                    problem.position.line,
                    problem.position.column,
                    (),
                    problem.message,
                    hint=problem.hint,
                )
            ],
            hint=_HINT,
        ) from None
    if data is None:
        raise InventoryError(
            [f"{path}:1:1: the inventory is empty — start from inventory/camau.yaml"], hint=_HINT
        )
    if not isinstance(data, dict):
        raise InventoryError(
            [
                f"{path}:1:1: the inventory must be a mapping of keys (name:, sites:, …), "
                f"not a {_kind(data)}"
            ],
            hint=_HINT,
        )
    try:
        estate = Estate.model_validate(data)
    except ValidationError as error:
        problems = [
            format_validation_error(error_detail, data, source_map)
            for error_detail in error.errors()
        ]
        raise InventoryError(_unique(problems), hint=_HINT) from None
    findings = check_estate(estate)
    errors = [
        _format_finding(finding, source_map)
        for finding in findings
        if finding.severity is Severity.ERROR
    ]
    if errors:
        raise InventoryError(errors, hint=_HINT)
    warnings = tuple(
        _format_finding(f, source_map) for f in findings if f.severity is Severity.WARNING
    )
    return LoadedEstate(estate=estate, path=path, source_map=source_map, warnings=warnings)


_HINT = "fix the inventory and run `egov inventory validate` again; nothing was touched"


def format_problem(
    file: str, line: int, column: int, path: PathKey, message: str, *, hint: str = ""
) -> str:
    where = f"{_dotted(path)}: " if path else ""
    fix = f" — {hint}" if hint else ""
    return f"{file}:{line}:{column}: {where}{message}{fix}"


def _format_finding(finding: Finding, source_map: SourceMap) -> str:
    position = source_map.locate(finding.path)
    return format_problem(
        source_map.file,
        position.line,
        position.column,
        finding.path,
        finding.message,
        hint=finding.hint,
    )


def format_validation_error(
    detail: ErrorDetails, data: Any, source_map: SourceMap, root: type[BaseModel] = Estate
) -> str:
    """One pydantic error of ``root`` read from ``data`` as ``file:line:column: path: … — fix``."""
    is_key = detail["loc"][-1:] == ("[key]",)
    path = _data_path(detail["loc"][:-1] if is_key else detail["loc"], data)
    position = source_map.locate(path)
    message, hint = _explain(detail, path, root)
    if is_key:
        message = f"name {path[-1]!r} has the wrong form" if path else message
    return format_problem(source_map.file, position.line, position.column, path, message, hint=hint)


def _data_path(loc: tuple[int | str, ...], data: Any) -> PathKey:
    """Keep the parts of a pydantic location that exist in the data (drops union tags)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and str(part) in current:
            current = current[str(part)]
            path.append(str(part))
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
            path.append(part)
        elif (
            isinstance(current, dict)
            and isinstance(part, str)
            and not part.startswith(("function-", "tagged-union"))
        ):
            path.append(part)  # a missing key: point at its parent, name it in the path
            break
    return tuple(path)


def _explain(detail: ErrorDetails, path: PathKey, root: type[BaseModel]) -> tuple[str, str]:
    """One sentence for a pydantic error, plus a fix. Never repeats the input for secrets."""
    kind = detail["type"]
    message = detail["msg"].removeprefix("Value error, ")
    key = str(path[-1]) if path else ""
    if kind == "extra_forbidden":
        allowed = _allowed_keys(detail["loc"][:-1], root)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed here: {', '.join(allowed)}"
        return f"unknown key {key!r}", hint
    if kind == "missing":
        return f"missing required key {key!r}", f"add `{key}:`"
    if kind == "enum":
        expected = (detail.get("ctx") or {}).get("expected", "")
        return f"{_shown(detail, path)} is not allowed", f"use one of {expected}"
    if kind == "string_pattern_mismatch":
        pattern = (detail.get("ctx") or {}).get("pattern", "")
        return f"{_shown(detail, path)} has the wrong form", _PATTERN_HINTS.get(
            pattern, f"it must match {pattern}"
        )
    if kind in {
        "string_type",
        "int_type",
        "int_parsing",
        "float_type",
        "float_parsing",
        "dict_type",
        "list_type",
        "bool_type",
        "bool_parsing",
        "model_type",
    }:
        return f"{message[0].lower()}{message[1:]}, got {_shown(detail, path)}", ""
    return message[0].lower() + message[1:], ""


_PATTERN_HINTS = {
    NAME_PATTERN: "names use lowercase letters, digits and dashes, at most 32, e.g. db-01",
    EMAIL_PATTERN: "write an e-mail address, e.g. vanhanh@camau.example",
    ALERT_NAME_PATTERN: "write an alert's name as docs/runbooks.md lists it, e.g. HostDown",
    HTTP_URL_PATTERN: "write an http:// or https:// URL, e.g. https://api.telegram.org",
    TIME_OF_DAY_PATTERN: "write a time of day as HH:MM, e.g. 22:00 (quote it in YAML)",
}


def _shown(detail: ErrorDetails, path: PathKey) -> str:
    """The offending value, shortened; withheld where the key suggests a secret."""
    key = str(path[-1]).lower() if path else ""
    if any(word in key for word in ("password", "secret", "key", "token")):
        return "the value (not shown)"
    value = detail.get("input")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _allowed_keys(loc: tuple[int | str, ...], root: type[BaseModel]) -> list[str]:
    """Keys of the model at ``loc`` (walking ``root``'s fields), for 'did you mean'."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return []
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        if isinstance(part, str) and part in fields:
            model = _inner_model(fields[part].annotation)
        # else an index or a mapping key such as a host name: the value type stays the same
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _inner_model(argument)
        if found is not None:
            return found
    return None


def _dotted(path: PathKey) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(
        "."
    )


def _kind(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "yes/no"}.get(
        type(value), type(value).__name__
    )


def _unique(problems: list[str]) -> list[str]:
    return list(dict.fromkeys(problems))
