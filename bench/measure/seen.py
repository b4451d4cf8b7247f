"""What a `workload:` level sent and what the server said it saw: the prepared requests
(bench/workload/prepare.py, one file per client process) joined to the client's records by
request digest, summed over the measured requests into the level's `WorkloadView`.

Per request, the prompt tokens the server reported (`usage.prompt_tokens`) are compared
with those Qwen2.5-VL's resize rule predicts for the images and videos sent (plus the chat
template's text): a server that dropped an image, resized it differently or counted what it should
not shows as a mismatch (judged in bench/analyze/validity.py). For a trace, the schedule
slip is each request's send time less its planned arrival, measured from the request that
went out earliest against its plan (so a constant start-up offset is not counted).
"""

from __future__ import annotations

import logging
from pathlib import Path

from bench.load.result import LoadRun, RequestRow
from bench.schema.figures import percentile
from bench.schema.views import WorkloadView
from bench.workload import prepare

log = logging.getLogger(__name__)


def summarise(got: LoadRun) -> WorkloadView:
    """The level's workload view; empty when it sent no prepared requests. Warm-up
    requests are not in the client's records, so the join leaves them out."""
    sent: dict[str, prepare.Sent] = {}
    metas = []
    for path in got.account.prepared:
        try:
            meta = prepare.read_meta(Path(path))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: prepared requests unreadable: %s", path, exc)
            continue
        metas.append(meta)
        sent.update((s.sha, s) for s in meta.requests if s.sha)
    if not metas:
        return WorkloadView()
    rows = [(r, sent[r.request_sha]) for r in got.rows if r.request_sha in sent]
    images = sum(s.images for _, s in rows)
    items = images + sum(s.videos for _, s in rows)
    low, high, where = metas[0].pixels_rule
    view = WorkloadView(
        fingerprint=metas[0].fingerprint,
        requests=len(rows),
        images=images,
        pixels=sum(s.pixels for _, s in rows),
        image_bytes=sum(s.image_bytes for _, s in rows),
        body_bytes=sum(s.body_bytes for _, s in rows),
        expected_mm_hit_rate=sum(s.repeats for _, s in rows) / items if items else 0.0,
        pixels_rule=f"min {low:,}, max {high:,} pixels ({where})",
    )
    if metas[0].video_pixels_rule is not None:
        low, high, where = metas[0].video_pixels_rule
        view.video_pixels_rule = f"min {low:,}, max {high:,} pixels a frame ({where})"
        view.videos = sum(s.videos for _, s in rows)
        view.frames = sum(s.frames for _, s in rows)
        view.video_bytes = sum(s.video_bytes for _, s in rows)
    if len(metas) == 1:  # one client sent them in this order
        view.sent_images = [s.images + s.videos for s in metas[0].requests]
        view.sent_repeats = [s.repeats for s in metas[0].requests]
    _tokens(view, rows)
    _slip(view, rows)
    return view


def _tokens(view: WorkloadView, rows: list[tuple[RequestRow, prepare.Sent]]) -> None:
    compared = [
        (r.prompt_tokens, s.predicted_prompt_tokens, s)
        for r, s in rows
        if r.success and r.prompt_tokens is not None and s.predicted_prompt_tokens is not None
    ]
    if not compared:
        return
    wrong = [(got, want, s) for got, want, s in compared if got != want]
    view.tokens_checked, view.tokens_mismatched = len(compared), len(wrong)
    if wrong:
        got, want, s = wrong[0]
        carried = f"{s.images} image(s), {s.pixels:,} pixels"
        if s.videos:
            carried = f"{s.videos} video(s) of {s.frames} frame(s)"
        view.tokens_example = (
            f"a request with {carried}: the server counted "
            f"{got} prompt tokens, the resize rule predicts {want}"
        )


def _slip(view: WorkloadView, rows: list[tuple[RequestRow, prepare.Sent]]) -> None:
    planned = [(r.start_time, s.arrival_s) for r, s in rows if s.arrival_s is not None]
    if len(planned) < 2:
        return
    offset = min(sent - plan for sent, plan in planned)
    slips = sorted(sent - plan - offset for sent, plan in planned)
    view.slip_p50_s = percentile(slips, 50)
    view.slip_p99_s = percentile(slips, 99)
    view.slip_max_s = slips[-1]
