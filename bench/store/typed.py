"""Reading the store's rows with every value checked against its column (tables.py).

SQLite keeps whatever it is given: a tampered or foreign store can hold text where a
number belongs (`level_metrics.value`, `levels.parallel`), and PostgreSQL can hold a
foreign table of the same name. Values are read raw (no SQLAlchemy conversion, which
would raise mid-row or turn `'yes'` into True) and checked here, so that export, the
dashboard and history answer one line naming the table, the column and the run instead
of a traceback from pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa

from bench.errors import one_line


class BadValue(Exception):
    """A stored value that its column's type does not allow: `where` (table, column and
    run) and what is wrong."""

    def __init__(self, table: str, column: str, run: str, problem: str) -> None:
        super().__init__(f"table {table}, column {column}, run {run}: {problem}")


def _shown(value: object) -> str:
    text = repr(value)
    return one_line(text if len(text) <= 40 else text[:37] + "...")


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # how SQLite keeps a boolean
        return bool(value)
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


# (SQLAlchemy type, its reader, what a message calls a value of it); first match wins:
# Boolean and Double before Integer is irrelevant (no subclassing among them).
_KINDS: tuple[tuple[type[sa.types.TypeEngine[Any]], Any, str], ...] = (
    (sa.Boolean, _boolean, "a boolean"),
    (sa.Float, _number, "a number"),
    (sa.Integer, _integer, "an integer"),
    (sa.Text, _text, "text"),
)


def convert(column: sa.Column[Any], value: object) -> object:
    """`value` as its column's Python type; ValueError saying what it should be."""
    if value is None:
        if column.nullable and not column.primary_key:
            return None
        raise ValueError("empty (NULL) where a value is required")
    for kind, read, name in _KINDS:
        if isinstance(column.type, kind):
            out = read(value)
            if out is None:
                raise ValueError(f"{_shown(value)} is not {name}")
            return out
    return value


def raw_select(table: sa.Table, names: Iterable[str]) -> sa.Select[Any]:
    """SELECT of `names` from `table`, each value as the database returns it."""
    columns: list[Any] = [sa.type_coerce(table.c[n], sa.types.NullType()).label(n) for n in names]
    return sa.select(*columns)


def checked_rows(
    conn: sa.Connection, table: sa.Table, names: Iterable[str], run_of: Any
) -> list[dict[str, Any]]:
    """The rows of `table` (columns `names`), each value checked and converted; BadValue
    for the first bad one. `run_of(row)` names the row's run for the message."""
    names = tuple(names)
    out = []
    for record in conn.execute(raw_select(table, names)):
        row = dict(record._mapping)
        for name in names:
            try:
                row[name] = convert(table.c[name], row[name])
            except ValueError as exc:
                raise BadValue(table.name, name, run_of(row), str(exc)) from None
        out.append(row)
    return out


def check_run_dir(row: dict[str, Any]) -> None:
    """A stored run folder is absolute (rows.run_dir_key): a relative one would be read
    against whatever folder the command runs in."""
    if not PurePosixPath(row["run_dir"]).is_absolute():
        raise BadValue(
            "runs",
            "run_dir",
            f"id {row['id']}",
            f"{_shown(row['run_dir'])} is not an absolute path",
        )
