"""The answer check: the reference's OVD request sent to a ready server and judged, before
a sweep (`check:` in the scenario) or alone (`vlm-bench check`).

The request is VLM-R1's OVD prompt, so before a sweep it runs, by default, only for the
model it was written for (a VLM-R1 name or weights path) and the simulator (which answers
in that format); any other model would fail it for no fault of its own. A scenario that
writes a `check:` section (`check: warn`, …), or `vlm-bench check`, runs it for any model.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from bench import imaging, ovd
from bench.errors import UserError
from bench.measure.level import now_iso
from bench.measure.prepare import check_references, resolve_tokenizer
from bench.schema.attached import AnswerCheckRecord
from bench.schema.results import Incident, RunResult
from bench.schema.scenario import Scenario
from bench.serve import answer, server

# The models the OVD prompt was written for: VLM-R1 (its OVD checkpoints).
VLM_R1 = re.compile(r"vlm[-_ ]?r1", re.IGNORECASE)


def skipped_because(scenario: Scenario) -> str | None:
    """Why the answer check does not run before this sweep (None: it runs)."""
    spec = scenario.check
    if spec.mode == "off":
        return "check: off"
    model = scenario.model
    if spec.model_fields_set or scenario.server.capabilities.simulator:
        return None
    if any(VLM_R1.search(name or "") for name in (model.served_name, model.path)):
        return None
    return (
        f"it sends VLM-R1's OVD prompt and {model.served_name!r} is not a VLM-R1 model "
        "(set check: warn or check: required to run it anyway)"
    )


def answer_check_image(scenario: Scenario) -> tuple[bytes, int, int]:
    """The check's image: the scenario's file, or one generated at the load's size."""
    from PIL import Image, UnidentifiedImageError  # heavy: only when the scenario names an image

    spec = scenario.check
    if spec.image is None:
        w, h = scenario.load.image_width, scenario.load.image_height
        return imaging.answer_check_image(w, h), w, h
    try:
        with Image.open(spec.image) as img:
            img.load()
            rgb = img.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"check.image: cannot read {spec.image}: {exc}") from None
    return imaging.png_bytes(rgb), rgb.width, rgb.height


def answer_check(
    scenario: Scenario,
    url: str,
    out_dir: Path | None,
    image: tuple[bytes, int, int] | None = None,
) -> ovd.AnswerCheckResult:
    """The reference's OVD request to a ready server, judged (files kept in `out_dir`);
    `image` is `answer_check_image(scenario)` when the caller already has it."""
    spec = scenario.check
    png, width, height = image or answer_check_image(scenario)
    return answer.run_answer_check(
        url,
        scenario.model.served_name,
        png,
        width,
        height,
        spec.describe,
        spec.event,
        spec.max_tokens,
        spec.temperature,
        scenario.load.request_timeout_s,
        out_dir,
        server.request_headers(scenario),
    )


def answer_check_server(scenario: Scenario, out_dir: Path | None = None) -> ovd.AnswerCheckResult:
    """`vlm-bench check`: start (or attach to) the server, wait until ready, check its
    answer, stop it. Files go to `out_dir/check` when given."""
    import tempfile

    console = Console(stderr=True)
    check_references(scenario)
    tokenizer = resolve_tokenizer(scenario)
    image = answer_check_image(scenario)  # a bad image file fails before any server starts
    with tempfile.TemporaryDirectory(prefix="vlm-bench-check-") as tmp:
        work = out_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        with server.start(scenario, tokenizer, work) as handle:
            console.print(handle.announce())
            console.print(f"server ready after {handle.wait_ready():.1f} s")
            return answer_check(scenario, handle.url, work / "check", image)


def answer_check_before_sweep(
    scenario: Scenario,
    handle: server.ServerHandle,
    run_dir: Path,
    result: RunResult,
    console: Console,
) -> bool:
    """Run the answer check unless it is off; False when a required check failed."""
    mode = scenario.check.mode
    if (why := skipped_because(scenario)) is not None:
        if mode != "off":
            console.print(f"answer check skipped: {why}")
        return True
    check = answer_check(scenario, handle.url, run_dir / "check")
    result.check = AnswerCheckRecord.model_validate({"mode": mode, **check.to_dict()})
    colour = "green" if check.valid else ("red" if mode == "required" else "yellow")
    console.print(f"[{colour}]answer check: {check.summary()}[/] ({check.latency_s:.2f} s)")
    if check.valid or mode != "required":
        return True
    result.incidents.append(
        Incident(
            at=now_iso(),
            level=0,
            parallel=0,
            kind="answer check failed (check: required), sweep not run",
            detail=check.summary(),
        )
    )
    result.reason = f"answer check failed: {check.summary()}"
    return False
