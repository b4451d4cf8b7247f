"""The report's second half: per level, the validity checks, the client's latency beside
the server's (from its histograms), and the server's own metrics. Times in milliseconds,
the one unit for people (bench.schema.metrics.DISPLAY_SCALE)."""

from __future__ import annotations

from typing import Any

from bench.report.tables import FLAGGED, markdown_table, point_header
from bench.schema.metrics import DISPLAY_SCALE
from bench.schema.results import CheckStatus, LevelResult, aggregate, load_point, point_label

OK = "✓"
DASH = "—"
# Seconds shown as the metric registry shows them (ms); the column headers say "ms".
SCALE = DISPLAY_SCALE["s"][1]


def _t(value: Any) -> str:
    """A time (stored in seconds) in milliseconds."""
    return f"{SCALE * value:.1f}" if isinstance(value, int | float) else DASH


def _ms(value: Any) -> str:
    """A signed gap (stored in seconds) in milliseconds."""
    return f"{SCALE * value:+.1f}" if isinstance(value, int | float) else DASH


def _fmt(value: float | None, spec: str) -> str:
    return DASH if value is None else format(value, spec)


def _or_dash(count: int | None) -> str:
    return DASH if count is None else str(count)


def _pct(value: Any) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, int | float) else DASH


def _point(lv: LevelResult) -> str:
    """The row's first cell: `8`, or a rate level's `64 @ 2 req/s`."""
    return point_label(load_point(lv))


def _header(levels: list[LevelResult]) -> str:
    return point_header([load_point(lv) for lv in levels])


def checks_table(levels: list[LevelResult]) -> str:
    """Conc. | Valid | what was flagged (or the checks that could not run)."""
    rows = []
    for lv in levels:
        if not lv.checks:  # kept by --resume from a run made before levels were checked
            rows.append([_point(lv), DASH, "not checked"])
            continue
        flagged = [c for c in lv.checks if c.status == CheckStatus.FLAG]
        skipped = [c.name for c in lv.checks if c.status == CheckStatus.NOT_APPLICABLE]
        mark = f"{FLAGGED} {len(flagged)}" if flagged else OK
        text = "; ".join(f"{c.name}: {c.detail}" for c in flagged) or "all checks passed"
        if skipped:
            text += f" (not checked: {', '.join(skipped)})"
        rows.append([_point(lv), mark, text])
    return markdown_table([_header(levels), "Valid", "Flags"], rows)


def latency_table(levels: list[LevelResult]) -> str:
    """Client (evalscope) and server (histogram deltas) means side by side, and the gap."""
    header = [
        _header(levels),
        "Avg TTFT (ms) client",
        "server",
        "gap (ms)",
        "Queue (ms)",
        "Prefill (ms)",
        "Avg TPOT (ms) client",
        "server",
        "gap (ms)",
        "Requests (server)",
    ]
    rows = []
    for lv in levels:
        srv = lv.server
        ttft, tpot = srv.ttft_avg_s, srv.tpot_avg_s
        counted = f"{_or_dash(srv.ttft_requests)} of {lv.succeeded}"
        if srv.window_exact is False:
            # Not the client's requests: no gap, and the level's exact count beside it.
            ttft = tpot = None
            counted += f" (window inexact; level: {_or_dash(srv.level_e2e_requests)})"
        rows.append(
            [
                _point(lv),
                _t(lv.ttft_avg_s),
                _t(ttft),
                _ms(lv.ttft_avg_s - ttft) if ttft is not None else DASH,
                _t(srv.queue_avg_s),
                _t(srv.prefill_avg_s),
                _t(lv.tpot_avg_s),
                _t(tpot),
                _ms(lv.tpot_avg_s - tpot) if tpot is not None else DASH,
                counted,
            ]
        )
    return markdown_table(header, rows)


def metrics_table(levels: list[LevelResult]) -> str:
    """The server's gauges and counters over the level, and the load generator's load."""
    header = [
        _header(levels),
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
            f"{_pct(srv.kv_usage_mean)} / {_pct(srv.kv_usage_max)}"
            if srv.kv_usage_mean is not None
            else DASH
        )
        delay = cli.start_delay_p90_s
        rows.append(
            [
                _point(lv),
                _fmt(srv.in_flight_median, ".1f"),
                _fmt(srv.running_mean, ".1f"),
                _fmt(srv.waiting_max, ".0f"),
                kv,
                _fmt(srv.preemptions, ".0f"),
                _pct(srv.prefix_hit_rate),
                _pct(srv.mm_hit_rate),
                _fmt(srv.client_cpu_mean, ".2f"),
                _fmt(SCALE * delay if delay is not None else None, ".1f"),
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
    if any(not lv.server.empty for lv in levels):
        out["latency"] = latency_table(levels)
        out["metrics"] = metrics_table(levels)
    return out
