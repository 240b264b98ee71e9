"""Reading a YAML file into plain data while remembering where every value came from.

PyYAML forgets positions once it has built Python objects, so we compose the node tree and
build the data ourselves, recording the line and column of every key and value by its path.
We also refuse what PyYAML silently accepts: duplicate keys (the last would win), alias bombs,
binary content, and files far larger than any inventory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from egov.inputfile import YAML_INPUT, UnreadableInput, read_input_bytes

MAX_NODES = 200_000
MAX_DEPTH = 64
"""Deeper than any inventory or scenario needs; PyYAML's composer recurses once per level and
would hit Python's recursion limit (a RecursionError) at about 330."""

_PLAIN_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in a file."""

    line: int
    column: int


@dataclass
class SourceMap:
    """Positions of the keys and values of a YAML document, by path."""

    file: str
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)
    sha256: str = ""

    def locate(self, path: PathKey) -> Position:
        """The best position for ``path``: its key, else its value, else its nearest parent."""
        probe = tuple(path)
        while True:
            if probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return Position(1, 1)
            probe = probe[:-1]


@dataclass(frozen=True)
class SourceProblem:
    """A problem found while reading the file, before any validation."""

    position: Position
    message: str
    hint: str = ""


class SourceError(Exception):
    """The file cannot be turned into data; carries one positioned problem."""

    def __init__(self, problem: SourceProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def read_yaml(path: Path) -> tuple[Any, SourceMap]:
    """Read ``path`` into plain data and its source map (which keeps the file's SHA-256).

    Raises SourceError for a missing, unreadable, oversized, binary or malformed file, for
    anything but a regular file (a FIFO, a device, a directory), for duplicate keys, tags on
    lists or mappings, and nesting deeper than MAX_DEPTH; the error's position points at the
    offending spot.
    """
    try:
        raw = read_input_bytes(path, YAML_INPUT)
    except UnreadableInput as error:
        raise SourceError(SourceProblem(Position(1, 1), error.reason, error.fix)) from None
    data, source_map = parse_yaml(_decode(raw), str(path))
    source_map.sha256 = hashlib.sha256(raw).hexdigest()
    return data, source_map


def _decode(raw: bytes) -> str:
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise SourceError(
            SourceProblem(
                Position(line, 1),
                "binary content (a NUL byte); an inventory is a UTF-8 YAML text file",
                "is this the right file?",
            )
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise SourceError(
            SourceProblem(
                Position(line, 1),
                f"not valid UTF-8 (byte 0x{raw[error.start]:02x})",
                "save the file as UTF-8",
            )
        ) from None


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML ``text`` (named ``file`` in positions) into data and its source map."""
    source_map = SourceMap(file)
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, source_map
        builder = _Builder(loader, source_map)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
        problem = error.problem or "malformed YAML"
        context = f" {error.context}" if error.context else ""
        raise SourceError(
            SourceProblem(
                position,
                f"YAML syntax error: {problem}{context}",
                "check indentation (spaces only) and quote values containing ': ' or '#'",
            )
        ) from None
    except yaml.YAMLError as error:
        raise SourceError(SourceProblem(Position(1, 1), f"YAML error: {error}")) from None
    finally:
        loader.dispose()
    return data, source_map


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting deeper than MAX_DEPTH while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise SourceError(
                    SourceProblem(
                        Position(mark.line + 1, mark.column + 1),
                        f"nested deeper than {MAX_DEPTH} levels",
                        "an inventory or a scenario needs a few levels; is this the right file?",
                    )
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Builder:
    """Builds plain data from a composed node tree, recording positions."""

    def __init__(self, loader: yaml.SafeLoader, source_map: SourceMap) -> None:
        self.loader = loader
        self.source_map = source_map
        self.nodes = 0

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SourceError(
                SourceProblem(
                    _position(node),
                    f"more than {MAX_NODES} values (are aliases expanding recursively?)",
                    "an inventory does not need this many values; remove the alias chain",
                )
            )
        if len(path) > MAX_DEPTH:  # aliases nest what was composed shallow enough
            raise SourceError(
                SourceProblem(
                    _position(node),
                    f"nested deeper than {MAX_DEPTH} levels (through aliases)",
                    "an inventory or a scenario needs a few levels; remove the alias chain",
                )
            )
        self.source_map.values.setdefault(path, _position(node))
        _check_plain_tag(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as error:
            # PyYAML's own constructors fail past YAML errors: an integer of more than 4300
            # digits (Python's limit), a timestamp such as 2024-13-45
            shown = str(node.value)
            shown = shown if len(shown) <= 40 else shown[:37] + "…"
            raise SourceError(
                SourceProblem(
                    _position(node),
                    f"cannot read the value {shown!r} ({error.__class__.__name__})",
                    "quote it if it is text; shorten it if it is a number",
                )
            ) from None

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        self._check_duplicate_keys(node)
        # Resolve `<<:` merge keys the way PyYAML would: explicit keys override merged ones.
        self.loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            child = (*path, key)
            self.source_map.keys[child] = _position(key_node)
            result[key] = self.build(value_node, child)
        return result

    @staticmethod
    def _check_duplicate_keys(node: yaml.MappingNode) -> None:
        seen: dict[str, Position] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = _key_text(key_node)
            position = _position(key_node)
            if key in seen:
                raise SourceError(
                    SourceProblem(
                        position,
                        f"duplicate key {key!r} (first at line {seen[key].line}); "
                        "the later one would silently replace the first",
                        "rename or remove one of them",
                    )
                )
            seen[key] = position


def _check_plain_tag(node: yaml.Node) -> None:
    """Refuse a tag on a list or a mapping (``!!set``, ``!!omap``, ``!custom``).

    Scalars with a tag PyYAML does not know fail in its constructor; a collection is built here
    and its tag would otherwise be dropped without a word.
    """
    plain = _PLAIN_TAGS.get(type(node))
    if plain is not None and node.tag != plain:
        kind = "mapping" if isinstance(node, yaml.MappingNode) else "list"
        raise SourceError(
            SourceProblem(
                _position(node),
                f"YAML tag {_short_tag(node.tag)!r} on a {kind} is not allowed",
                "remove the tag: write a plain list or mapping",
            )
        )


def _short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:set`` as written in the file: ``!!set``."""
    return tag.replace("tag:yaml.org,2002:", "!!", 1)


def _key_text(node: yaml.Node) -> str:
    """A mapping key as written: `on:` stays "on" rather than becoming True."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    raise SourceError(
        SourceProblem(_position(node), "a key must be a plain word, not a list or a mapping")
    )


def _position(node: yaml.Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)
