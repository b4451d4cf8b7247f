"""Results for tests, built in one place: when the result model changes, adapt it here.

`level` and `run` make hand-made results; `reference` and `stored` read shipped and stored
runs; `repeated` and `measured` dress a stored run as a repeated or a measured one;
`reference_json` / `write_json` give the raw run.json mapping for tests that corrupt it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.schema.provenance import Provenance
from bench.schema.results import Diagnostics, LevelResult, RunResult
from bench.schema.runfile import read_run
from bench.schema.scenario import Scenario
from tests.support.paths import REFERENCE, RUNS

if TYPE_CHECKING:
    import pandas as pd

STARTED_AT = "2026-11-27T06:00:00+00:00"


def level(parallel: int = 8, number: int | None = None, **fields: Any) -> LevelResult:
    """One level; `number` defaults to 4 requests per slot, other figures to the model's."""
    return LevelResult(
        parallel=parallel, number=4 * parallel if number is None else number, **fields
    )


def small_scenario(**fields: Any) -> Scenario:
    """The smallest valid scenario (a simulator, one level), top-level `fields` replaced."""
    base: dict[str, Any] = {
        "name": "s",
        "model": {"served_name": "m", "tokenizer_path": "generated"},
        "server": {"kind": "sim"},
        "sweep": {"parallel": [1], "number": [1]},
    }
    return Scenario.model_validate({**base, **fields})


def run(
    levels: list[LevelResult] | None = None,
    run_id: str = "r",
    scenario_name: str = "s",
    scenario: Scenario | None = None,
    **fields: Any,
) -> RunResult:
    """A run of `levels` with the smallest scenario, hash and provenance unless given."""
    fields.setdefault("scenario_hash", "h")
    fields.setdefault("provenance", {})
    return RunResult(
        run_id, scenario_name, scenario or small_scenario(), levels=levels or [], **fields
    )


def reference(name: str = "vllm-ascend-800ta2") -> RunResult:
    """A shipped reference run (reports/reference/<name>): the guide's published tables."""
    return read_run(REFERENCE / name)


def stored(name: str) -> RunResult:
    """A stored simulator run (tests/data/runs/<name>), measured once with the CLI."""
    return read_run(RUNS / name)


def repeated(base: RunResult, tpot_scale: float, failed_at: int | None = None) -> RunResult:
    """`base` with 5 repeats per level: small deterministic spread, TPOT scaled; at
    concurrency `failed_at` the first repeat lost 2 requests."""
    out = copy.deepcopy(base)
    out.provenance = Provenance(started_at=STARTED_AT)
    out.run_id = f"r{tpot_scale}"
    levels = []
    for lv0 in base.levels:
        for r in range(1, 6):
            lv = copy.deepcopy(lv0)
            lv.repeat, lv.diagnostics = r, Diagnostics()
            wobble = 1 + (r - 3) * 0.002
            lv.tpot_avg_s = lv0.tpot_avg_s * tpot_scale * wobble
            lv.tpot_p99_s = lv0.tpot_p99_s * tpot_scale * wobble
            lv.output_tok_s = lv0.output_tok_s / tpot_scale * wobble
            lv.rps = lv0.rps / tpot_scale * wobble
            lv.ttft_avg_s = lv0.ttft_avg_s * wobble
            lv.ttft_p99_s = lv0.ttft_p99_s * wobble
            if failed_at == lv0.parallel and r == 1:
                lv.failed, lv.succeeded = 2, lv.number - 2
            levels.append(lv)
    out.levels = levels
    return out


def measured(base: RunResult, scale: float, run_id: str) -> RunResult:
    """A measured-looking run: `base` with times scaled, level 8 failed, level 16 short."""
    out = copy.deepcopy(base)
    out.run_id, out.scenario_name = run_id, "vlm-r1-ovd-800ta2"
    out.provenance = Provenance(started_at=STARTED_AT)
    for lv in out.levels:
        for key in ("latency_avg_s", "latency_p99_s", "ttft_avg_s", "ttft_p99_s"):
            setattr(lv, key, getattr(lv, key) * scale)
        lv.diagnostics = Diagnostics()
        if lv.parallel == 8:
            lv.status, lv.succeeded, lv.failed, lv.reason = "failed", 0, lv.number, "HTTP 500"
        if lv.parallel == 16:
            lv.expected_output_tokens, lv.wrong_length = 512, 3
            lv.output_tokens_min, lv.output_tokens_max = 100, 512
    return out


def reference_json(name: str = "vllm-ascend-800ta2") -> dict[str, Any]:
    """The raw run.json mapping of a shipped reference run, to corrupt on purpose."""
    data: dict[str, Any] = json.loads((REFERENCE / name / "run.json").read_text())
    return data


def write_json(folder: Path, text: str) -> Path:
    """`folder`/run.json holding `text` exactly (valid or not); the folder, for the CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(text)
    return folder


def tidy_runs(values: list[float | list[float]], **columns: Any) -> pd.DataFrame:
    """The store's tidy frame (bench.store.load_runs' columns) of one series: run i holds
    `values[i]` (a list: one value per repeat) for tpot_avg_s at concurrency 32, started
    an hour after run i - 1; `columns` set any column for every row (a list: per run)."""
    import pandas as pd

    rows = []
    for i, value in enumerate(values):
        per_run = {k: v[i] if isinstance(v, list) else v for k, v in columns.items()}
        for r, v in enumerate(value if isinstance(value, list) else [value], start=1):
            rows.append(
                {
                    "run_id": f"run-{i:02d}",
                    "run_dir": f"runs/run-{i:02d}",
                    "scenario_name": "s",
                    "scenario_hash": "h",
                    "workload_fingerprint": None,
                    "hardware": "sim",
                    "backend": "sim",
                    "model": "m",
                    "run_status": "complete",
                    "host": "host",
                    "started_at": f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00+00:00",
                    "ended_at": None,
                    "commit": f"{i:040x}",
                    "dirty": False,
                    "server_version": f"0.{i}.0",
                    "evalscope": "1.14.1",
                    "vlm_bench": "0.1.0",
                    "accelerators": None,
                    "published": False,
                    "level_index": 0,
                    "parallel": 32,
                    "number": 128,
                    "repeat": r,
                    "level_status": "ok",
                    "trusted": True,
                    "metric": "tpot_avg_s",
                    "value": v,
                    **per_run,
                }
            )
    return pd.DataFrame(rows)
