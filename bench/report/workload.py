"""A `workload:` run in words and one table (docs/reports.md, "Reading a workload run").

`workload_line` states the distribution the run sent in one line: its fingerprint, the
source, the sizes, images per request, the reuse ratio beside the multimodal-cache hit rate
the server counted, and the bytes per request; report.md and the console print it. An
`images` source is shaped by the settings (images per request, reuse), so the line quotes
them; a requests file, dataset or trace carries its own, so the line gives what the levels
sent (mean images per request, the share of repeats). A video workload's line names the
frames and frame size of its one video a request, and the frames its levels sent.
`seen_table` is report.md's per-level table of what the server saw: images, pixels, bytes
sent, the hit rate the workload implies beside the one the server counted, the prompt
tokens checked against the model's resize rule, and a trace's schedule slip. A run
without a workload gives "" for both, so its report and console text stay as they were.
"""

from __future__ import annotations

from bench.report.tables import markdown_table
from bench.schema.results import LevelResult, RunResult, load_point, point_label
from bench.schema.scenario_workload import CountRange, CountWeights, WorkloadSpec

DASH = "—"
SOURCE_WORDS = {"images": "images", "requests": "requests", "dataset": "dataset", "trace": "trace"}
SEEN_HEADER = [
    "Conc.",
    "Requests",
    "Images",
    "Megapixels",
    "MB sent",
    "MM hits expected",
    "MM hits seen",
    "Prompt tokens checked",
    "Mismatched",
    "Slip P50 (ms)",
    "Slip P99 (ms)",
]


def workload_line(run: RunResult) -> str:
    """ "Workload wl-…: images from examples/photos at 640x640, 512x600; 2 images per
    request; reuse 0.5 (cache hits: 47.5 % of the images the server counted); 355 KB per
    request"; "" for a run without a `workload:` section."""
    spec = run.scenario.workload
    if spec is None:
        return ""
    fingerprint = run.provenance.workload_fingerprint or next(
        (lv.workload.fingerprint for lv in run.levels if lv.workload.fingerprint), None
    )
    shaped = spec.source.kind == "images"  # the others carry their own images and repeats
    parts = [
        f"{_source(spec)} at {_sizes(spec)}",
        _per_request(spec) if shaped else _images_sent(run.levels),
        _reuse(spec, run.levels) if shaped else _repeats_sent(run.levels),
    ]
    if spec.video is not None:
        parts[:2] = [f"{_source(spec)} as video", _video(spec, run.levels)]
    sent = _bytes_per_request(run.levels)
    if sent:
        parts.append(sent)
    return f"Workload {fingerprint or '(no fingerprint)'}: " + "; ".join(parts)


def _source(spec: WorkloadSpec) -> str:
    source = spec.source
    words = f"{SOURCE_WORDS[source.kind]} from {source.path}"
    if source.kind == "trace":
        words = f"a trace replayed from {source.path} (time scale {source.time_scale:g})"
    return words


def _sizes(spec: WorkloadSpec) -> str:
    """`640x640, 512x600`, each with its share when the weights are not all equal."""
    if not spec.sizes:
        return "the sizes the source has"
    total = sum(b.weight for b in spec.sizes)
    equal = len({b.weight for b in spec.sizes}) == 1
    return ", ".join(
        f"{b.width}x{b.height}" + ("" if equal else f" ({100 * b.weight / total:.0f} %)")
        for b in spec.sizes
    )


def _per_request(spec: WorkloadSpec) -> str:
    count = spec.images_per_request
    if isinstance(count, CountRange):
        return f"{count.min}–{count.max} images per request"
    if isinstance(count, CountWeights):
        total = sum(count.weights.values())
        shares = ", ".join(
            f"{n} ({100 * w / total:.0f} %)" for n, w in sorted(count.weights.items())
        )
        return f"{shares} images per request"
    return f"{count} image{'s' if count != 1 else ''} per request"


def _video(spec: WorkloadSpec, levels: list[LevelResult]) -> str:
    """ "1 video per request, 8 frames of 448x336 (64 frames sent)"."""
    assert spec.video is not None
    video = spec.video
    words = f"1 video per request, {video.frames} frames of {video.width}x{video.height}"
    frames = sum(lv.workload.frames or 0 for lv in levels)
    return words + (f" ({frames} frames sent)" if frames else "")


def _images_sent(levels: list[LevelResult]) -> str:
    """A requests file's, dataset's or trace's images per request, as the levels sent them."""
    requests = sum(lv.workload.requests or 0 for lv in levels)
    images = sum(lv.workload.images or 0 for lv in levels)
    if not requests:
        return "images per request as the source has them"
    mean = images / requests
    return f"{mean:.2g} image{'' if mean == 1 else 's'} per request on average"


def _reuse(spec: WorkloadSpec, levels: list[LevelResult]) -> str:
    """The reuse ratio asked for, and the server's cache hits."""
    return f"reuse {spec.reuse:g}" + _cache_hits(levels)


def _repeats_sent(levels: list[LevelResult]) -> str:
    """The share of the images sent that repeat an earlier one, as the source has it."""
    images = sum(lv.workload.images or 0 for lv in levels)
    repeats = sum(
        (lv.workload.expected_mm_hit_rate or 0) * (lv.workload.images or 0) for lv in levels
    )
    words = "repeats as the source has them"
    if images:
        words = f"{100 * repeats / images:.1f} % of the images repeat an earlier one"
    return words + _cache_hits(levels)


def _cache_hits(levels: list[LevelResult]) -> str:
    """The share of the images (or videos) the server counted that its multimodal cache
    answered, over every level ("" when it has no such counters)."""
    queries = sum(lv.server.mm_queries or 0 for lv in levels)
    hits = sum(lv.server.mm_hits or 0 for lv in levels)
    if not queries:
        return ""
    return f" (cache hits: {100 * hits / queries:.1f} % of the images the server counted)"


def _bytes_per_request(levels: list[LevelResult]) -> str:
    requests = sum(lv.workload.requests or 0 for lv in levels)
    body = sum(lv.workload.body_bytes or 0 for lv in levels)
    return f"{_size(body / requests)} per request" if requests and body else ""


def _size(n: float) -> str:
    """Bytes in decimal units, as a network counts them: `355 KB`, `1.2 MB`."""
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.0f} KB" if n >= 1e3 else f"{n:.0f} B"


def seen_table(levels: list[LevelResult]) -> str:
    """Per level (every repeat its own row), what the requests carried and what the server
    said it saw; "" when no level has a workload."""
    rows = [_seen_row(lv) for lv in levels if not lv.workload.empty]
    return markdown_table(SEEN_HEADER, rows) if rows else ""


def _seen_row(lv: LevelResult) -> list[str]:
    wl, server = lv.workload, lv.server
    expected = wl.expected_hit_rate_of_last(server.mm_queries or 0)
    point = point_label(load_point(lv)) + (f" #{lv.repeat}" if lv.repeat > 1 else "")
    return [
        point,
        _count(wl.requests),
        _count(wl.images),
        DASH if wl.pixels is None else f"{wl.pixels / 1e6:.1f}",
        DASH if wl.body_bytes is None else f"{wl.body_bytes / 1e6:.2f}",
        _pct(expected),
        _pct(server.mm_hit_rate),
        _count(wl.tokens_checked),
        _count(wl.tokens_mismatched),
        _ms(wl.slip_p50_s),
        _ms(wl.slip_p99_s),
    ]


def _count(value: int | None) -> str:
    return DASH if value is None else str(value)


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f} %"


def _ms(seconds: float | None) -> str:
    return DASH if seconds is None else f"{1000 * seconds:.1f}"
