"""The run report: the reference table, exactly its columns and number formats, plus context."""

from __future__ import annotations

import dataclasses
from typing import Any

from bench.analyze.fingerprint import fingerprint
from bench.report import telemetry
from bench.report.goodput import goodput_table, slo_text
from bench.report.precision import precision_table
from bench.report.serverview import server_view
from bench.report.tables import (
    FAILED,
    FLAGGED,
    NOT_HONOURED,
    PARTIAL,
    REFERENCE,
    Units,
    markdown_table,
    point_header,
    template,
)
from bench.report.workload import seen_table, workload_line
from bench.schema.attached import OfflineSummary
from bench.schema.metrics import METRICS, REFERENCE_COLUMNS
from bench.schema.results import (
    LevelResult,
    RunResult,
    aggregate,
    by_level,
    load_point,
    median_level,
    point_label,
)
from bench.schema.scenario import Scenario
from bench.schema.scenario_load import LoadSpec


def _spread(key: str, level: LevelResult, repeats: list[LevelResult], units: Units) -> str:
    """`median [min–max]` over a level's measured repeats (success rate: over all)."""
    values = [lv.value(key) for lv in repeats if key == "success_rate" or lv.measured]
    low, high = units.cell(key, min(values)), units.cell(key, max(values))
    return units.cell(key, level.value(key)) + f" [{low}–{high}]"


def level_row(
    level: LevelResult, repeats: list[LevelResult] | None = None, units: Units = REFERENCE
) -> tuple[list[str], str | None]:
    """The reference-table cells of one level, and a footnote when it must not be trusted.
    With `repeats` (more than one), `level` is their median level and every cell shows
    the median and the range. The first cell is the level's load point: its concurrency,
    or a rate sweep level's `64 @ 2 req/s` (its cap alone would not tell the rates apart).
    `units`: the reference's seconds, or milliseconds for people (bench.report.tables)."""
    if repeats and len(repeats) > 1:
        cells, note = level_row(level, units=units)
        if level.succeeded:
            cells[1:] = [_spread(k, level, repeats, units) for k in REFERENCE_COLUMNS]
        return cells, note
    conc = where = point_label(load_point(level))
    if not level.measured:
        cells = ["—"] * (len(REFERENCE_COLUMNS) - 1) + [
            units.cell("success_rate", level.success_rate)
        ]
        return [f"{conc} {FAILED}", *cells], f"{FAILED} conc {conc}: {level.reason or level.status}"
    cells = [units.cell(k, level.value(k)) for k in REFERENCE_COLUMNS]
    note = None
    if not level.tokens_honoured:
        conc = f"{conc} {NOT_HONOURED}"
        note = (
            f"{NOT_HONOURED} conc {where}: output length not honoured — "
            f"{level.wrong_length} of {level.succeeded} requests did not produce "
            f"{level.expected_output_tokens} tokens (got {level.output_tokens_min}"
            f"..{level.output_tokens_max}); throughput and TPOT are not comparable"
        )
    if level.status == "partial":
        # Fewer requests than asked: marked in the cell, excluded from capacity.
        conc = f"{conc} {PARTIAL}"
        partial = f"{PARTIAL} conc {where}: {level.reason}; not used for capacity"
        note = f"{note}; {partial}" if note else partial
    # The output length has its † note, a partial level its own; every other flag gets ⚑.
    flags = [f for f in level.flags if not f.startswith(("output length:", "complete:"))]
    if flags:
        conc = f"{conc} {FLAGGED}"
        flagged = f"{FLAGGED} conc {where} flagged — " + "; ".join(flags)
        note = f"{note}; {flagged}" if note else flagged
    return [conc, *cells], note


def reference_table(levels: list[LevelResult], units: Units = REFERENCE) -> tuple[str, list[str]]:
    """Markdown table in the reference format (aligned), and its footnotes; repeated levels
    as `median [min–max]`; a rate sweep's first column headed `Conc. @ rate`. With
    `units=PEOPLE`, the same columns with times in milliseconds (the console's)."""
    rows, notes = [], []
    for group in by_level(levels):
        cells, note = level_row(median_level(group), group, units)
        rows.append(cells)
        if note:
            notes.append(note)
    return markdown_table(reference_header(levels, units), rows), notes


def reference_header(levels: list[LevelResult], units: Units = REFERENCE) -> list[str]:
    """The reference table's header; a rate sweep's first column `Conc. @ rate`."""
    point = point_header([load_point(lv) for lv in levels])
    return [point, *(units.label(k) for k in REFERENCE_COLUMNS)]


def rescale(level: LevelResult, time_scale: float) -> LevelResult:
    """A simulator level in the modelled hardware's time: seconds / scale, rates * scale."""
    out = dataclasses.replace(level, diagnostics=dataclasses.replace(level.diagnostics))
    out.duration_s = level.duration_s / time_scale
    if level.rate is not None:
        out.rate = level.rate * time_scale
    for metric in METRICS:
        if getattr(level, metric.key, 0.0) is None:
            continue  # not measured (goodput without an SLO)
        if metric.unit == "s":
            setattr(out, metric.key, level.value(metric.key) / time_scale)
        elif metric.unit.endswith("/s"):
            setattr(out, metric.key, level.value(metric.key) * time_scale)
    return out


def sim_time_scale(scenario: Scenario) -> float | None:
    """The simulator's time scale when the run measured a time-scaled simulator."""
    return scenario.server.simulated_time_scale()


