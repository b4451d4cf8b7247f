"""The typed server and client views: every key their writers can produce is a field, the
JSON they store is what the writers produced, and a hostile view is one line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import UserError
from bench.measure.servermetrics import COUNTERS, GAUGES, HISTOGRAMS, summarise
from bench.schema.runfile import read_run
from bench.schema.views import ClientView, ServerView
from tests.support.paths import RUNS

RUN = RUNS / "sim-quickstart" / "run.json"


def full_sample(t: float, scale: float, cpu: float) -> dict[str, object]:
    """A scrape holding every figure the servermetrics tables know."""
    sample: dict[str, object] = {"t": t, "client_cpu_s": cpu}
    sample.update({key: 1.0 * scale for key in GAUGES | COUNTERS})
    sample.update({key: [0.5 * scale, 4.0 * scale] for key in HISTOGRAMS})
    return sample


def test_every_key_summarise_can_produce_is_a_field() -> None:
    """Keys are built from the COUNTERS/HISTOGRAMS tables: a metric added there without a
    ServerView field would be refused (extra="forbid"), so summarise must produce it all.
    Also pins a bug: with `measured` given, summarise reused `window` for the request
    counts, so client_cpu_mean/max were never stored and the client CPU check never ran."""
    samples = [full_sample(0.0, 1.0, 0.0), full_sample(1.0, 2.0, 0.5), full_sample(2.0, 3.0, 1.0)]
    view = summarise(samples, window=None, measured=8)
    produced = set(view.to_dict())
    assert produced == set(ServerView.model_fields), set(ServerView.model_fields) - produced
    for key in COUNTERS:
        assert key in produced
    for key in HISTOGRAMS:
        assert {f"{key}_avg_s", f"level_{key}_requests"} <= produced


def test_a_stored_run_round_trips_its_views_unchanged() -> None:
    data = json.loads(RUN.read_text())
    run = read_run(RUN)
    for stored, level in zip(data["levels"], run.levels, strict=True):
        assert level.server.to_dict() == stored["server"]
        assert list(level.server.to_dict()) == list(stored["server"])  # key order kept
        assert level.client.to_dict() == stored["client"]


@pytest.mark.parametrize(
    ("block", "view", "words"),
    [
        ("server", {"samples": 1.5}, "levels[0].server.samples: expected an integer"),
        ("server", {"colour": 1}, "levels[0].server.colour: unknown field"),
        ("server", {"ttft_avg_s": "0.1"}, "levels[0].server.ttft_avg_s"),
        ("client", {"window": [0.0, "x"]}, "levels[0].client.window[1]"),
    ],
)
def test_a_hostile_view_is_one_line_naming_its_path(
    tmp_path: Path, block: str, view: dict[str, object], words: str
) -> None:
    data = json.loads(RUN.read_text())
    data["levels"][0][block] = view
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(UserError) as err:
        read_run(bad)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_median_view_keeps_counts_whole_and_flags_unanimous() -> None:
    """The median of repeats once turned window_exact into 0.5 or 0.0 (not False), so an
    inexact repeat's TTFT gap was shown, and counts into halves."""
    a = ServerView(ttft_avg_s=0.1, ttft_requests=4, window_exact=True)
    b = ServerView(ttft_avg_s=0.3, ttft_requests=5, window_exact=False)
    out = ServerView.median([a, b])
    assert out.ttft_avg_s == pytest.approx(0.2)
    assert out.ttft_requests == 4 and out.window_exact is False
    assert ClientView.median([ClientView(window=[0.0, 1.0], in_flight_mean=2.0)]).window is None
    assert ServerView().empty and not a.empty
