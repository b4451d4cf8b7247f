"""`build_site`: the whole static dashboard in one folder, every page and asset a file.

Pages are flat in the folder (index.html, trend-*.html, run-*.html, compare-*.html) and
link each other by relative names; the stylesheet and script are copied into assets/.
Nothing is fetched from anywhere, so the site works opened from file:// and as a CI
artifact. A folder that already holds files is written into only when an earlier build
left its marker there (its old pages are removed first): `--out` never overwrites or
mixes with someone else's files.
"""

from __future__ import annotations

import logging
import shutil
from importlib import resources
from pathlib import Path

from bench.errors import UserError
from bench.report.dashboard import pages
from bench.report.dashboard.collect import find_gates, read_entries
from bench.report.dashboard.trends import tidy
from bench.safepath import writing

log = logging.getLogger(__name__)

MARKER = ".vlm-bench-dashboard"
ASSETS = ("dashboard.css", "dashboard.js")


def render_site(paths: list[Path], db: str | None = None) -> dict[str, str]:
    """{file name in the site: its text} for the runs under `paths` and in store `db`."""
    entries = read_entries(paths, db)
    gates = find_gates(paths)
    frame = tidy(entries)
    scenarios = pages.group(entries)
    site = {"index.html": pages.index_page(scenarios, gates)}
    for scenario in scenarios:
        site[f"trend-{scenario.slug}.html"] = pages.trend_page(scenario, frame, gates)
        for entry in scenario.entries:
            site[f"run-{entry.slug}.html"] = pages.run_page(entry, scenario)
            previous = scenario.previous(entry)
            if previous is not None:
                site[f"compare-{entry.slug}.html"] = pages.compare_page(previous, entry, scenario)
    for name in ASSETS:
        text = resources.files("bench.report.dashboard").joinpath("static", name).read_text()
        site[f"assets/{name}"] = text
    return site


def _check_out(out: Path) -> None:
    """UserError for an `--out` the site may not go into: checked before any work."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UserError(
            f"--out {out}: folder is not empty and holds no earlier dashboard "
            "(give a new or empty folder)"
        )


def _prepare(out: Path) -> None:
    """Create `out`, or remove an earlier build's pages and assets from it."""
    if (out / MARKER).is_file():
        for old in out.glob("*.html"):
            old.unlink()
        shutil.rmtree(out / "assets", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by vlm-bench dashboard\n")


def build_site(paths: list[Path], out: Path, db: str | None = None) -> list[Path]:
    """Render the site for the runs under `paths` (and in the store `db`) and write it
    into `out`; the files written."""
    with writing(out):
        _check_out(out)
    site = render_site(paths, db)
    written = []
    with writing(out):
        _prepare(out)
        for name, text in site.items():
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    log.debug("dashboard: %d pages in %s", len(written) - len(ASSETS), out)
    return written
