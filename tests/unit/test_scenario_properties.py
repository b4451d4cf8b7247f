"""Property: whatever JSON-ish value lands in whatever scenario field (or makes up the whole
file, or comes through `--set`), `vlm-bench` answers exit 0 or exit 2 with one line, and
never a traceback (issue 14: hostile scenario values crashed the loader or the CLI).
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bench.errors import _models_in
from bench.schema.scenario import Scenario
from tests.support.cli import run_cli

BASE: dict[str, Any] = {
    "name": "t",
    "model": {"served_name": "m", "tokenizer_path": "generated"},
    "server": {"kind": "sim"},
    "sweep": {"parallel": [1, 2], "number": [2, 4]},
}


def _paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every field's path, nested models included (each server kind's fields too)."""
    out: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        out.append((*prefix, name))
        for sub in _models_in(field.annotation):
            out += _paths(sub, (*prefix, name))
    return out


PATHS = sorted(set(_paths(Scenario)))

# Text with the characters that broke things: NUL, newlines, control and non-ASCII ones.
TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"), st.sampled_from("\x00\n\r\t\x1b\ud800\u2028:{}[]&*!%@`'\"")
    ),
    max_size=20,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),  # NaN and infinities included
    TEXT,
    st.sampled_from(["sim", "docker", "parallel", "4x", "generated", "RGB", "fast", "warn"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


def _assert_answer(code: int, err: str, prefix: str) -> None:
    assert code in (0, 2), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(prefix), err
    assert "Traceback" not in err


def _place(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = doc
    for part in path[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[path[-1]] = value
    return doc


SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True)


@SETTINGS
@given(path=st.sampled_from(PATHS), value=VALUES)
def test_any_value_in_any_field_is_ok_or_one_line(path: tuple[str, ...], value: Any) -> None:
    doc = _place(copy.deepcopy(BASE), path, value)
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "s.yaml"
        file.write_text(_dump(doc), encoding="utf-8", errors="surrogatepass")
        code, _, err = run_cli(None, "validate", str(file))
        _assert_answer(code, err, "invalid: ")


@SETTINGS
@given(doc=VALUES)
def test_any_document_is_ok_or_one_line(doc: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "s.yaml"
        file.write_text(_dump(doc), encoding="utf-8", errors="surrogatepass")
        code, _, err = run_cli(None, "validate", str(file))
        _assert_answer(code, err, "invalid: ")
        assert code == 2 or isinstance(doc, dict)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(path=st.sampled_from(PATHS), value=st.one_of(TEXT, st.floats().map(str)))
def test_any_set_value_is_ok_or_one_line(path: tuple[str, ...], value: str) -> None:
    """`--set FIELD=VALUE` with any text (YAML syntax errors, tags, NaN): 0 or one line."""
    if "\x00" in value:  # an argv cannot carry a NUL; the test stands in for argv
        value = value.replace("\x00", "")
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "s.yaml"
        file.write_text(_dump({**BASE, "output_dir": str(Path(tmp) / "out")}))
        setting = f"{'.'.join(path)}={value}"
        code, _, err = run_cli(None, "run", str(file), "--dry-run", "--set", setting)
        _assert_answer(code, err, "vlm-bench: error: ")


def test_the_property_can_fail() -> None:
    """The property's check is not vacuous: a bad scenario is refused with exit 2."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "s.yaml"
        file.write_text(_dump(_place(copy.deepcopy(BASE), ("sweep", "cooldown_s"), float("nan"))))
        code, _, err = run_cli(None, "validate", str(file))
        assert code == 2 and "sweep.cooldown_s: nan is not a finite number" in err
