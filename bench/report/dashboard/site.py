"""`build_site`: the whole static dashboard in one folder, every page and asset a file.

Pages are flat in the folder (index.html, trend-*.html, run-*.html, compare-*.html) and
link each other by relative names; the stylesheet and script are copied into assets/.
Nothing is fetched from anywhere, so the site works opened from file:// and as a CI
artifact. A folder that already holds files is written into only when an earlier build
left its marker there (its old pages and assets are replaced, any other file in it is
kept): `--out` never overwrites or mixes with someone else's files. The new site replaces
the old one whole, at the end: a SIGTERM or Ctrl-C while it is written leaves the
previous site (or none), never half.
"""

from __future__ import annotations

import logging
import shutil
from importlib import resources
from pathlib import Path

from bench.errors import UserError
from bench.redact import scrub
from bench.report.dashboard import pages
from bench.report.dashboard.collect import find_gates, read_entries
from bench.report.dashboard.trends import tidy
from bench.safepath import replaced_folder, writing

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


def _clear_stale(out: Path) -> None:
    """Remove temporary sites an earlier build left beside `out` when it was killed
    outright (SIGKILL, power): only folders of this name pattern holding our marker."""
    for stale in out.parent.glob(f".{out.name}.*.tmp*"):
        if stale.is_dir() and not stale.is_symlink() and (stale / MARKER).is_file():
            log.warning("dashboard: removing %s, left by an interrupted build", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _keep_extras(out: Path, new: Path) -> None:
    """Files an earlier site folder holds besides its pages and assets (a README someone
    added) go into the new one: the swap replaces pages, not the user's files."""
    if not (out / MARKER).is_file():
        return
    for item in out.iterdir():
        if item.suffix == ".html" or item.name in ("assets", MARKER) or item.is_symlink():
            continue
        if item.is_dir():
            shutil.copytree(item, new / item.name, symlinks=True)
        elif item.is_file():
            shutil.copy2(item, new / item.name)


def build_site(paths: list[Path], out: Path, db: str | None = None) -> list[Path]:
    """Render the site for the runs under `paths` (and in the store `db`) and write it
    into `out`; the files written. The site is written into a folder beside `out` and
    moved into place whole (bench.safepath.replaced_folder): a signal or error while
    writing leaves the previous site. Every page passes the one sink redaction."""
    with writing(out):
        _check_out(out)
        _clear_stale(out)
    site = render_site(paths, db)
    with replaced_folder(out) as tmp:
        _keep_extras(out, tmp)
        (tmp / MARKER).write_text("written by vlm-bench dashboard\n")
        for name, text in site.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(scrub(text), encoding="utf-8")
    log.debug("dashboard: %d pages in %s", len(site) - len(ASSETS), out)
    return [out / name for name in site]
