"""`workload.video`: Qwen2.5-VL's video token rule, the section's checks, the simulator's
reading of a `video/jpeg` data URL (vLLM 0.32's: split on commas, the first 32 frames
kept) and the seeded pans a video is cut from."""

from __future__ import annotations

import base64
import io

import pytest
import yaml
from PIL import Image
from pydantic import ValidationError

from bench import imaging
from bench.schema.scenario_workload import VideoShape, WorkloadSpec
from bench.sim.openai import ApiError, decode_video
from bench.workload import media
from tests.support.paths import ROOT

PHOTOS = {"kind": "images", "path": "examples/photos"}


@pytest.mark.parametrize(
    ("width", "height", "frames", "limits", "tokens"),
    [
        (448, 336, 8, (3136, 1003520), 4 * 12 * 16),  # even: 4 temporal patches
        (448, 336, 5, (3136, 1003520), 3 * 12 * 16),  # odd: padded with the last frame
        (448, 336, 1, (3136, 1003520), 1 * 12 * 16),
        (640, 640, 2, (3136, 1003520), 23 * 23),  # 644x644 after rounding, as an image
        (1920, 1080, 4, (3136, 1003520), 2 * 26 * 47),  # above max: 728x1316
        (56, 56, 2, (128 * 28 * 28, 768 * 28 * 28), 1 * 12 * 12),  # below min: up to 336
    ],
)
def test_video_tokens(
    width: int, height: int, frames: int, limits: tuple[int, int], tokens: int
) -> None:
    assert imaging.video_tokens(width, height, frames, *limits) == tokens


def test_one_frame_pair_costs_what_one_image_does() -> None:
    for size in [(640, 640), (512, 600), (1600, 1200), (28, 5000)]:
        assert imaging.video_tokens(*size, 2, 3136, 1003520) == imaging.image_tokens(
            *size, 3136, 1003520
        )


def test_no_frames_is_an_error() -> None:
    with pytest.raises(ValueError, match="no frames"):
        imaging.video_tokens(448, 336, 0, 3136, 1003520)


def spec(**workload: object) -> WorkloadSpec:
    return WorkloadSpec.model_validate({"source": PHOTOS, **workload})


def test_a_video_section_round_trips_through_its_dump() -> None:
    """The bug it pins: refusing `sizes` by `model_fields_set` refused every stored spec,
    whose dump sets every field."""
    video = spec(video={"frames": 8, "width": 448, "height": 336}, reuse=0.5)
    again = WorkloadSpec.model_validate_json(video.model_dump_json())
    assert again == video and again.video is not None and again.video.frames == 8


@pytest.mark.parametrize(
    ("workload", "names"),
    [
        ({"video": {"frames": 0, "width": 448, "height": 336}}, "video.frames"),
        ({"video": {"frames": 33, "width": 448, "height": 336}}, "video.frames"),
        ({"video": {"frames": 4, "width": 27, "height": 336}}, "video.width"),
        ({"video": {"frames": 4, "width": 448, "height": 4097}}, "video.height"),
        ({"video": {"frames": 4, "width": 448, "height": 336, "fps": 2}}, "video.fps"),
        (
            {"video": {"frames": 4, "width": 448, "height": 336, "min_pixels": 9, "max_pixels": 8}},
            "min_pixels",
        ),
        (
            {
                "video": {"frames": 4, "width": 448, "height": 336},
                "sizes": [{"width": 64, "height": 64}],
            },
            "sizes: not used with video",
        ),
        (
            {"video": {"frames": 4, "width": 448, "height": 336}, "images_per_request": 2},
            "images_per_request: not used with video",
        ),
    ],
)
def test_video_section_refusals(workload: dict[str, object], names: str) -> None:
    with pytest.raises(ValidationError) as err:
        spec(**workload)
    assert names in str(err.value).replace("\n  ", ".").replace("\n", " ")


def test_video_needs_an_images_source() -> None:
    with pytest.raises(ValidationError, match="video: needs source kind 'images'"):
        WorkloadSpec.model_validate(
            {
                "source": {"kind": "trace", "path": "t.jsonl"},
                "video": {"frames": 4, "width": 448, "height": 336},
            }
        )


def jpeg(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def test_the_simulator_keeps_the_first_frames_as_vllm_does() -> None:
    url = "data:video/jpeg;base64," + ",".join(jpeg(64, 48) for _ in range(40))
    video = decode_video(url, 1, 32)
    assert (video.width, video.height, video.frames) == (64, 48, 32)
    assert decode_video(url, 1, 50).frames == 40


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("data:video/mp4;base64,AAAA", "expected 'data:video/jpeg"),
        ("https://example.com/v.mp4", "expected 'data:video/jpeg"),
        ("data:video/jpeg;base64," + jpeg(64, 48) + ",@@", "video 1, frame 2"),
        ("data:video/jpeg;base64," + jpeg(64, 48) + "," + jpeg(32, 48), "not all of one size"),
    ],
)
def test_the_simulator_refuses_what_vllm_cannot_read(url: str, words: str) -> None:
    with pytest.raises(ApiError, match=words.replace("(", r"\(")):
        decode_video(url, 1, 32)


def test_a_clip_is_a_reproducible_pan() -> None:
    photo = (ROOT / "examples" / "photos").glob("*.jpg").__next__().read_bytes()
    clip = media.clip(photo, 96, 64, 4, seed=11)
    assert clip == media.clip(photo, 96, 64, 4, seed=11)
    assert clip != media.clip(photo, 96, 64, 4, seed=12)
    frames = [Image.open(io.BytesIO(f)) for f in clip.frames]
    assert [f.size for f in frames] == [(96, 64)] * 4
    assert len({f.tobytes() for f in frames}) == 4  # each frame differs from the others
    assert clip.data_url().startswith("data:video/jpeg;base64,")
    assert clip.data_url().count(",") == 4


def test_the_docs_video_section_is_a_valid_workload() -> None:
    """docs/workloads.md's YAML under "Video" is what a scenario may say."""
    text = (ROOT / "docs" / "workloads.md").read_text(encoding="utf-8")
    block = text.split("## Video", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    workload = WorkloadSpec.model_validate(yaml.safe_load(block)["workload"])
    assert workload.video is not None and workload.video.frames == 8
    assert imaging.video_tokens(448, 336, 8, 3136, 1003520) == 768  # the figure it quotes


def test_a_workload_without_video_keeps_its_fingerprint_and_hash() -> None:
    """`video:` came after runs of the shipped photos were stored: unset, it is left out of
    the fingerprint and the scenario hash, so those runs still compare with new ones (the
    stored run below was made before it existed; its photos are the ones in the box)."""
    import json

    from bench.config.scenario import load_scenario
    from bench.schema.scenario import scenario_hash
    from bench.workload.fingerprint import fingerprint

    scenario = load_scenario(ROOT / "scenarios" / "workload-photos.yaml")
    assert scenario.workload is not None and scenario.workload.video is None
    stored = json.loads((ROOT / "tests/data/workload-runs/workload-photos/run.json").read_text())
    got = fingerprint(scenario.workload, ROOT)
    assert got == stored["provenance"]["workload_fingerprint"]
    video = VideoShape(frames=2, width=56, height=56)
    with_video = scenario.workload.model_copy(update={"video": video})
    assert fingerprint(with_video, ROOT) != got
    assert scenario_hash(scenario, got) != scenario_hash(scenario, None)
