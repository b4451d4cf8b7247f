"""Golden-file comparison with one documented switch to regenerate on purpose.

`VLM_BENCH_REGENERATE_GOLDEN=1` rewrites the expected file with the rendered text (and the
test still compares, so it passes); review the change with `git diff tests/data/golden/`.
Without it a missing or different file fails with the name of the file and the switch.
"""

from __future__ import annotations

import os

from tests.support.paths import GOLDEN

REGENERATE = "VLM_BENCH_REGENERATE_GOLDEN"


def assert_golden(name: str, text: str) -> None:
    """`text` equals tests/data/golden/<name> (regenerated first when the switch is set)."""
    path = GOLDEN / name
    if os.environ.get(REGENERATE) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    expected = path.read_text() if path.exists() else "(missing golden file)"
    assert text == expected, (
        f"{name} differs from tests/data/golden/{name}; if the change is intended, "
        f"regenerate with {REGENERATE}=1 and review the diff"
    )
