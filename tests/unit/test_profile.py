"""Profiles: built-ins load, overrides apply, mistakes are one-line user errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import UserError
from bench.sim.profile import builtin_profiles, load_profile


def test_builtins_load() -> None:
    assert {"fast", "ascend-800ta2-vllm", "xllm-800ta2"} <= set(builtin_profiles())
    for name in builtin_profiles():
        assert load_profile(name).name == name


def test_dotted_overrides() -> None:
    p = load_profile("fast", {"faults.error_every": 3, "time_scale": 0.5})
    assert p.faults.error_every == 3 and p.time_scale == 0.5


@pytest.mark.parametrize(
    ("content", "override", "fragment"),
    [
        ("decode_base_s: 0.01\nparalell: 3\n", {}, "paralell: unknown field"),
        ("decode_base_s: -1\n", {}, "decode_base_s: Input should be greater than 0"),
        ("decode_base_s: [oops\n", {}, "YAML syntax error"),
        ("- 1\n", {}, "must be a mapping"),
        ("decode_base_s: 0.01\n", {"faults.error_status": 404}, "error_status must be one of"),
        ("decode_base_s: 0.01\n", {"faults.nope": 1}, "faults.nope: unknown field"),
    ],
)
def test_bad_profiles(tmp_path: Path, content: str, override: dict, fragment: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content)
    with pytest.raises(UserError) as info:
        load_profile(str(path), override)
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert str(path) in message or "YAML" in message


def test_unknown_profile_lists_builtins() -> None:
    with pytest.raises(UserError, match=r"built-in: .*fast"):
        load_profile("nope")
