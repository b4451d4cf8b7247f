"""A `workload.video` level end to end: one video a request (a `video/jpeg` data URL of
JPEG frames panned across a photo) sent by the real evalscope client to the simulator;
every request's prompt tokens as the server reported them equal what the test derives
from the bytes it finds in the prepared file (frames counted, frame size decoded, Qwen2.5-VL's
video rule applied); run.json says how many videos and frames went out, and the reuse
ratio gives the multimodal-cache hit rate it implies with a video as one item."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from PIL import Image

from bench import imaging
from bench.digest import request_digest
from bench.schema.requests import REQUESTS_FILE
from bench.sim.openai import render_chat
from bench.tools.tokenizer import ensure_tokenizer, load_fast
from tests.support.cli import vlm_bench
from tests.support.paths import ROOT, SCENARIOS

pytestmark = pytest.mark.integration

FRAMES, WIDTH, HEIGHT = 5, 448, 336  # an odd count: the server pads it to 6
LIMITS = (3136, 1003520)  # the image limits the scenario gives the server; video takes them


def video_scenario(tmp_path: Path) -> Path:
    """scenarios/workload-photos.yaml sending one 5-frame video a request, reuse 0.5."""
    doc = yaml.safe_load((SCENARIOS / "workload-photos.yaml").read_text())
    workload = doc["workload"]
    del workload["sizes"], workload["images_per_request"]
    workload["video"] = {"frames": FRAMES, "width": WIDTH, "height": HEIGHT}
    workload["source"]["path"] = str(ROOT / "examples" / "photos")
    doc["server"]["time_scale"] = 0.05
    path = tmp_path / "video.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def frames_of(body: dict[str, Any]) -> list[Image.Image]:
    """The JPEG frames of a body's one video_url part, decoded."""
    [url] = [
        p["video_url"]["url"] for p in body["messages"][0]["content"] if p["type"] == "video_url"
    ]
    head, _, payload = url.partition(",")
    assert head == "data:video/jpeg;base64"
    return [Image.open(io.BytesIO(base64.b64decode(part))) for part in payload.split(",")]


def test_one_video_a_request_counted_as_the_video_rule_says(tmp_path: Path) -> None:
    done = vlm_bench(
        "run",
        str(video_scenario(tmp_path)),
        "--out",
        str(tmp_path),
        "--json",
        "--parallel",
        "2",
        "--number",
        "8",
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(json.loads(done.stdout)["run_dir"])
    data = json.loads((run_dir / "run.json").read_text())
    [level] = data["levels"]
    seen = level["workload"]
    got = {c["name"]: (c["status"], c["detail"]) for c in level["checks"]}
    assert seen["requests"] == 8 and seen["images"] == 0
    assert seen["videos"] == 8 and seen["frames"] == 8 * FRAMES
    assert seen["tokens_checked"] == 8 and seen["tokens_mismatched"] == 0
    assert got["server saw"][0] == "ok" and "8 videos, 40 frames" in got["server saw"][1]
    assert got["mm cache"][0] == "ok", got["mm cache"]
    report = (run_dir / "report.md").read_text()
    assert "as video; 1 video per request, 5 frames of 448x336 (40 frames sent)" in report

    # The prepared requests, as the client read them: find them by the workload's fingerprint.
    levels = Path(os.environ["VLM_BENCH_CACHE"]) / "workload" / "levels"
    [prepared] = levels.glob(f"{seen['fingerprint']}-*.jsonl")
    bodies = [json.loads(line) for line in prepared.read_text().splitlines()]
    by_sha = {request_digest(body): body for body in bodies}
    tokenizer = load_fast(str(ensure_tokenizer()))
    records = pd.read_parquet(run_dir / REQUESTS_FILE)
    assert len(records) == 8
    pans = 0
    for sha, reported in zip(records.request_sha, records.prompt_tokens, strict=True):
        body = by_sha[sha]
        frames = frames_of(body)
        assert len(frames) == FRAMES and {f.size for f in frames} == {(WIDTH, HEIGHT)}
        pans += frames[0].tobytes() != frames[-1].tobytes()
        text = len(tokenizer.encode(render_chat(body["messages"]), add_special_tokens=False).ids)
        video = imaging.video_tokens(WIDTH, HEIGHT, len(frames), *LIMITS)
        assert video == 3 * 12 * 16  # 6 frames after padding, 336x448 in 28-pixel blocks
        # The template's one <|video_pad|> becomes the video's tokens.
        assert reported == text - 1 + video, (sha, reported, text, video)
    assert pans == 8  # every video moves across its photo