def workload_summary(scenario: Scenario) -> str:
    """The load fields in words; a `workload:` run's prompt and images are its workload's
    (its own line, bench/report/workload.py), not evalscope's dataset."""
    load = scenario.load
    if scenario.workload is not None:
        return _load_words(load, ["the workload's prepared requests (see Workload)"])
    parts: list[str] = [load.dataset]
    if load.dataset == "random_vl":
        parts.append(
            f"{load.image_num} × {load.image_width}×{load.image_height} "
            f"{load.image_format} image(s)"
        )
    prompt = (
        f"{load.min_prompt_length}"
        if load.min_prompt_length == load.max_prompt_length
        else f"{load.min_prompt_length}–{load.max_prompt_length}"
    )
    parts.append(f"{prompt}-token prompts")
    return _load_words(load, parts)


def _load_words(load: LoadSpec, parts: list[str]) -> str:
    """`parts` and the output length, streaming and warm-up, joined."""
    out = (
        f"exactly {load.max_tokens}"
        if load.min_tokens == load.max_tokens
        else f"{load.min_tokens}–{load.max_tokens}"
    )
    parts.append(f"{out} output tokens" + (" (ignore_eos)" if load.ignore_eos else ""))
    parts.append("streamed" if load.stream else "not streamed")
    warmup = load.warmup_requests
    parts.append(
        "warm-up: one wave per level, not measured"
        if warmup == "parallel"
        else f"warm-up: {warmup} requests per level, not measured"
        if warmup
        else "no warm-up"
    )
    return ", ".join(parts)


def plot_caption(run: RunResult) -> str:
    """Scenario, hardware, backend and workload, in one line under every plot."""
    scenario, load = run.scenario, run.scenario.load
    parts = [f"{run.scenario_name} ({run.run_id})"]
    parts += [x for x in (scenario.hardware, scenario.backend) if x]
    sent = f"{load.dataset} {load.image_width}×{load.image_height}"
    if scenario.workload is not None:
        sent = f"workload {run.provenance.workload_fingerprint or scenario.workload.source.path}"
    parts.append(f"{sent}, {load.max_tokens} output tokens")
    scale = sim_time_scale(scenario)
    if scale:
        parts.append(f"simulator seconds (time scale {scale})")
    return " · ".join(parts)


def what_happened(run: RunResult) -> list[str]:
    """Markdown lines for a run that is not clean: its status and reason, then every
    incident with its details (a server's last output as a code block)."""
    lines = [f"- Status: {run.status}" + (f" — {run.reason}" if run.reason else "")]
    for inc in run.incidents:
        where = f"conc {inc.parallel}" if inc.parallel else "before the sweep"
        again = ", restarted and the level measured again" if inc.restarted else ""
        lines.append(f"- Incident at {inc.at or '?'}, {where}: {inc.kind}{again}")
        lines.append(f"  {inc.detail or '(no detail)'}")
        if inc.level_reason:
            lines.append(f"  The level: {inc.level_reason}")
        if inc.log_tail:
            lines += ["  Last lines of server.log:", "", "  ```"]
            lines += [f"  {line}" for line in inc.log_tail]
            lines.append("  ```")
    partial = [lv for lv in run.levels if lv.status == "partial"]
    for lv in partial:
        lines.append(f"- Conc {point_label(load_point(lv))} is partial ({PARTIAL}): {lv.reason}")
    return lines


def render_report(run: RunResult, plots: list[str] | None = None) -> str:
    table, notes = reference_table(run.levels)
    scale = sim_time_scale(run.scenario)
    rescaled = reference_table([rescale(lv, scale) for lv in run.levels])[0] if scale else ""
    return template("report.md.j2").render(
        run=run,
        table=table,
        notes=notes,
        workload=workload_summary(run.scenario),
        workload_line=workload_line(run),
        seen=seen_table(run.levels),
        prov=run.provenance,
        time_scale=scale,
        rescaled=rescaled,
        offline=offline_lines(run.offline, run) if run.offline else [],
        plots=plots or [],
        view=server_view(run.levels),
        telemetry=telemetry.table(aggregate(run.levels)),
        stack=stack_line(run.provenance.to_dict()),
        happened=[] if run.ok else what_happened(run),
        goodput=goodput_table(aggregate(run.levels)),
        precision=precision_table(run.levels),
        slo=slo_text(run.scenario.slo),
    )


def offline_lines(offline: OfflineSummary, run: RunResult | None) -> list[str]:
    """The offline batch's throughput, and the run's best online level beside it."""
    lines = [
        f"Offline (vllm.LLM, one batch of {offline.requests} prompts, "
        f"{offline.max_tokens} output tokens each): "
        f"{offline.rps:.2f} req/s, {offline.output_tok_s:.2f} output "
        f"tok/s; batch {offline.generate_s:.2f} s, engine start {offline.init_s:.1f} s"
        f" (vLLM {offline.vllm_version or '?'})."
    ]
    if offline.wrong_length:
        lines.append(
            f"{NOT_HONOURED} {offline.wrong_length} of {offline.requests} offline requests "
            f"did not produce {offline.max_tokens} tokens "
            f"({offline.output_tokens_min}..{offline.output_tokens_max})."
        )
    ok = [lv for lv in aggregate(run.levels if run else []) if lv.status == "ok" and lv.succeeded]
    if ok:
        best = max(ok, key=lambda lv: lv.output_tok_s)
        share = 100 * best.output_tok_s / offline.output_tok_s
        lines.append(
            f"Online, best level (conc {best.parallel}): {best.output_tok_s:.2f} Gen. toks/s "
            f"= {share:.1f} % of offline; {best.rps:.2f} req/s."
        )
    return lines


def stack_line(prov: dict[str, Any]) -> str:
    """The recorded hardware and software a comparison must match, absent items last."""
    items = fingerprint(prov)
    text = ", ".join(f"{k} {v}" for k, v in items.items() if v != "absent")
    absent = [k for k, v in items.items() if v == "absent"]
    return text + (f" (absent: {', '.join(absent)})" if absent else "")
