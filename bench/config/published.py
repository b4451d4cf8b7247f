"""Published tables in the reference's markdown format, and how to compare against them.

The reference (reports/reference/vlm-r1-ovd-800ta2.md) prints RPS with two decimals and times
with three, so a measured value is compared with the interval its published figure was
rounded from: 0.04 RPS stands for [0.035, 0.045).
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

from bench.errors import UserError
from bench.safepath import MIB, read_regular
from bench.schema.metrics import BY_KEY, REFERENCE_COLUMNS, REFERENCE_HEADER
from bench.schema.provenance import Provenance, Published
from bench.schema.results import LevelResult, RunResult, RunStatus
from bench.schema.scenario import Scenario, scenario_hash

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reports" / "reference"
REFERENCE_GUIDE = REFERENCE_DIR / "vlm-r1-ovd-800ta2.md"

# Acceptance tolerances of the simulator profiles against their published tables.
TOLERANCE = {
    "rps": 0.10,
    "latency_avg_s": 0.10,
    "latency_p99_s": 0.10,
    "output_tok_s": 0.10,
    "ttft_avg_s": 0.25,
    "tpot_avg_s": 0.10,
    "tpot_p99_s": 0.10,
}

Table = dict[int, dict[str, float]]


_RULE = re.compile(r"\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*")

MAX_TABLE_BYTES = 4 * MIB  # the reference guide is ~20 KiB


def _concurrency(cell: str, where: str) -> int:
    if not re.fullmatch(r"[0-9]{1,6}", cell) or int(cell) < 1:
        raise UserError(f"{where}: Conc.: expected a positive integer, got {cell[:40]!r}")
    return int(cell)


def _figure(key: str, cell: str, where: str) -> float:
    """A published cell as a number: finite, not negative, a success rate at most 100 %."""
    label = BY_KEY[key].label
    try:
        value = float(re.sub(r"\s*%$", "", cell))
    except ValueError:
        raise UserError(f"{where}: {label}: not a number: {cell[:40]!r}") from None
    if not math.isfinite(value):
        raise UserError(f"{where}: {label}: not a finite number: {cell[:40]!r}")
    if value < 0:
        raise UserError(f"{where}: {label}: negative: {cell[:40]!r}")
    if key == "success_rate" and value > 100:
        raise UserError(f"{where}: {label}: above 100 %: {cell[:40]!r}")
    return value


def parse_reference_tables(text: str, source: str = "<text>") -> dict[str, Table]:
    """Every reference-format table in a markdown text, keyed by the heading above it.

    Cells are stored as printed: seconds, tokens/s, requests/s, success rate in %.
    """
    tables: dict[str, Table] = {}
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        # A heading continued on the next line keeps its first line.
        if line.startswith("#") and not (i and lines[i - 1].strip().startswith("#")):
            heading = line.lstrip("#").strip()
        if line.startswith("|") and "Conc." in line:
            header = [c.strip() for c in line.strip("|").split("|")]
            if header != REFERENCE_HEADER:
                missing = [c for c in REFERENCE_HEADER if c not in header]
                raise UserError(
                    f"{source}:{i + 1}: table columns differ from the reference's "
                    f"(missing: {', '.join(missing) or 'none'}; "
                    f"expected: {' | '.join(REFERENCE_HEADER)})"
                )
            table: Table = {}
            start = i + 1
            if i + 1 >= len(lines) or not _RULE.fullmatch(lines[i + 1].strip()):
                raise UserError(f"{source}:{i + 2}: expected the |---| rule under the header")
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if len(cells) != len(REFERENCE_HEADER):
                    raise UserError(
                        f"{source}:{i + 1}: expected {len(REFERENCE_HEADER)} cells, "
                        f"got {len(cells)}"
                    )
                conc = _concurrency(cells[0], f"{source}:{i + 1}")
                if conc in table:
                    raise UserError(f"{source}:{i + 1}: Conc.: concurrency {conc} appears twice")
                table[conc] = {
                    k: _figure(k, v, f"{source}:{i + 1}")
                    for k, v in zip(REFERENCE_COLUMNS, cells[1:], strict=True)
                }
                i += 1
            if not table:
                raise UserError(f"{source}:{start}: the table has no rows")
            tables[heading] = table
            continue
        i += 1
    return tables


def load_reference_tables() -> dict[str, Table]:
    """The reference's published tables, keyed by the first word of their heading."""
    tables = parse_reference_tables(REFERENCE_GUIDE.read_text(), str(REFERENCE_GUIDE))
    return {title.split()[0]: table for title, table in tables.items()}


