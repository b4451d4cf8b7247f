"""Step 16's workloads end to end: each source kind (a folder of photos, a JSONL of chat
requests, a Parquet dataset, a timed trace) runs on the simulator through the real evalscope
client; the server's prompt tokens equal the resize rule's prediction for every request (a
size above max_pixels included); a reuse ratio gives the multimodal-cache hit rate it
implies and reuse 0 gives none; a trace is replayed at its own timing with its slip
measured; run.json and requests.parquet say what was sent."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from bench import imaging
from bench.schema.requests import REQUESTS_FILE
from tests.support.cli import vlm_bench
from tests.support.paths import ROOT, SCENARIOS

pytestmark = pytest.mark.integration


def run(scenario: Path, out: Path, *flags: str) -> dict[str, Any]:
    """`vlm-bench run SCENARIO` (from the checkout, as the docs show), its run.json."""
    done = vlm_bench("run", str(scenario), "--out", str(out), "--json", *flags, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(json.loads(done.stdout)["run_dir"])
    data = json.loads((run_dir / "run.json").read_text())
    data["_dir"] = run_dir
    return data


def checks(level: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["status"], c["detail"]) for c in level["checks"]}


def photos_scenario(tmp_path: Path, **workload: Any) -> Path:
    """scenarios/workload-photos.yaml with its workload section changed, faster."""
    doc = yaml.safe_load((SCENARIOS / "workload-photos.yaml").read_text())
    doc["workload"].update(workload)
    doc["workload"]["source"]["path"] = str(ROOT / "examples" / "photos")
    doc["server"]["time_scale"] = 0.05
    path = tmp_path / "photos.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def test_photos_at_three_sizes_two_per_request_with_reuse_half(tmp_path: Path) -> None:
    """The shipped example: every request's prompt tokens are the predicted ones (1600x1200
    is above max_pixels and scaled down by the server), the mm-cache hit rate is the one
    the workload implies, and requests.parquet carries the prompt tokens of the sizes."""
    data = run(SCENARIOS / "workload-photos.yaml", tmp_path, "--parallel", "4", "--number", "16")
    [level] = data["levels"]
    seen, got = level["workload"], checks(level)
    assert data["scenario"]["workload"]["reuse"] == 0.5
    assert seen["fingerprint"].startswith("wl-") and seen["requests"] == 16
    assert seen["images"] == 32 and seen["tokens_checked"] == 16
    assert seen["tokens_mismatched"] == 0 and got["server saw"][0] == "ok"
    assert got["mm cache"][0] == "ok"
    observed = float(got["mm cache"][1].split("hit rate ")[1].split(" %")[0]) / 100
    assert abs(observed - 0.5) <= 0.2  # a 16-request level; the exact rate is judged above
    records = pd.read_parquet(data["_dir"] / REQUESTS_FILE)
    assert len(records) == 16 and records.prompt_tokens.notna().all()
    # Two images of three sizes: each pair's tokens differ by the sizes' image tokens.
    per_size = {
        imaging.image_tokens(w, h, 3136, 1003520) for w, h in [(640, 640), (512, 600), (1600, 1200)]
    }
    assert len(per_size) == 3 and records.prompt_tokens.nunique() >= 3


def test_no_reuse_means_no_hits_and_no_flag(tmp_path: Path) -> None:
    data = run(photos_scenario(tmp_path, reuse=0.0), tmp_path, "--parallel", "2", "--number", "8")
    [level] = data["levels"]
    status, detail = checks(level)["mm cache"]
    assert status == "ok" and detail.startswith("hit rate 0.0 %"), detail
    assert level["workload"]["expected_mm_hit_rate"] == 0.0


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(buf, format="PNG")
    return buf.getvalue()


def _with_source(tmp_path: Path, source: dict[str, Any]) -> Path:
    doc = yaml.safe_load((SCENARIOS / "workload-photos.yaml").read_text())
    doc["workload"] = {"source": source, "min_pixels": 3136, "max_pixels": 1003520}
    doc["server"]["time_scale"] = 0.05
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_jsonl_of_chat_requests(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(_png(300, 200))
    b64 = base64.b64encode(_png(2000, 1500)).decode()
    bodies = [
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": str(tmp_path / "a.png")}},
                        {"type": "text", "text": "what is on the table?"},
                    ],
                }
            ]
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64}},
                        {"type": "text", "text": "describe"},
                    ],
                }
            ]
        },
    ]
    sample = tmp_path / "sample.jsonl"
    sample.write_text("\n".join(json.dumps(b) for b in bodies))
    scenario = _with_source(tmp_path, {"kind": "requests", "path": str(sample)})
    data = run(scenario, tmp_path / "out", "--parallel", "1", "--number", "4")
    [level] = data["levels"]
    assert level["succeeded"] == 4
    assert level["workload"]["tokens_checked"] == 4 and level["workload"]["tokens_mismatched"] == 0


def test_a_parquet_dataset_with_image_and_text_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "image": [
                {"bytes": _png(640, 480), "path": None},
                {"bytes": _png(128, 900), "path": None},
            ],
            "text": ["count the cups", "is there a cat?"],
        }
    )
    pq.write_table(table, tmp_path / "set.parquet")
    scenario = _with_source(tmp_path, {"kind": "dataset", "path": str(tmp_path / "set.parquet")})
    data = run(scenario, tmp_path / "out", "--parallel", "2", "--number", "6")
    [level] = data["levels"]
    assert level["succeeded"] == 6 and level["workload"]["tokens_mismatched"] == 0


def test_a_trace_replays_at_its_own_timing(tmp_path: Path) -> None:
    """The shipped trace's first 60 requests (Poisson arrivals): sent open-loop on the
    trace's schedule, the slip measured, prompt tokens as predicted for images the trace
    names by size."""
    data = run(SCENARIOS / "workload-trace.yaml", tmp_path, "--number", "60")
    [level] = data["levels"]
    seen, got = level["workload"], checks(level)
    assert level["succeeded"] == 60 and seen["requests"] == 60
    assert seen["tokens_mismatched"] == 0 and seen["tokens_checked"] == 60
    assert got["concurrency"][0] == "n/a"
    assert 0 <= seen["slip_p50_s"] <= seen["slip_p99_s"] <= seen["slip_max_s"]
    started = sorted(pd.read_parquet(data["_dir"] / REQUESTS_FILE).start_s)
    planned = [
        json.loads(line)["timestamp"]
        for line in (ROOT / "examples" / "traces" / "bursty-200.jsonl")
        .read_text()
        .splitlines()[:60]
    ]
    span, planned_span = started[-1] - started[0], planned[-1] - planned[0]
    assert abs(span - planned_span) < 0.5 + 0.05 * planned_span  # its own timing, not a burst
