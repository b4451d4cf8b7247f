"""Which sweeps run the answer check (bench/measure/answercheck.py `skipped_because`): the
OVD prompt is VLM-R1's, so by default only VLM-R1 and the simulator get it."""

from __future__ import annotations

from typing import Any

import pytest

from bench.measure.answercheck import skipped_because
from tests.support.factories import small_scenario

COMMAND = {"kind": "command", "argv": ["serve"]}


def _scenario(name: str, server: dict[str, Any], **fields: Any) -> Any:
    return small_scenario(
        model={"served_name": name, "tokenizer_path": "generated", **fields.pop("model", {})},
        server=server,
        **fields,
    )


@pytest.mark.parametrize(
    ("name", "server", "fields"),
    [
        ("VLM-R1-Qwen2.5VL-3B-OVD-0321", COMMAND, {}),
        ("served", COMMAND, {"model": {"path": "/models/vlm_r1-ovd"}}),
        ("sim-model", {"kind": "sim"}, {}),  # the simulator answers in the OVD format
        ("qwen2.5-vl-7b", COMMAND, {"check": "warn"}),  # asked for
        ("qwen2.5-vl-7b", COMMAND, {"check": {"event": "cup"}}),
    ],
)
def test_the_check_runs(name: str, server: dict[str, Any], fields: dict[str, Any]) -> None:
    assert skipped_because(_scenario(name, server, **fields)) is None


def test_another_model_is_not_checked_by_default() -> None:
    """Bug: VLM-R1's OVD answer check was applied to any model, and failed it."""
    why = skipped_because(_scenario("qwen2.5-vl-7b", COMMAND))
    assert why is not None and "'qwen2.5-vl-7b' is not a VLM-R1 model" in why
    assert "check: warn" in why


def test_check_off_is_off_for_vlm_r1_too() -> None:
    assert skipped_because(_scenario("VLM-R1", {"kind": "sim"}, check="off")) == "check: off"
