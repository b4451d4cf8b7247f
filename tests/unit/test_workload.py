"""Workloads built off the hot path (bench/workload/): each source kind read from local
files, the shape (sizes, images per request, reuse) honoured exactly, the same seed giving
the same bytes, the fingerprint following content rather than paths, and every bad input
one UserError naming file, line and field."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pydantic import ValidationError

from bench import imaging
from bench.errors import UserError
from bench.schema.scenario_workload import WorkloadSpec
from bench.workload.build import build_level
from bench.workload.fingerprint import fingerprint
from tests.support.paths import ROOT

PHOTOS = ROOT / "examples" / "photos"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLM_BENCH_CACHE", str(tmp_path / "cache"))


def spec(**fields: Any) -> WorkloadSpec:
    fields.setdefault("source", {"kind": "images", "path": str(PHOTOS)})
    return WorkloadSpec.model_validate(fields, strict=False)


def png(width: int, height: int, colour: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def decoded_sizes(body: dict[str, Any]) -> list[tuple[int, int]]:
    out = []
    for part in body["messages"][0]["content"]:
        if part["type"] == "image_url":
            data = base64.b64decode(part["image_url"]["url"].partition(",")[2])
            out.append(Image.open(io.BytesIO(data)).size)
    return out


def test_photos_in_the_box_are_real_photos_with_their_sources_named() -> None:
    files = sorted(PHOTOS.glob("*.jpg"))
    assert len(files) >= 5
    sources = (PHOTOS / "SOURCES.md").read_text()
    for f in files:
        assert f.name in sources
        with Image.open(f) as im:
            assert im.format == "JPEG" and min(im.size) >= 300


def test_sizes_and_images_per_request_are_honoured_and_sent_as_said() -> None:
    level = build_level(
        spec(
            sizes=[{"width": 64, "height": 48}, {"width": 40, "height": 90}],
            images_per_request={"min": 1, "max": 3},
        ),
        ROOT,
        seed=3,
        number=30,
    )
    counts = {len(r.images) for r in level.requests}
    assert counts == {1, 2, 3}
    for request in level.requests:
        sent = decoded_sizes(request.body)
        assert sent == [(i.width, i.height) for i in request.images]
        assert set(sent) <= {(64, 48), (40, 90)}
    described = level.describe()
    assert described["requests"] == 30 and set(described["sizes"]) == {"64x48", "40x90"}


def test_no_reuse_means_every_picture_is_distinct() -> None:
    level = build_level(
        spec(sizes=[{"width": 32, "height": 32}], images_per_request=2), ROOT, 1, 40
    )
    digests = [i.digest for r in level.requests for i in r.images]
    assert len(set(digests)) == len(digests) == 80
    assert level.expected_hit_rate() == 0.0


@pytest.mark.parametrize("reuse", [0.25, 0.5, 0.9])
def test_reuse_ratio_is_exact_over_the_slots_after_the_first_request(reuse: float) -> None:
    level = build_level(
        spec(sizes=[{"width": 32, "height": 32}], images_per_request=2, reuse=reuse), ROOT, 5, 101
    )
    slots = 2 * 100  # the first request's two images cannot repeat anything
    repeats = round(level.expected_hit_rate() * 202)
    assert repeats == round(reuse * slots)
    for request in level.requests:  # never the same picture twice in one request
        digests = [i.digest for i in request.images]
        assert len(set(digests)) == len(digests)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_pictures() -> None:
    shape = spec(sizes=[{"width": 48, "height": 48}], reuse=0.5, images_per_request=2)
    a = build_level(shape, ROOT, 11, 12)
    b = build_level(shape, ROOT, 11, 12)
    c = build_level(shape, ROOT, 12, 12)
    assert [r.body for r in a.requests] == [r.body for r in b.requests]
    assert {i.digest for r in a.requests for i in r.images}.isdisjoint(
        {i.digest for r in c.requests for i in r.images}
    )


def test_ovd_prompt_names_the_objects_and_a_prefix_comes_first() -> None:
    level = build_level(
        spec(prefix="SHARED PREFIX", sizes=[{"width": 32, "height": 32}]), ROOT, 2, 5
    )
    for request in level.requests:
        content = request.body["messages"][0]["content"]
        assert content[0] == {"type": "text", "text": "SHARED PREFIX"}
        assert content[1]["type"] == "image_url"
        assert "bbox_2d" in content[-1]["text"] and "图中是否出现" in content[-1]["text"]


def test_a_requests_file_takes_paths_data_urls_and_bare_base64(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png(30, 20))
    b64 = base64.b64encode(png(50, 40)).decode()
    lines = [
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "a.png"}},
                        {"type": "text", "text": "what is this"},
                    ],
                }
            ],
            "max_tokens": 7,
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64}},
                        {"type": "image_url", "image_url": {"url": b64}},
                        {"type": "text", "text": "two"},
                    ],
                }
            ]
        },
    ]
    path = tmp_path / "reqs.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    level = build_level(spec(source={"kind": "requests", "path": str(path)}), tmp_path, 0, 4)
    sizes = sorted(tuple((i.width, i.height) for i in r.images) for r in level.requests)
    assert sizes == [((30, 20),), ((30, 20),), ((50, 40), (50, 40)), ((50, 40), (50, 40))]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("not json", "reqs.jsonl:2: not a JSON object"),
        ("[1]", "reqs.jsonl:2: expected a JSON object"),
        ('{"messages": 3}', "reqs.jsonl:2: messages: expected a list"),
        (
            '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": '
            '{"url": "http://example.invalid/x.png"}}]}]}',
            "only local images",
        ),
        (
            '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": '
            '{"url": "missing.png"}}]}]}',
            "not a regular file",
        ),
        ('{"messages": [{"role": "user", "content": "hi"}], "max_tokens": NaN}', "not a JSON"),
        ('{"messages": [{"role": "user", "content": "hi"}], "max_tokens": true}', "max_tokens"),
    ],
)
def test_a_bad_requests_file_is_one_line_naming_file_and_line(
    tmp_path: Path, line: str, says: str
) -> None:
    path = tmp_path / "reqs.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "fine"}]}\n' + line + "\n")
    with pytest.raises(UserError) as err:
        build_level(spec(source={"kind": "requests", "path": str(path)}), tmp_path, 0, 2)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_parquet_dataset_with_image_bytes_and_text(tmp_path: Path) -> None:
    table = pa.table(
        {
            "image": [{"bytes": png(20, 20), "path": None}, {"bytes": png(60, 30), "path": None}],
            "question": ["first", "second"],
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    shape = spec(source={"kind": "dataset", "path": "d.parquet", "text_column": "question"})
    level = build_level(shape, tmp_path, 4, 6)
    texts = {r.body["messages"][0]["content"][-1]["text"] for r in level.requests}
    assert texts == {"first", "second"}
    with pytest.raises(UserError, match="no column 'caption'"):
        build_level(
            spec(source={"kind": "dataset", "path": "d.parquet", "text_column": "caption"}),
            tmp_path,
            4,
            6,
        )


def test_a_datasets_folder_saved_to_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"image": [png(20, 10), png(10, 20)], "text": ["a", "b"]}
    ).cast_column("image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "saved"))
    level = build_level(spec(source={"kind": "dataset", "path": "saved"}), tmp_path, 0, 2)
    assert sorted((r.images[0].width, r.images[0].height) for r in level.requests) == [
        (10, 20),
        (20, 10),
    ]


def test_a_trace_keeps_its_timing_scaled_and_its_lengths(tmp_path: Path) -> None:
    (tmp_path / "p.png").write_bytes(png(40, 40))
    lines = [
        {"timestamp": 100.5, "prompt_tokens": 5, "output_tokens": 9, "images": ["p.png"]},
        {
            "timestamp": 100.0,
            "prompt": "hello",
            "output_tokens": 3,
            "images": [{"width": 33, "height": 44}],
        },
        {"timestamp": 102.0, "prompt": "x", "output_tokens": 600},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    shape = spec(source={"kind": "trace", "path": "t.jsonl", "time_scale": 2.0})
    level = build_level(shape, tmp_path, 0, 10, min_tokens=512)
    assert [r.arrival_s for r in level.requests] == [0.0, 1.0, 4.0]
    assert [r.body["max_tokens"] for r in level.requests] == [3, 9, 600]
    assert [r.body["min_tokens"] for r in level.requests] == [3, 9, 512]
    assert [(i.width, i.height) for i in level.requests[0].images] == [(33, 44)]
    out = tmp_path / "out.jsonl"
    level.write_jsonl(out, "served")
    first = json.loads(out.read_text().splitlines()[0])
    assert first["timestamp"] == 0.0 and first["body"]["model"] == "served"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"timestamp": -1, "prompt": "x", "output_tokens": 1}', "timestamp"),
        ('{"timestamp": "yesterday", "prompt": "x", "output_tokens": 1}', "timestamp"),
        ('{"timestamp": 1, "output_tokens": 1}', "give prompt"),
        ('{"timestamp": 1, "prompt": "x"}', "output_tokens"),
        (
            '{"timestamp": 1, "prompt": "x", "output_tokens": 1, "images": [{"width": 0, '
            '"height": 3}]}',
            "width",
        ),
        ('{"timestamp": 1, "prompt": "x", "output_tokens": 1, "images": "a.png"}', "images"),
    ],
)
def test_a_bad_trace_line_is_named(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(UserError) as err:
        build_level(spec(source={"kind": "trace", "path": "t.jsonl"}), tmp_path, 0, 1)
    assert "t.jsonl:1" in str(err.value) and says in str(err.value)


def test_a_source_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "fifo.jsonl")
    with pytest.raises(UserError, match="not a regular file"):
        build_level(spec(source={"kind": "requests", "path": "fifo.jsonl"}), tmp_path, 0, 1)
    with pytest.raises(UserError, match="no JPEG, PNG or WebP"):
        build_level(spec(source={"kind": "images", "path": str(tmp_path)}), tmp_path, 0, 1)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"images_per_request": {"min": 3, "max": 2}}, "min (3) is above max (2)"),
        ({"images_per_request": {"weights": {"0": 1.0}}}, "count 0"),
        ({"reuse": 0.99}, "less than or equal to 0.95"),
        ({"source": {"kind": "video", "path": "x"}}, "does not match any of the expected tags"),
        ({"sizes": [{"width": 0, "height": 5}]}, "greater than 0"),
        ({"min_pixels": 100, "max_pixels": 50}, "above max_pixels"),
    ],
)
def test_a_bad_workload_section_is_refused(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        spec(**fields)


def test_yaml_int_keys_and_json_string_keys_mean_the_same_weights() -> None:
    a = spec(images_per_request={"weights": {1: 1.0, 2: 3.0}})
    b = spec(images_per_request={"weights": {"1": 1.0, "2": 3.0}})
    assert a == b


def test_the_fingerprint_follows_content_and_shape_not_paths(tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(PHOTOS, moved)
    here = fingerprint(spec(), ROOT)
    assert fingerprint(spec(source={"kind": "images", "path": str(moved)}), ROOT) == here
    assert fingerprint(spec(reuse=0.5), ROOT) != here
    (moved / "astronaut.jpg").write_bytes((moved / "astronaut.jpg").read_bytes() + b"\0")
    assert fingerprint(spec(source={"kind": "images", "path": str(moved)}), ROOT) != here


@pytest.mark.parametrize(
    ("size", "tokens"),
    [((640, 640), 529), ((512, 600), 18 * 21), ((300, 200), 11 * 7), ((2000, 1500), 30 * 41)],
)
def test_predicted_image_tokens_follow_qwen25_vl_resize(size: tuple[int, int], tokens: int) -> None:
    width, height = size
    got = imaging.image_tokens(width, height, 3136, 1280 * 28 * 28)
    h, w = imaging.smart_resize(height, width, 3136, 1280 * 28 * 28)
    assert got == (h // 28) * (w // 28)
    assert got == tokens


def test_the_shipped_trace_is_what_its_script_writes() -> None:
    import runpy

    script = ROOT / "examples" / "traces" / "make_trace.py"
    lines = runpy.run_path(str(script))["lines"]()
    assert (script.parent / "bursty-200.jsonl").read_text() == "\n".join(lines) + "\n"
    assert len(lines) == 200
