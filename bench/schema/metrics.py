"""Every metric vlm-bench reports, defined once: key, label, unit and direction.

Keys are identities used in run.json, levels.csv, comparisons and gates; labels are for
display only (and are exactly the reference table's column headers where it has the metric).
Definitions follow evalscope (docs/metrics.md, docs/evalscope.md): TTFT runs from just
before the HTTP post to the first non-empty content chunk; TPOT = (latency - TTFT) /
(output tokens - 1) per request; throughputs divide by the level's wall time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Better(Enum):
    HIGHER = "higher"
    LOWER = "lower"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    better: Better
    digits: int  # decimals in the reference table's format
    # The regression gate's defaults: a change must exceed `band` (relative) and `floor`
    # (absolute, in the metric's unit) to count. Metrics without a band are not gated.
    band: float | None = None
    floor: float = 0.0
    # Measured only with accelerator telemetry (docs/telemetry.md): a run without it does
    # not hold the metric, and the gate judges it only where both runs do.
    telemetry: bool = False

    @property
    def name(self) -> str:
        """The label without its "(s)" unit suffix: "Avg TTFT(s)" -> "Avg TTFT"."""
        return self.label.removesuffix("(s)").strip()

    @property
    def display_unit(self) -> str:
        """The unit people read the metric in (ms for seconds): every table, plot,
        comparison and console summary but the reference table."""
        return DISPLAY_SCALE.get(self.unit, (self.unit, 1.0))[0]

    @property
    def display_scale(self) -> float:
        """The factor from the stored unit (SI) to `display_unit`."""
        return DISPLAY_SCALE.get(self.unit, (self.unit, 1.0))[1]

    @property
    def display_digits(self) -> int:
        """Decimals in the display unit: 0.1 ms for times (a TPOT of 2.6 ms, not the
        reference's 0.003 s), whole milliseconds for end-to-end latency."""
        if self.unit not in DISPLAY_SCALE:
            return self.digits
        return 0 if self.key.startswith("latency_") else 1

    @property
    def display_label(self) -> str:
        """The label with its display unit: "Avg TTFT (ms)"; the label itself for a
        metric shown in its stored unit ("RPS", "Gen. toks/s")."""
        if self.unit not in DISPLAY_SCALE:
            return self.label
        return f"{self.name} ({self.display_unit})"


# Stored unit -> (display unit, factor): per-request times are stored in SI seconds
# (run.json, levels.csv, --json; the reference table keeps the guide's seconds) and shown
# to people in milliseconds everywhere else.
DISPLAY_SCALE: dict[str, tuple[str, float]] = {"s": ("ms", 1000.0)}


METRICS: tuple[Metric, ...] = (
    Metric("rps", "RPS", "req/s", Better.HIGHER, 2, band=0.05),
    Metric("latency_avg_s", "Avg Lat.(s)", "s", Better.LOWER, 3),
    Metric("latency_p50_s", "P50 Lat.(s)", "s", Better.LOWER, 3),
    Metric("latency_p90_s", "P90 Lat.(s)", "s", Better.LOWER, 3),
    Metric("latency_p99_s", "P99 Lat.(s)", "s", Better.LOWER, 3),
    Metric("output_tok_s", "Gen. toks/s", "tok/s", Better.HIGHER, 2, band=0.05),
    Metric("total_tok_s", "Total toks/s", "tok/s", Better.HIGHER, 2),
    Metric("ttft_avg_s", "Avg TTFT(s)", "s", Better.LOWER, 3, band=0.10, floor=0.010),
    Metric("ttft_p50_s", "P50 TTFT(s)", "s", Better.LOWER, 3),
    Metric("ttft_p99_s", "P99 TTFT(s)", "s", Better.LOWER, 3, band=0.20, floor=0.025),
    Metric("tpot_avg_s", "Avg TPOT(s)", "s", Better.LOWER, 3, band=0.05, floor=0.0005),
    Metric("tpot_p50_s", "P50 TPOT(s)", "s", Better.LOWER, 3),
    Metric("tpot_p99_s", "P99 TPOT(s)", "s", Better.LOWER, 3, band=0.15, floor=0.002),
    Metric("itl_avg_s", "Avg ITL(s)", "s", Better.LOWER, 3),
    Metric("success_rate", "Success Rate", "%", Better.HIGHER, 1),
    # Successful requests per second that met the scenario's SLO each (TTFT <= slo.ttft_p99_s
    # and TPOT <= slo.tpot_p99_s); NaN without an SLO (bench/schema/figures.py `goodput`).
    Metric("goodput_rps", "Goodput", "req/s", Better.HIGHER, 2),
    # Accelerator energy over the measured window / its output tokens. The band: power
    # is steady within ~1-2 % at a fixed load, throughput within the 5 % gated above.
    Metric("energy_per_token_j", "Energy/tok(J)", "J/tok", Better.LOWER, 4, 0.05, 1e-4, True),
    Metric("output_tok_per_j", "Gen. toks/J", "tok/J", Better.HIGHER, 2, telemetry=True),
)
BY_KEY = {m.key: m for m in METRICS}

# The reference table, column by column (after "Conc.").
REFERENCE_COLUMNS: tuple[str, ...] = (
    "rps",
    "latency_avg_s",
    "latency_p99_s",
    "output_tok_s",
    "ttft_avg_s",
    "ttft_p99_s",
    "tpot_avg_s",
    "tpot_p99_s",
    "success_rate",
)

# The header of the reference guide's tables (the import-table parser and the reports).
REFERENCE_HEADER = ["Conc.", *(BY_KEY[k].label for k in REFERENCE_COLUMNS)]
