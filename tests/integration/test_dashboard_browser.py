"""`vlm-bench dashboard` in a real browser: Debian's headless Chromium through playwright
opens every page from file://, with the network off, and checks what a reader would see.

Each page: no console error and no page error, every chart is an SVG with a drawn line
and points and a box larger than zero, every <a href> of the site opens a file of the
site; no two shown x labels overlap. One trend chart: hovering a point shows its value in
the tooltip, dragging across it zooms (the visible x range shrinks, points outside are
hidden) and "reset zoom" goes back; the page's filter hides the other lines and rescales
the y axis to nice ticks. Screenshots of the index and a trend page go under the test's
tmp folder, and once under /tmp/dashboard-shots/ for a person to look at. No browser is
ever downloaded: when /usr/bin/chromium is missing the test skips, but fails under CI=true.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from bench.report.dashboard.site import build_site
from tests.support import dashboard
from tests.support.paths import REFERENCE, RUNS

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path("/tmp/dashboard-shots")


def _browser_or_skip() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must run the dashboard's browser test")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dashboard")
    history = dashboard.history(root)
    build_site([history, RUNS, REFERENCE], root / "site")
    return root / "site"


@pytest.fixture(scope="module")
def page(site: Path) -> Iterator[Any]:
    _browser_or_skip()
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        # Nothing may be fetched from the network: any http(s) request is refused.
        context.route("http*://**", lambda route: route.abort())
        tab = context.new_page()
        tab.errors = []  # the page's console errors, page errors and failed requests
        tab.on("console", lambda m: m.type == "error" and tab.errors.append(m.text))
        tab.on("pageerror", lambda e: tab.errors.append(str(e)))
        tab.on("requestfailed", lambda r: tab.errors.append(f"request failed: {r.url}"))
        yield tab
        browser.close()


def _open(page: Any, path: Path) -> None:
    page.errors.clear()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")


# Per chart, in one round trip: its box, its drawn points and its line's path data.
CHARTS_JS = """() => [...document.querySelectorAll('svg.dash-chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  return {width: box.width, height: box.height,
          points: svg.querySelectorAll('circle.pt').length,
          line: [...svg.querySelectorAll('path.line')].map(p => p.getAttribute('d')).join('')};
})"""


# Per chart, the shown x labels: level ones by their boxes, turned ones by their anchors.
LABELS_JS = """() => [...document.querySelectorAll('svg.dash-chart')].map(svg => {
  const shown = [...svg.querySelectorAll('text.xlab')].filter(t => t.style.display !== 'none');
  return shown.map(t => {
    const b = t.getBoundingClientRect();
    return {rot: t.classList.contains('rot'), left: b.left, right: b.right,
            x: Number(t.getAttribute('x'))};
  });
})"""


def _check_charts(page: Any, name: str) -> int:
    charts = page.evaluate(CHARTS_JS)
    for i, chart in enumerate(charts):
        assert chart["width"] > 0 and chart["height"] > 0, f"{name}: chart {i} has no box"
        assert chart["points"] > 0, f"{name}: chart {i} has no points"
        assert chart["line"].startswith("M"), f"{name}: chart {i} has no line"
    for i, labels in enumerate(page.evaluate(LABELS_JS)):
        for a, b in itertools.pairwise(labels):
            if a["rot"]:  # turned 40°: one line height apart is clear of each other
                assert b["x"] - a["x"] >= 14, f"{name}: chart {i}: x labels overlap"
            else:
                assert b["left"] >= a["right"], f"{name}: chart {i}: x labels overlap"
    return len(charts)


def _links(page: Any, site: Path, name: str) -> set[Path]:
    hrefs = page.eval_on_selector_all(
        "a[href]", "els => els.map(a => new URL(a.getAttribute('href'), document.baseURI).href)"
    )
    targets = set()
    for href in hrefs:
        url = urlparse(href)
        assert url.scheme == "file", f"{name}: link out of the site: {href}"
        target = Path(unquote(url.path))
        assert target.is_file(), f"{name}: broken link {href}"
        assert site in target.parents, f"{name}: link out of the site: {href}"
        targets.add(target)
    return targets


def test_every_page_renders_and_links_resolve(page: Any, site: Path) -> None:
    pages = sorted(site.glob("*.html"))
    seen: set[Path] = set()
    drawn = 0
    for path in pages:
        _open(page, path)
        assert not page.errors, f"{path.name}: {page.errors}"
        drawn += _check_charts(page, path.name)
        seen |= _links(page, site, path.name)
    # Every page is reachable by following the site's links.
    assert {p for p in pages if p.name != "index.html"} <= seen
    assert drawn > 20


def _visible_points(chart: Any) -> int:
    return int(chart.locator("circle.pt:not(.gm):visible").count())


def test_hover_zoom_and_screenshots(page: Any, site: Path, tmp_path: Path) -> None:
    _open(page, site / "index.html")
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
    trend = next(site.glob("trend-history-*.html"))
    _open(page, trend)
    chart = page.locator("figure#trend-tpot_avg_s")
    svg = chart.locator("svg.dash-chart")
    assert svg.locator("g.cp").count() >= 1, "the TPOT step is marked as a change point"
    assert svg.locator("circle.gm").count() == 2, "the gate's candidate is ringed, per conc"
    assert svg.locator("g.series").count() == 2, "one chart per metric, a line per conc"

    point = svg.locator("g.series").last.locator("circle.pt:not(.gm)").nth(2)  # on top
    point.hover()
    tip = page.locator("div.tip")
    assert tip.is_visible()
    assert " ms" in tip.inner_text() and "history" in tip.inner_text()

    before = _visible_points(svg)
    box = svg.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.15, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y, steps=5)
    page.mouse.up()
    assert svg.get_attribute("data-view"), "dragging sets a zoomed range"
    zoomed = _visible_points(svg)
    assert 0 < zoomed < before
    chart.locator("button.reset").click()
    assert _visible_points(svg) == before
    # The filter: concurrency 2 alone; the other line and its legend entry are hidden.
    page.select_option("select.filter[data-key=conc]", "2")
    assert svg.locator("g.series:visible").count() == 1
    assert _visible_points(svg) == before // 2
    ticks = [float(t) for t in svg.locator("text.ylab").all_text_contents()]
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert ticks[0] == 0 and len(steps) == 1, f"y ticks not evenly spaced: {ticks}"
    page.select_option("select.filter[data-key=conc]", "")
    assert _visible_points(svg) == before
    assert not page.errors

    page.screenshot(path=str(tmp_path / "trend.png"), full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in ("index.png", "trend.png"):
        shutil.copy(tmp_path / name, SHOTS / name)
