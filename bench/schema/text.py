"""Text from result files, bounded before it reaches a page, a table or an error line.

A run.json is input: its scenario name may be 10,000,000 characters long or hold NUL
bytes and terminal escapes. Every string read from one passes `bounded` (bench.schema.
runfile does it on read, the dashboard again at render): control characters other than
newline and tab are written as escapes (`\\x00`, `\\x1b`), and a string over its limit is
cut with the cut said, `…(9,999,800 more characters)`, so nothing downstream (HTML,
CSV, the store, a one-line error) can be made huge or garbled by one field.
"""

from __future__ import annotations

import unicodedata
from typing import Any

MAX_TEXT = 10_000  # one field of a run; a scenario description is a few hundred
MAX_KEY = 200  # a mapping's key (a field name, a package, a flag)
_KEPT = "\n\t"
# Controls (NUL, ESC, DEL, …), lone surrogates and format characters (bidi overrides,
# zero-width joiners) are escaped; other text, non-ASCII spaces included, is kept.
_ESCAPED = ("Cc", "Cs", "Cf")


def _escape(ch: str) -> str:
    if ch in _KEPT or unicodedata.category(ch) not in _ESCAPED:
        return ch
    return ch.encode("unicode_escape", "backslashreplace").decode("ascii")


def _clean(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(_escape(ch) for ch in text)


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    """`text` with control characters escaped and at most `limit` characters kept (the
    rest said in words: `…(N more characters)`)."""
    if len(text) <= limit:
        return _clean(text)
    return f"{_clean(text[:limit])}…({len(text) - limit:,} more characters)"


def bounded_tree(value: Any, limit: int = MAX_TEXT) -> Any:
    """A JSON-like value with every string (and mapping key) bounded."""
    if isinstance(value, str):
        return bounded(value, limit)
    if isinstance(value, dict):
        return {bounded(str(k), MAX_KEY): bounded_tree(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [bounded_tree(v, limit) for v in value]
    return value
