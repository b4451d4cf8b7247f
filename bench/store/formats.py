"""Output formats of a table (a pandas frame), registered once and looked up by name or by a
file's extension: `vlm-bench export`, the run's requests.parquet and the store's frames all
write through here (docs/store.md, "Formats").

A format is a name, its file extensions and one function from a frame to the file's bytes
(hyperfine's one-method exporter); adding one is a module with that function and one
`register` call. Built in: csv, json, parquet, markdown, html.

Missing values are empty in CSV, Markdown and HTML and null in JSON and Parquet, never a
placeholder. CSV follows RFC 4180 (CRLF line ends, every field holding CR, LF, a comma or a
quote is quoted) and the OWASP rule against formula injection: a text cell beginning with
`=`, `+`, `-`, `@`, tab or CR gets a leading single quote; numbers are never touched.
pandas and pyarrow are imported only when a frame is written.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

Writer = Callable[["pd.DataFrame"], bytes]


@dataclass(frozen=True)
class Format:
    """An output format: `name` (what --format takes), the file `suffixes` that mean it
    (lower case, with the dot), and `write`, a frame to the file's bytes."""

    name: str
    suffixes: tuple[str, ...]
    write: Writer


_REGISTRY: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add (or replace) `fmt` under its name; returns it."""
    _REGISTRY[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get(name: str, flag: str = "--format") -> Format:
    """The format called `name`; UserError naming `flag` and the known ones."""
    try:
        return _REGISTRY[name.strip().lower()]
    except KeyError:
        raise UserError(f"{flag} {name!r}: must be one of {', '.join(names())}") from None


def for_path(path: str | Path, flag: str = "--out") -> Format:
    """The format a file's extension names (`all.parquet`: parquet); UserError when none
    does."""
    suffix = Path(path).suffix.lower()
    for fmt in _REGISTRY.values():
        if suffix and suffix in fmt.suffixes:
            return fmt
    known = ", ".join(s for f in _REGISTRY.values() for s in f.suffixes)
    raise UserError(
        f"{flag} {path}: cannot tell the format from its extension ({known}); give --format"
    )


# Text that a spreadsheet would run as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def missing(value: Any) -> bool:
    """None, NaN, pandas' NA or NaT."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def plain(value: Any) -> Any:
    """A cell's value as Python: a numpy scalar or array as a number or list."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes | datetime):
        return value.tolist()
    return value


def csv_cell(value: Any) -> str:
    """One CSV cell: empty when missing, ISO 8601 for a time, a list as JSON, a
    neutralised text cell."""
    value = plain(value)
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    if missing(value):
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(data: pd.DataFrame) -> bytes:
    out = io.StringIO(newline="")
    # CRLF as the line end: Python's writer then quotes a field holding a lone CR too.
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([str(c) for c in data.columns])
    for row in data.itertuples(index=False, name=None):
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue().encode("utf-8")


def to_json(data: pd.DataFrame) -> bytes:
    """A JSON array of objects, one per row; times in ISO 8601 (UTC), missing as null."""
    text = data.to_json(orient="records", date_format="iso", date_unit="us", force_ascii=False)
    return (text or "[]").encode("utf-8") + b"\n"


def to_parquet(data: pd.DataFrame) -> bytes:
    """zstd, and floating-point columns (lists of them too: a run's ITL gaps) stored
    byte-stream-split rather than dictionary-encoded: lossless, and a quick start's
    requests.parquet is a third smaller than zstd alone (805 KB → 546 KB)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(data, preserve_index=False)
    floats = {f.name: path for f in table.schema if (path := _float_path(f))}
    out = pa.BufferOutputStream()
    pq.write_table(
        table,
        out,
        compression="zstd",
        use_dictionary=[f.name for f in table.schema if f.name not in floats],
        use_byte_stream_split=list(floats.values()) or False,
    )
    return bytes(out.getvalue().to_pybytes())


def _float_path(field: Any) -> str | None:
    """The Parquet column path of a floating-point field, or of a list of floats."""
    import pyarrow as pa

    kind = field.type
    if pa.types.is_floating(kind):
        return str(field.name)
    if pa.types.is_list(kind) and pa.types.is_floating(kind.value_type):
        return f"{field.name}.list.element"
    return None


def _text_cell(value: Any) -> str:
    value = plain(value)
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    if missing(value):
        return ""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def to_markdown(data: pd.DataFrame) -> bytes:
    """A GitHub-flavoured Markdown table: pipes escaped, line breaks as spaces."""

    def cell(value: Any) -> str:
        return " ".join(_text_cell(value).split()).replace("|", "\\|")

    lines = [
        "| " + " | ".join(cell(c) for c in data.columns) + " |",
        "|" + "---|" * len(data.columns),
    ]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |"
        for row in data.itertuples(index=False, name=None)
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def to_html(data: pd.DataFrame) -> bytes:
    """A bare HTML table (escaped), to paste into a page."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in data.columns)
    rows = [
        "<tr>" + "".join(f"<td>{html.escape(_text_cell(v))}</td>" for v in row) + "</tr>"
        for row in data.itertuples(index=False, name=None)
    ]
    body = "\n".join(rows)
    return (
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n".encode()
    )


CSV = register(Format("csv", (".csv",), to_csv))
JSON = register(Format("json", (".json",), to_json))
PARQUET = register(Format("parquet", (".parquet", ".pq"), to_parquet))
MARKDOWN = register(Format("markdown", (".md", ".markdown"), to_markdown))
HTML = register(Format("html", (".html", ".htm"), to_html))
