"""Accelerator telemetry beside each level: utilisation, memory, power, temperature and
energy, sampled in a thread off the load generator's path (docs/telemetry.md).

Sources, first that answers (scenario `validity.telemetry: auto`), or the one named:
NVML through `pynvml` (the optional `[nvidia]` extra; its total-energy counter), then
`nvidia-smi --query-gpu=… --format=csv,noheader,nounits` (`energy.consumed` where the GPU
has it), then the `npu-smi info` table (Ascend). Every call is an argv list with a
timeout; a missing tool is "absent", never an error. A docker server's devices are
sampled on the host. `auto` skips the simulator, which uses no accelerator.

`TelemetryWatch` samples from `start()` (before the load generator starts) to `stop()`
(after it exits) and keeps the samples in `raw/level-NN/telemetry.jsonl`; `summarise`
turns them into the level's `TelemetryView` over the client's measured window.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import accel
from bench.measure.hwinfo import run_command
from bench.schema.scenario import Scenario
from bench.schema.views import TelemetryView

log = logging.getLogger(__name__)

TOOL_TIMEOUT_S = 5.0
FILE = "telemetry.jsonl"
Rows = list[dict[str, Any]]


@dataclass
class Source:
    """One way of reading every device once: `read()` -> rows (bench.measure.accel)."""

    name: str
    read: Callable[[], Rows]
    close: Callable[[], None] = lambda: None


def _nvml() -> Source | None:
    try:
        import pynvml  # type: ignore[import-not-found, unused-ignore]

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # not installed, no driver, no GPU: absent
        return None
    if not handles:
        pynvml.nvmlShutdown()
        return None

    def energy(h: Any) -> float | None:
        try:
            return float(pynvml.nvmlDeviceGetTotalEnergyConsumption(h)) / 1000.0  # mJ
        except pynvml.NVMLError:
            return None

    def read() -> Rows:
        rows = []
        for i, h in enumerate(handles):
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            rows.append(
                {
                    "device": i,
                    "util": float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu),
                    "mem_used_mb": mem.used / 2**20,
                    "mem_total_mb": mem.total / 2**20,
                    "power_w": pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0,  # mW
                    "temp_c": float(pynvml.nvmlDeviceGetTemperature(h, 0)),  # NVML_TEMPERATURE_GPU
                    "energy_j": energy(h),
                }
            )
        return rows

    return Source("nvml", read, pynvml.nvmlShutdown)


def _tool(argv: list[str], parse: Callable[[str], Rows]) -> Rows:
    text = run_command(argv, TOOL_TIMEOUT_S)
    if text is None:
        raise ValueError(f"{argv[0]} printed nothing")
    return parse(text)


def _nvidia_smi() -> Source | None:
    if shutil.which("nvidia-smi") is None:
        return None
    for fields in (accel.NVSMI_FIELDS, accel.NVSMI_FIELDS_NO_ENERGY):
        argv = ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]

        def read(argv: list[str] = argv, fields: tuple[str, ...] = fields) -> Rows:
            return _tool(argv, lambda text: accel.parse_nvsmi_query(text, fields))

        try:
            read()
        except ValueError:
            continue  # e.g. "Field "energy.consumed" is not a valid field to query."
        return Source("nvidia-smi", read)
    return None


def _npu_smi() -> Source | None:
    if shutil.which("npu-smi") is None:
        return None
    source = Source("npu-smi", lambda: _tool(["npu-smi", "info"], accel.parse_npu_table))
    try:
        source.read()
    except ValueError:  # "dcmi module initialize failed" and the like
        return None
    return source


OPENERS: dict[str, Callable[[], Source | None]] = {
    "nvml": _nvml,
    "nvidia-smi": _nvidia_smi,
    "npu-smi": _npu_smi,
}


def open_source(scenario: Scenario) -> Source | None:
    """The scenario's telemetry source, or the first that answers; None when off, absent,
    or `auto` against the simulator."""
    mode = scenario.validity.telemetry
    if mode == "off" or (mode == "auto" and not scenario.server.capabilities.samples_accelerators):
        return None
    names = list(OPENERS) if mode == "auto" else [mode]
    for name in names:
        source = OPENERS[name]()
        if source is not None:
            return source
    return None


def device_ids(scenario: Scenario) -> list[int] | None:
    """The devices the server is given (its env, a docker server's /dev/davinciN), or
    None for all."""
    server = scenario.server
    return accel.visible_devices(server.env, getattr(server, "devices", []))


@dataclass
class TelemetryWatch:
    """Samples a `Source` in a thread between `start()` and `stop()`; None source: off."""

    source: Source | None
    devices: list[int] | None
    folder: Path
    interval_s: float
    samples: list[dict[str, Any]] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> None:
        if self.source is None:
            return
        self._take()
        self._thread = threading.Thread(target=self._loop, name="level-telemetry", daemon=True)
        self._thread.start()

    def _take(self) -> None:
        assert self.source is not None
        before = time.perf_counter()
        try:
            rows: Rows | None = accel.select(self.source.read(), self.devices)
            error = None
        except Exception as exc:  # a tool that fails mid-level loses that sample only
            rows, error = None, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        # A reading stands for the middle of the call that took it.
        sample: dict[str, Any] = {"t": (before + time.perf_counter()) / 2, "wall": time.time()}
        sample.update({"devices": rows} if rows is not None else {"error": error})
        self.samples.append(sample)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._take()

    def stop(self) -> list[dict[str, Any]]:
        """The samples, the closing one included; written to telemetry.jsonl."""
        if self.source is None:
            return []
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._take()
        self.source.close()
        with (self.folder / FILE).open("w") as fh:
            fh.write(json.dumps({"source": self.source.name, "devices": self.devices}) + "\n")
            for sample in self.samples:
                fh.write(json.dumps(sample) + "\n")
        return self.samples


def _series(samples: list[dict[str, Any]], key: str) -> dict[int, list[tuple[float, float]]]:
    out: dict[int, list[tuple[float, float]]] = {}
    for s in samples:
        for row in s.get("devices") or []:
            if row.get(key) is not None:
                out.setdefault(row["device"], []).append((s["t"], float(row[key])))
    return out


def _total(samples: list[dict[str, Any]], key: str, count: int) -> list[float]:
    """Per sample, `key` summed over the devices (samples missing a device skipped)."""
    out = []
    for s in samples:
        values = [r[key] for r in s.get("devices") or [] if r.get(key) is not None]
        if values and len(values) == count:
            out.append(float(sum(values)))
    return out


def _mean_over(series: dict[int, list[tuple[float, float]]], win: tuple[float, float]) -> Any:
    """The devices' mean of each one's time-weighted mean over the window."""
    values = [accel.integral_j(p, win) for p in series.values()]
    known = [v for v in values if v is not None]
    if not values or len(known) < len(values):
        return None
    return sum(known) / len(known) / (win[1] - win[0])


def _energy(samples: list[dict[str, Any]], win: tuple[float, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    power, counter = _series(samples, "power_w"), _series(samples, "energy_j")
    integrals = [accel.integral_j(p, win) for p in power.values()]
    if power and all(v is not None for v in integrals):
        out["energy_integral_j"] = sum(v for v in integrals if v is not None)
        out["power_mean_w"] = out["energy_integral_j"] / (win[1] - win[0])
    deltas = [accel.counter_j(e, win) for e in counter.values()]
    if counter and len(counter) >= len(power) and all(v is not None for v in deltas):
        out["energy_counter_j"] = sum(v for v in deltas if v is not None)
    if "energy_counter_j" in out:
        out["energy_j"], out["energy_method"] = out["energy_counter_j"], "counter"
    elif "energy_integral_j" in out:
        out["energy_j"], out["energy_method"] = out["energy_integral_j"], "integral"
    return out


def summarise(
    source: str | None,
    samples: list[dict[str, Any]],
    window: tuple[float, float] | None,
    output_tokens: float,
) -> TelemetryView:
    """The level's telemetry over `window` (the client's measured interval; the whole
    level when None): time-weighted means, peaks of the devices' totals, and energy by
    the counter where every device has one, else by the power integral."""
    good = [s for s in samples if s.get("devices")]
    if source is None or len(good) < 2:
        return TelemetryView()
    win = window if window is not None else (good[0]["t"], good[-1]["t"])
    if win[1] <= win[0]:
        return TelemetryView()
    inside = [s for s in good if win[0] <= s["t"] <= win[1]] or good
    count = len(good[0]["devices"])
    util = _total(inside, "util", count)
    memory, power = _total(inside, "mem_used_mb", count), _total(inside, "power_w", count)
    temps = [r["temp_c"] for s in inside for r in s["devices"] if r.get("temp_c") is not None]
    out: dict[str, Any] = {
        "source": source,
        "devices": sorted({r["device"] for s in good for r in s["devices"]}),
        "samples": len(inside),
        "interval_s": statistics.median(b["t"] - a["t"] for a, b in itertools.pairwise(good)),
        "util_mean_pct": _mean_over(_series(samples, "util"), win),
        "util_max_pct": max(util) / count if util else None,
        "memory_used_max_mb": max(memory) if memory else None,
        "memory_total_mb": next(iter(_total(good[:1], "mem_total_mb", count)), None),
        "power_max_w": max(power) if power else None,
        "temperature_max_c": max(temps) if temps else None,
        **_energy(samples, win),
    }
    energy = out.get("energy_j")
    if energy and output_tokens > 0:
        out["output_tokens"] = round(output_tokens)
        out["energy_per_token_j"] = energy / output_tokens
        out["output_tok_per_j"] = output_tokens / energy
    return TelemetryView(**{k: v for k, v in out.items() if v is not None})


def read_samples(path: Path) -> tuple[str | None, list[dict[str, Any]]]:
    """A level's kept telemetry (`telemetry.jsonl`): its source and samples; (None, [])
    when absent."""
    try:
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    except FileNotFoundError:
        return None, []
    return (lines[0].get("source"), lines[1:]) if lines else (None, [])
