"""The report's second half: per level, the validity checks, the client's latency beside
the server's (from its histograms), and the server's own metrics."""

from __future__ import annotations

from typing import Any

from bench.report.tables import FLAGGED, markdown_table
from bench.schema.results import CheckStatus, LevelResult, aggregate

OK = "✓"
DASH = "—"


def _s(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else DASH


def _ms(value: Any) -> str:
    return f"{1000 * value:+.1f}" if isinstance(value, int | float) else DASH


def _pct(value: Any) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, int | float) else DASH


def checks_table(levels: list[LevelResult]) -> str:
    """Conc. | Valid | what was flagged (or the checks that could not run)."""
    rows = []
    for lv in levels:
        if not lv.checks:  # kept by --resume from a run made before levels were checked
            rows.append([str(lv.parallel), DASH, "not checked"])
            continue
        flagged = [c for c in lv.checks if c.status == CheckStatus.FLAG]
        skipped = [c.name for c in lv.checks if c.status == CheckStatus.NOT_APPLICABLE]
        mark = f"{FLAGGED} {len(flagged)}" if flagged else OK
        text = "; ".join(f"{c.name}: {c.detail}" for c in flagged) or "all checks passed"
        if skipped:
            text += f" (not checked: {', '.join(skipped)})"
        rows.append([str(lv.parallel), mark, text])
    return markdown_table(["Conc.", "Valid", "Flags"], rows)


def latency_table(levels: list[LevelResult]) -> str:
    """Client (evalscope) and server (histogram deltas) means side by side, and the gap."""
    header = [
        "Conc.",
        "Avg TTFT(s) client",
        "server",
        "gap (ms)",
        "Queue(s)",
        "Prefill(s)",
        "Avg TPOT(s) client",
        "server",
        "gap (ms)",
        "Requests (server)",
    ]
    rows = []
    for lv in levels:
        srv = lv.server
        ttft, tpot = srv.get("ttft_avg_s"), srv.get("tpot_avg_s")
        counted = f"{srv.get('ttft_requests', DASH)} of {lv.succeeded}"
        if srv.get("window_exact") is False:
            # Not the client's requests: no gap, and the level's exact count beside it.
            ttft = tpot = None
            counted += f" (window inexact; level: {srv.get('level_e2e_requests', DASH)})"
        rows.append(
            [
                str(lv.parallel),
                _s(lv.ttft_avg_s),
                _s(ttft),
                _ms(lv.ttft_avg_s - ttft) if ttft is not None else DASH,
                _s(srv.get("queue_avg_s")),
                _s(srv.get("prefill_avg_s")),
                _s(lv.tpot_avg_s),
                _s(tpot),
                _ms(lv.tpot_avg_s - tpot) if tpot is not None else DASH,
                counted,
            ]
        )
    return markdown_table(header, rows)


def metrics_table(levels: list[LevelResult]) -> str:
    """The server's gauges and counters over the level, and the load generator's load."""
    header = [
        "Conc.",
        "In flight",
        "Running",
        "Max waiting",
        "KV cache mean / max",
        "Preemptions",
        "Prefix hits",
        "MM hits",
        "Client CPU",
        "P90 start delay (ms)",
    ]
    rows = []
    for lv in levels:
        srv, cli = lv.server, lv.client
        kv = (
            f"{_pct(srv['kv_usage_mean'])} / {_pct(srv['kv_usage_max'])}"
            if "kv_usage_mean" in srv
            else DASH
        )
        delay = cli.get("start_delay_p90_s")
        rows.append(
            [
                str(lv.parallel),
                f"{srv['in_flight_median']:.1f}" if "in_flight_median" in srv else DASH,
                f"{srv['running_mean']:.1f}" if "running_mean" in srv else DASH,
                f"{srv['waiting_max']:.0f}" if "waiting_max" in srv else DASH,
                kv,
                f"{srv['preemptions']:.0f}" if "preemptions" in srv else DASH,
                _pct(srv.get("prefix_hit_rate")),
                _pct(srv.get("mm_hit_rate")),
                f"{srv['client_cpu_mean']:.2f}" if "client_cpu_mean" in srv else DASH,
                f"{1000 * delay:.1f}" if delay is not None else DASH,
            ]
        )
    return markdown_table(header, rows)


def server_view(run_levels: list[LevelResult]) -> dict[str, str]:
    """The three tables (repeats folded into medians); {} for a run that has no checks
    (a published table, or one measured before vlm-bench checked levels)."""
    levels = aggregate(run_levels)
    if not any(lv.checks for lv in levels):
        return {}
    out = {"checks": checks_table(levels)}
    if any(lv.server for lv in levels):
        out["latency"] = latency_table(levels)
        out["metrics"] = metrics_table(levels)
    return out