# Which simulator profile is calibrated against which published table.
PROFILE_TABLES = {"ascend-800ta2-vllm": "vllm-ascend", "xllm-800ta2": "xLLM"}


def relative_error(key: str, measured: float, published: float) -> float:
    """Relative distance of `measured` from the interval `published` was rounded from."""
    half = 0.5 * 10 ** -BY_KEY[key].digits
    low, high = published - half, published + half
    if low <= measured <= high:
        return 0.0
    edge = high if measured > high else low
    return (measured - edge) / published


def pick_table(tables: dict[str, Table], wanted: str | None, source: str) -> tuple[str, Table]:
    """The table whose heading (or its first word) is `wanted`; the only one if None."""
    if not tables:
        raise UserError(f"{source}: no table in the reference format (| Conc. | RPS | …)")
    if wanted is None:
        if len(tables) > 1:
            names = ", ".join(repr(h.split()[0]) for h in tables)
            raise UserError(f"{source}: {len(tables)} tables; choose one with --table ({names})")
        return next(iter(tables.items()))
    for heading, table in tables.items():
        if wanted.lower() in (heading.lower(), heading.split()[0].lower()):
            return heading, table
    names = ", ".join(repr(h.split()[0]) for h in tables)
    raise UserError(f"--table {wanted!r}: no such table in {source} (there: {names})")


def import_table(
    path: Path,
    name: str,
    scenario: Scenario,
    table_name: str | None = None,
    hardware: str | None = None,
    backend: str | None = None,
) -> RunResult:
    """A published table as a run: the scenario that produced it (its load and sweep, for
    request counts and comparability), one level per row, marked published (no raw data,
    no repeats, only the reference's columns)."""
    try:  # a regular file only (a FIFO would block), bounded
        text = read_regular(path, MAX_TABLE_BYTES, "published table").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    heading, table = pick_table(parse_reference_tables(text, str(path)), table_name, str(path))
    numbers = dict(scenario.sweep.levels())
    extra = sorted(set(table) - set(numbers))
    if extra:
        raise UserError(
            f"{path}: table {heading.split()[0]!r} has concurrency {extra} that scenario "
            f"{scenario.name} does not sweep ({sorted(numbers)})"
        )
    levels = []
    for index, conc in enumerate(sorted(table), 1):
        row, number = table[conc], numbers[conc]
        succeeded = round(row["success_rate"] / 100 * number)
        level = LevelResult(
            conc,
            number,
            index=index,
            succeeded=succeeded,
            failed=number - succeeded,
        )
        for key, value in row.items():
            if key != "success_rate":
                setattr(level, key, value)
        levels.append(level)
    named = {"name": name, "hardware": hardware, "backend": backend}
    resolved = scenario.model_copy(update={k: v for k, v in named.items() if v is not None})
    provenance = Provenance(
        published=Published(
            source=path.name,
            table=heading,
            sha256=hashlib.sha256(text.encode()).hexdigest()[:16],
            scenario=scenario.name,
            metrics=list(REFERENCE_COLUMNS),
        )
    )
    return RunResult(
        "published", name, resolved, scenario_hash(scenario), provenance, levels, RunStatus.COMPLETE
    )
