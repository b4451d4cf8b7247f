"""`vlm-bench dashboard`: the static site built from the shipped and stored runs.

Every page is written, every link and asset of a page is a file of the site (nothing from
the network: no http(s) reference anywhere), every user text is escaped, the gate.md
`vlm-bench gate` writes is read back, and user mistakes are one line with exit 2. The
browser's view of the same site: tests/integration/test_dashboard_browser.py.
"""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.cli import main
from bench.report.dashboard.collect import read_gate
from bench.report.dashboard.site import MARKER, build_site
from bench.report.dashboard.svgchart import (
    Chart,
    Line,
    Point,
    nice_ticks,
    render,
    rotated,
    thinned,
    tick_text,
    x_room,
)
from bench.schema.runfile import read_run
from bench.store.db import open_store
from bench.store.index import index_run
from tests.support import dashboard
from tests.support.cli import last_error
from tests.support.golden import assert_golden
from tests.support.paths import REFERENCE, RUNS


class _Refs(HTMLParser):
    """Every href and src of a page, and how many <script> elements it has."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.refs += [v for k, v in attrs if k in ("href", "src") and v is not None]


def _refs(page: Path) -> _Refs:
    parser = _Refs()
    parser.feed(page.read_text())
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dash")
    dashboard.hostile(root)
    build_site([RUNS, REFERENCE, root / "hostile"], root / "site")
    return root / "site"


def test_every_page_is_written(site: Path) -> None:
    names = {p.name for p in site.glob("*.html")}
    runs = [read_run(p.parent) for p in sorted(RUNS.rglob("run.json"))]
    runs += [read_run(p.parent) for p in sorted(REFERENCE.rglob("run.json"))]
    scenarios = {run.scenario_name for run in runs} | {dashboard.HOSTILE}
    assert "index.html" in names
    assert len([n for n in names if n.startswith("run-")]) == len(runs) + 1
    assert len([n for n in names if n.startswith("trend-")]) == len(scenarios)
    # One compare page per run with an earlier run of its scenario.
    assert len([n for n in names if n.startswith("compare-")]) == len(runs) + 1 - len(scenarios)
    assert (site / "assets" / "dashboard.js").is_file() and (site / MARKER).is_file()


def test_every_reference_is_a_file_of_the_site(site: Path) -> None:
    for page in site.glob("*.html"):
        refs = _refs(page)
        assert refs.scripts == 1, f"{page.name}: only the site's own script"
        for ref in refs.refs:
            assert not re.match(r"^[a-z]+:", ref), f"{page.name}: {ref} leaves the site"
            target = (site / ref.split("#")[0]).resolve()
            assert target.is_file() and site.resolve() in target.parents, f"{page.name}: {ref}"
    for asset in (site / "assets").iterdir():
        assert "http:" not in asset.read_text() and "https:" not in asset.read_text()


def test_user_text_is_escaped(site: Path) -> None:
    pages = [p for p in site.glob("*.html") if "&lt;script&gt;" in p.read_text()]
    assert len(pages) >= 3  # the index, the run's page and its trend page
    for page in site.glob("*.html"):
        assert "<script>alert" not in page.read_text(), page.name
    hostile = next(site.glob("run-script-alert*.html")).read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile  # the check's detail, as text


def test_run_page_shows_checks_and_provenance(site: Path) -> None:
    page = next(site.glob("run-quickstart-20261128-222055*.html")).read_text()
    for text in ("Validity checks", "output length", "0.1.0+sim", "Results", "Plots"):
        assert text in page
    assert page.count('class="dash-chart"') == 7  # the four figures' panels


def test_index_golden(site: Path) -> None:
    """The index of the shipped runs and the hostile one (its name escaped)."""
    assert_golden("dashboard-index.html", (site / "index.html").read_text())


def test_trends_mark_changes_and_gate(tmp_path: Path) -> None:
    history = dashboard.history(tmp_path)
    mark = read_gate(history / "gate" / "gate.md")
    assert mark is not None and mark.verdict == "REGRESSION"
    assert mark.candidate.startswith("history ") and (1, "tpot_avg_s") in mark.cells
    build_site([history], tmp_path / "site")
    trend = next((tmp_path / "site").glob("trend-history-*.html")).read_text()
    assert trend.count('class="cp"') >= 4  # TPOT, RPS, throughput, P99 latency stepped
    assert 'class="gm pt"' in trend and "gate vs history" in trend


def test_runs_from_a_store(tmp_path: Path) -> None:
    history = dashboard.history(tmp_path)
    db = tmp_path / "runs.db"
    with open_store(db) as store:
        for run_file in sorted(history.rglob("run.json")):
            index_run(store, run_file)
    written = build_site([], tmp_path / "site", str(db))
    assert len([p for p in written if p.name.startswith("run-")]) == dashboard.HISTORY


@pytest.mark.parametrize("where", ["env", "default"])
def test_no_path_and_no_db_reads_the_default_store(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    where: str,
) -> None:
    """Bug: README's `vlm-bench dashboard --out DIR` said 'give run folders or --db' although
    every run indexes itself into the default store, and VLM_BENCH_DB was ignored there."""
    history = dashboard.history(tmp_path)
    db = tmp_path / "elsewhere.db" if where == "env" else tmp_path / "reports" / "vlm-bench.db"
    db.parent.mkdir(exist_ok=True)
    with open_store(db) as store:
        for run_file in sorted(history.rglob("run.json")):
            index_run(store, run_file)
    monkeypatch.chdir(tmp_path)
    if where == "env":
        monkeypatch.setenv("VLM_BENCH_DB", str(db))
    else:
        monkeypatch.delenv("VLM_BENCH_DB", raising=False)
    assert main(["dashboard", "--out", str(tmp_path / "site")]) == 0
    assert "index.html" in capsys.readouterr().out
    assert len(list((tmp_path / "site").glob("run-*.html"))) == dashboard.HISTORY


def test_a_second_build_replaces_the_first(tmp_path: Path) -> None:
    build_site([dashboard.hostile(tmp_path)], tmp_path / "site")
    build_site([RUNS / "rejudge"], tmp_path / "site")
    assert not list((tmp_path / "site").glob("run-script-*.html"))
    assert list((tmp_path / "site").glob("run-quickstart-*.html"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "{tmp}/site"], "no store at reports/vlm-bench.db"),
        (["--out", "{tmp}/site", "{tmp}/empty"], "no runs found"),
        (["--out", "{tmp}/site", "{tmp}/nothere"], "no such file or folder"),
        (["--out", "{tmp}/file", str(RUNS)], "exists and is not a folder"),
        (["--out", "{tmp}/full", str(RUNS)], "folder is not empty"),
        (["--out", "{tmp}/site", "{tmp}/bad"], "bad"),
    ],
)
def test_user_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no reports/vlm-bench.db here
    monkeypatch.delenv("VLM_BENCH_DB", raising=False)
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.json").write_text("{not json")
    code, line = last_error(capsys, "dashboard", *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2 and message in line and "Traceback" not in line
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep"


def test_chart_escapes_and_formats() -> None:
    chart = Chart("<b>t</b>", "y", [Line("<i>", [Point(0, 1.5, "<tip>")])], [(0.0, "<x>")])
    chart.x_label = "<u>x</u>"
    svg = str(render(chart))
    assert "<b>" not in svg and "&lt;tip&gt;" in svg and "&lt;x&gt;" in svg
    assert "&lt;u&gt;x&lt;/u&gt;" in svg and "<u>" not in svg


def test_y_ticks_are_nice_numbers() -> None:
    """The bug: y ticks split 1.1 × the top in four (19.4, 14.6, 9.72, 4.86: uneven)."""
    assert nice_ticks(18.5) == [0, 5, 10, 15, 20]
    assert nice_ticks(3.4) == [0, 1, 2, 3, 4]
    assert nice_ticks(1.47) == [0, 0.5, 1.0, 1.5, 2.0]
    assert nice_ticks(0) == [0, 0.25, 0.5, 0.75, 1.0]
    for top in (0.0031, 0.9, 7.7, 18.5, 123.0, 999.0, 28567.0):
        ticks = nice_ticks(top)
        steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1 and 4 <= len(ticks) <= 7 and ticks[-1] >= top, top
    ticks = nice_ticks(4.4)
    assert [tick_text(v, ticks) for v in ticks] == ["0", "2", "4", "6"]
    ticks = nice_ticks(9.0)
    assert [tick_text(v, ticks) for v in ticks] == ["0.0", "2.5", "5.0", "7.5", "10.0"]


def test_x_labels_fit_without_overlap() -> None:
    """The bug: x labels overlapped; a run's date-and-time label is turned and thinned,
    and labels that land close together (near-equal throughputs) are not both shown."""
    short = [(float(c), str(c)) for c in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)]
    assert not rotated(short) and len(thinned(short, lambda x: 45 * x)) == len(short)
    close = [(291.0, "291"), (295.0, "295"), (576.0, "576")]
    assert thinned(close, lambda x: x) == [(291.0, "291"), (576.0, "576")]
    dated = [(float(i), f"2026-12-{1 + i // 4:02d} {9 + i % 4:02d}:00") for i in range(60)]
    assert rotated(dated)
    shown = thinned(dated, lambda x: 8 * x)
    assert shown[0] == dated[0] and len(shown) == 30
    assert all(8 * (b[0] - a[0]) >= x_room(dated) for a, b in itertools.pairwise(shown))
    svg = str(render(Chart("t", "y (ms)", [Line("a", [Point(0, 1, "p")])], dated)))
    assert 'transform="rotate(-40' in svg and 'data-xroom="16"' in svg


def test_trend_page_is_one_chart_per_metric_with_a_filter(tmp_path: Path) -> None:
    """The bug: a chart per metric and concurrency (a wall of small charts), runs labelled
    by date only, and no way to pick the lines."""
    history = dashboard.history(tmp_path)
    extra = tmp_path / "later"
    # A second run on the last day, at another hour: its own label, not the same date.
    data = (history / "run11" / "run.json").read_text().replace("T09:00:00", "T17:30:00")
    extra.mkdir()
    (extra / "run.json").write_text(data.replace("20261212-0900-0011", "20261212-1730-0012"))
    build_site([history, extra], tmp_path / "site")
    trend = next((tmp_path / "site").glob("trend-history-*.html")).read_text()
    assert trend.count('<figure class="chart"') == 5  # the five trend metrics
    assert trend.count('class="series" data-name="conc 1"') == 5
    assert 'data-f-conc="2"' in trend and 'class="filter" data-key="conc"' in trend
    assert ">2026-12-12 09:00<" in trend and ">2026-12-12 17:30<" in trend
    assert "run (start date and time)" in trend and "Avg TPOT (ms)" in trend
    index = (tmp_path / "site" / "index.html").read_text()
    assert index.count('id="overview-') == 5 and 'data-f-scenario="history"' in index


def _trend_and_index(site: Path) -> tuple[str, str]:
    trend = next(site.glob("trend-workload-photos-*.html")).read_text()
    return trend, (site / "index.html").read_text()


def test_trends_keep_runs_of_different_workloads_apart(tmp_path: Path) -> None:
    """The bug: trends grouped runs by scenario name only, so a run whose workload changed
    (another reuse ratio) joined the same line and the change of workload was drawn as a
    change point of performance."""
    runs = dashboard.workload_history(tmp_path)
    build_site([runs], tmp_path / "site")
    trend, index = _trend_and_index(tmp_path / "site")
    for workload in (dashboard.WORKLOAD_A, dashboard.WORKLOAD_B):
        assert trend.count(f'class="series" data-name="conc 1 · {workload}"') == 5
        assert f'data-name="workload-photos · {workload} · conc 1"' in index
    assert 'class="cp"' not in trend
    # The same runs as one workload: one line per concurrency, and the step is found.
    for run_file in runs.rglob("run.json"):
        text = run_file.read_text().replace(dashboard.WORKLOAD_B, dashboard.WORKLOAD_A)
        run_file.write_text(text)
    build_site([runs], tmp_path / "one")
    trend, _ = _trend_and_index(tmp_path / "one")
    assert trend.count('class="series" data-name="conc 1"') == 5
    assert trend.count('class="cp"') >= 3  # RPS, throughput, P99 latency at run 6
