"""The dashboard's inputs: run folders found under the given paths, read once, named for
the site, and the gate verdicts found beside them.

A path is a run folder (with run.json), a run.json file, or a folder searched for run
folders at any depth. Each run gets a page name (`slug`) made of safe characters only, so
a scenario named `<script>` or `../x` can neither break out of the site nor into markup.
A gate result is a `gate.md` written by `vlm-bench gate --out DIR` anywhere under the
paths: its first line (the verdict) and its "Baseline: …; candidate: …" line name the runs
(`run_label`), its table the flagged cells.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.analyze.compare import run_label
from bench.errors import UserError, one_line
from bench.safepath import MIB, read_regular
from bench.schema.metrics import METRICS
from bench.schema.results import RunResult, provenance_columns
from bench.schema.runfile import read_run
from bench.schema.text import bounded
from bench.store.db import shown as shown_db
from bench.store.frame import load_store
from bench.store.index import find_runs, not_a_run

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LABELS = {text: m.key for m in METRICS for text in (m.label, m.display_label)}
_SUMMARY = re.compile(r"^## gate: ([A-Z ]+?)(?: —|;| \(|$)")
# The verdicts `vlm-bench gate` writes on gate.md's first line (bench.analyze.gate).
GATE_VERDICTS = ("PASS", "REGRESSION", "NO DATA", "NOTHING COMPARABLE")
UNREADABLE = "UNREADABLE"
MAX_GATE_BYTES = 4 * MIB
_RUNS = re.compile(r"^Baseline: (.+?) \(\d+ repeats? per level\); candidate: (.+?) \(\d+ repeat")


@dataclass
class Entry:
    """One run of the site: the run, where it was read from, its page name and when."""

    run: RunResult
    path: Path
    slug: str
    started_at: str

    @property
    def label(self) -> str:
        return run_label(self.run)


@dataclass
class GateMark:
    """A gate result: its verdict, summary, the runs it judged, and its flagged cells
    as {(concurrency, metric key): verdict}."""

    verdict: str
    summary: str
    baseline: str
    candidate: str
    source: Path
    cells: dict[tuple[int, str], str] = field(default_factory=dict)


def slugify(text: str, salt: str = "") -> str:
    """A page name from any text: safe characters, short, and unique by a hash of `salt`."""
    base = _UNSAFE.sub("-", text).strip("-.")[:40] or "run"
    digest = hashlib.sha256(f"{text}\0{salt}".encode()).hexdigest()[:8]
    return f"{base}-{digest}"


def run_dirs(paths: list[Path]) -> list[Path]:
    """Every run folder named by or under `paths` (the store's search: not raw/, not
    hidden folders), once each, in path order."""
    found = [run_file.parent for path in paths for run_file in find_runs(path)]
    return list(dict.fromkeys(p.resolve() for p in found))


def store_dirs(db: str) -> list[Path]:
    """The run folders a results store indexed; those gone from this machine are skipped
    (logged): a page needs the run itself."""
    dirs = [Path(d) for d in dict.fromkeys(load_store(db)["run_dir"].astype(str))]
    kept = [d for d in dirs if (d / "run.json").is_file()]
    for gone in sorted(set(dirs) - set(kept)):
        log.warning("dashboard: %s is in the store but %s; skipped", gone, not_a_run(gone))
    return kept


def read_entries(paths: list[Path], db: str | None = None) -> list[Entry]:
    """The runs under `paths` and in the store `db`, by scenario then start time;
    UserError when there are none (or a run.json is bad: read_run's one line)."""
    entries, seen = [], set()
    folders = run_dirs(paths) + (store_dirs(db) if db else [])
    for folder in dict.fromkeys(folders):
        run = read_run(folder)
        # A baseline (`vlm-bench baseline save`) is a copy of a run: the run once.
        same = (run.scenario_name, run.run_id, run.scenario_hash)
        if same in seen:
            continue
        seen.add(same)
        started = provenance_columns(run).get("started_at") or ""
        entries.append(Entry(run, folder, "", str(started)))
    if not entries:
        shown = " ".join([str(p) for p in paths] + ([f"--db {shown_db(db)}"] if db else []))
        raise UserError(f"no runs found under {shown} (expected folders with run.json)")
    # As bench.analyze.history orders a series: by start, undated runs last.
    entries.sort(key=lambda e: (e.run.scenario_name, not e.started_at, e.started_at, e.run.run_id))
    for entry in entries:
        # Unique: one entry per (scenario, run id, scenario hash); stable across machines.
        run = entry.run
        entry.slug = slugify(f"{run.scenario_name}-{run.run_id}", run.scenario_hash)
    return entries


def _cells(lines: list[str]) -> dict[tuple[int, str], str]:
    """{(conc, metric): verdict} from the gate table's rows (`| ❌ REGRESSION | 8 | RPS |`)."""
    out = {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[1].isdigit():
            continue
        verdict = cells[0].split(" ", 1)[-1]
        key = _LABELS.get(cells[2])
        if key:
            out[(int(cells[1]), key)] = verdict
    return out


def _gate_lines(path: Path) -> list[str] | None:
    """The lines of a gate.md; None (the skip named in the log) when it cannot be read."""
    try:
        return read_regular(path, MAX_GATE_BYTES, "gate.md").decode("utf-8").splitlines()
    except UserError as exc:
        log.warning("dashboard: skipped %s", one_line(exc))
    except UnicodeDecodeError as exc:
        log.warning("dashboard: skipped %s: not UTF-8 text (byte %d)", path, exc.start)
    return None


def read_gate(path: Path) -> GateMark | None:
    """A gate.md's verdict and runs; None (named in the log) when it is not one `vlm-bench
    gate` wrote. One whose runs line is there but whose verdict line is not one the gate
    writes (edited by hand) is shown as UNREADABLE, never silently dropped."""
    lines = _gate_lines(path)
    if lines is None:
        return None
    runs = next((m for line in lines if (m := _RUNS.match(line))), None)
    if not runs:
        log.warning("dashboard: skipped %s: not a gate result (no 'Baseline: …' line)", path)
        return None
    baseline, candidate = bounded(runs.group(1), 200), bounded(runs.group(2), 200)
    head = _SUMMARY.match(lines[0]) if lines else None
    if not head or head.group(1) not in GATE_VERDICTS:
        log.warning("dashboard: %s: the verdict line is unreadable", path)
        summary = f"{path.name}: the verdict line is unreadable (edited?)"
        return GateMark(UNREADABLE, summary, baseline, candidate, path)
    summary = bounded(lines[0].removeprefix("## ").strip(), 500)
    return GateMark(head.group(1), summary, baseline, candidate, path, _cells(lines))


def find_gates(paths: list[Path]) -> list[GateMark]:
    """Every gate.md under the given folders (and beside given run folders)."""
    files: list[Path] = []
    for path in paths:
        folder = path.parent if path.is_file() else path
        if folder.is_dir():
            files += sorted(folder.rglob("gate.md"))
    marks = [read_gate(f) for f in dict.fromkeys(files)]
    return [m for m in marks if m is not None]
