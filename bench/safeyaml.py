"""Loading YAML a user wrote, refusing what would crash or mislead us later.

`yaml.safe_load` alone accepts duplicate keys (the last one silently wins), nesting deep
enough to exhaust Python's recursion limit, alias "bombs" whose expansion is exponential
(a few lines that our validation would walk for ever), bytes that are not UTF-8, and values
no scenario field can hold (dates, sets, binary, NaN, NUL characters). Every one of those is
refused here as a one-line `UserError` naming the file, the line or the dotted field.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from bench.errors import UserError
from bench.safepath import read_regular

MAX_BYTES = 1 << 20  # 1 MiB: the largest shipped scenario is ~3 KiB
MAX_DEPTH = 64  # nesting, aliases expanded; our deepest field is 5 levels down
MAX_NODES = 100_000  # scalars + collections, aliases expanded (stops "billion laughs")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _LimitError(yaml.YAMLError):
    """One of our limits, with the place it was found (not a syntax error)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts nesting and nodes (aliases expanded) and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        # id(node) -> (nodes in its subtree, its height), aliases expanded.
        self._measured: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # Checked before descending: the composer recurses, and 10 000 `[` would otherwise
        # end in RecursionError.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _LimitError(f"nested deeper than {MAX_DEPTH} levels", mark)
            alias = self.check_event(yaml.AliasEvent)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        if alias:
            if id(node) not in self._measured:  # an alias of a collection it sits inside
                raise _LimitError(
                    "recursive alias (a collection containing itself)", node.start_mark
                )
            _, height = self._measured[id(node)]
        else:
            _, height = self._measure(node)
        if height + self._depth > MAX_DEPTH:
            raise _LimitError(
                f"nested deeper than {MAX_DEPTH} levels (aliases expanded)", node.start_mark
            )
        return node

    def _measure(self, node: Node) -> tuple[int, int]:
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        size, height = 1, 0
        for child in children:
            child_size, child_height = self._measured[id(child)]
            size += child_size
            height = max(height, child_height)
        if size > MAX_NODES:
            raise _LimitError(
                f"more than {MAX_NODES} values once aliases are expanded", node.start_mark
            )
        self._measured[id(node)] = (size, height + 1)
        return size, height + 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Only the keys written in this mapping: a `<<: *base` merge may be overridden.
        seen: dict[Any, int] = {}
        if isinstance(node, MappingNode):
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable: the base class reports it
                    continue
                if first is not None:
                    raise _LimitError(
                        f"duplicate key {_short(key)} (first on line {first})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_bytes(path: Path, what: str = "file") -> str:
    """The file's text: at most MAX_BYTES, strictly UTF-8 (a UTF-8 BOM is allowed)."""
    # Only a regular file (a FIFO would block the read for ever), at most MAX_BYTES.
    data = read_regular(path, MAX_BYTES, what)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{path}: UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def loads(text: str, source: str) -> Any:
    """Parse one YAML document under the limits above; errors name `source` and the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except _LimitError as exc:
        raise UserError(f"{source}{_where(exc, text)}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{source}{_where(exc, text)}: YAML syntax error: {problem}") from None
    except RecursionError:
        raise UserError(f"{source}: nested too deeply") from None


def _where(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    # A one-line text (a --set value) has no line worth naming.
    return f":{mark.line + 1}" if mark is not None and "\n" in text.rstrip("\n") else ""


def load_file(path: Path, what: str = "file") -> Any:
    """Read, parse and check a YAML file; every problem is one line naming the file."""
    data = loads(read_bytes(path, what), str(path))
    check_values(data, str(path))
    return data


def check_values(data: Any, source: str, prefix: str = "", sep: str = ": ") -> None:
    """Refuse values no field of ours can hold, naming the dotted field: NUL characters and
    lone surrogates (no process argument or file can carry them), NaN and infinities, and
    YAML's dates, sets and binary (quote a date to mean the string)."""
    _check(data, source, prefix, 0, sep)


def _check(value: Any, source: str, path: str, depth: int, sep: str) -> None:
    where = f"{source}{sep}{path}" if path else source
    if depth > MAX_DEPTH:
        raise UserError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{where}: {value} is not a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UserError(f"{where}: key {_short(key)} must be a string")
            _check_text(key, f"{where}: key {_short(key)}")
            _check(item, source, f"{path}.{key}" if path else key, depth + 1, sep)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, source, f"{path}.{i}" if path else str(i), depth + 1, sep)
    elif isinstance(value, datetime.date | datetime.datetime):
        raise UserError(f"{where}: a date is not allowed here (quote it for text)")
    elif isinstance(value, bytes | set | tuple):
        raise UserError(f"{where}: a YAML {type(value).__name__} is not allowed here")
    elif value is not None and not isinstance(value, bool | int | float):
        raise UserError(f"{where}: a {type(value).__name__} is not allowed here")


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise UserError(f"{where}: contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"{where}: contains a lone surrogate (not valid Unicode)") from None
