"""Accelerator telemetry, pure: parse one reading of `nvidia-smi`'s CSV query or of the
`npu-smi info` table, pick the devices a server uses, and integrate energy over a window.

Parsers take text and return one dict per device: `device` (the id the server's
ASCEND_RT_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES would name), `util` (%), `mem_used_mb`,
`mem_total_mb`, `power_w`, `temp_c` and, where the tool has a cumulative counter,
`energy_j`; None for a figure the tool prints as N/A. They are tested on recorded output
(tests/data/telemetry/, tests/data/provenance/). bench/measure/telemetry.py samples with
them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

# nvidia-smi --query-gpu fields, in the order read. `energy.consumed` is NVML's total
# energy counter (mJ since the driver loaded; Volta and newer): older GPUs and drivers
# refuse the field, and the sampler then asks again without it (NVSMI_FIELDS_NO_ENERGY).
NVSMI_FIELDS = (
    "index",
    "utilization.gpu",
    "memory.used",
    "memory.total",
    "power.draw",
    "temperature.gpu",
    "energy.consumed",
)
NVSMI_FIELDS_NO_ENERGY = NVSMI_FIELDS[:-1]
# Provenance: full names (the plain table truncates long ones, "NVIDIA A100-SXM...").
NVSMI_NAME_FIELDS = ("index", "name", "memory.total", "pci.bus_id")

_KEYS = {
    "index": "device",
    "utilization.gpu": "util",
    "memory.used": "mem_used_mb",
    "memory.total": "mem_total_mb",
    "power.draw": "power_w",
    "temperature.gpu": "temp_c",
    "energy.consumed": "energy_j",
}
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?")
_PAIR = re.compile(r"(\d+)\s*/\s*(\d+)")
_NPU_HEADER = re.compile(r"npu-smi\s+\S+\s+Version:")
_NPU_ROW1 = re.compile(r"^\s*(\d+)\s+\S+\s*$")  # "0     910B3"
_NPU_ROW2 = re.compile(r"^\s*(\d+)(?:\s+(\d+))?\s*$")  # "0", or "1       1" (chip, device)
VISIBLE_ENV = (
    "ASCEND_RT_VISIBLE_DEVICES",
    "ASCEND_VISIBLE_DEVICES",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
)
_DAVINCI = re.compile(r"^/dev/davinci(\d+)(?::|$)")


def _number(cell: str) -> float | None:
    """A number as the tools print it ("690.12", "690.12 W"); None for N/A, [N/A],
    [Not Supported], NA."""
    match = _NUMBER.match(cell.strip())
    return float(match.group(0)) if match else None


def _csv_rows(text: str, fields: Sequence[str]) -> list[dict[str, str]]:
    """The rows of an `nvidia-smi --query-gpu` CSV, field -> cell. A header line
    (`--format=csv`, "memory.total [MiB]") names the columns itself; without one
    (`noheader`) they are `fields`. ValueError for anything else (an error message)."""
    lines = [line for line in text.splitlines() if line.strip()]
    names = list(fields)
    if lines and lines[0].split(",")[0].strip() == "index":
        names = [c.split("[")[0].strip() for c in lines[0].split(",")]
        lines = lines[1:]
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(names) or not cells[0].isdigit():
            raise ValueError(f"not an nvidia-smi CSV row: {line.strip()[:120]}")
        rows.append(dict(zip(names, cells, strict=True)))
    if not rows:
        raise ValueError("nvidia-smi printed no GPU")
    return rows


def parse_nvsmi_query(text: str, fields: Sequence[str] = NVSMI_FIELDS) -> list[dict[str, Any]]:
    """`nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`: one dict per GPU
    (energy in J; nvidia-smi prints mJ). ValueError for text that is not that."""
    out = []
    for cells in _csv_rows(text, fields):
        row: dict[str, Any] = {_KEYS[f]: _number(c) for f, c in cells.items() if f in _KEYS}
        row["device"] = int(cells["index"])
        if row.get("energy_j") is not None:
            row["energy_j"] /= 1000.0
        out.append(row)
    return out


def parse_nvsmi_names(text: str) -> list[dict[str, Any]]:
    """`nvidia-smi --query-gpu=index,name,memory.total,pci.bus_id --format=csv,noheader,
    nounits` (or any query with a header naming those): index, full name, memory (MiB)
    and bus id per GPU. ValueError otherwise."""
    out = []
    for cells in _csv_rows(text, NVSMI_NAME_FIELDS):
        memory = _number(cells.get("memory.total", ""))
        out.append(
            {
                "index": int(cells["index"]),
                "name": cells.get("name"),
                "memory_total_mb": int(memory) if memory is not None else None,
                "bus_id": cells.get("pci.bus_id"),
            }
        )
    return out


def parse_npu_table(text: str) -> list[dict[str, Any]]:
    """The chip table of `npu-smi info`: per chip, Power(W) and Temp(C) from its first
    row, AICore(%) and HBM-Usage (910B) or Memory-Usage (310P, no HBM column) from its
    second. `device` is the logical id ASCEND_RT_VISIBLE_DEVICES names: the Device
    column where the table has one (300I Duo: two chips per NPU id), else the NPU id."""
    if _NPU_HEADER.search(text) is None:
        raise ValueError("not npu-smi output (no 'npu-smi ... Version:' header)")
    has_hbm = "HBM-Usage" in text
    out: list[dict[str, Any]] = []
    first: tuple[int, list[str]] | None = None
    for line in text.splitlines():
        if "Process id" in line:
            break  # the process table reuses the rows' shape
        cells = line.strip().strip("|").split("|")
        if not line.lstrip().startswith("|") or len(cells) < 3:
            continue
        row1, row2 = _NPU_ROW1.match(cells[0]), _NPU_ROW2.match(cells[0])
        if row1 and not row2:
            first = (int(row1.group(1)), cells[2].split())
        elif first and row2 and re.search(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:", cells[1]):
            out.append(_npu_chip(first, row2, cells[2], has_hbm))
            first = None
    if not out:
        raise ValueError("npu-smi printed no chip")
    return out


def _npu_chip(
    first: tuple[int, list[str]], row2: re.Match[str], usage: str, has_hbm: bool
) -> dict[str, Any]:
    npu, top = first
    pairs = [(int(a), int(b)) for a, b in _PAIR.findall(usage)]
    mem = pairs[1] if has_hbm and len(pairs) > 1 else (pairs[0] if pairs else None)
    words = usage.split()
    return {
        "device": int(row2.group(2)) if row2.group(2) is not None else npu,
        "npu": npu,
        "chip": int(row2.group(1)),
        "util": _number(words[0]) if words else None,
        "mem_used_mb": float(mem[0]) if mem else None,
        "mem_total_mb": float(mem[1]) if mem else None,
        "power_w": _number(top[0]) if top else None,
        "temp_c": _number(top[1]) if len(top) > 1 else None,
    }


def visible_devices(env: Mapping[str, str], devices: Sequence[str] = ()) -> list[int] | None:
    """The device ids a server is given: the first of VISIBLE_ENV in its environment
    ("0,1"), else docker's `/dev/davinciN` devices; None for every device (none named,
    "all", or names that are not ids, such as GPU UUIDs)."""
    for name in VISIBLE_ENV:
        value = env.get(name, "").strip()
        if value:
            parts = [p.strip() for p in value.split(",") if p.strip()]
            return [int(p) for p in parts] if all(p.isdigit() for p in parts) else None
    ids = [int(m.group(1)) for d in devices if (m := _DAVINCI.match(d))]
    return sorted(ids) or None


def select(rows: list[dict[str, Any]], ids: list[int] | None) -> list[dict[str, Any]]:
    """The rows of the devices `ids` names (every row when None)."""
    return rows if ids is None else [r for r in rows if r["device"] in ids]


def _at(points: Sequence[tuple[float, float]], t: float) -> float:
    """Linear interpolation in time-sorted (t, value) points, clamped at the ends."""
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t <= t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1
    return points[-1][1]


def _clipped(
    points: Sequence[tuple[float, float]], window: tuple[float, float]
) -> list[tuple[float, float]]:
    lo, hi = window
    inner = [(t, v) for t, v in points if lo < t < hi]
    return [(lo, _at(points, lo)), *inner, (hi, _at(points, hi))]


def integral_j(power: Sequence[tuple[float, float]], window: tuple[float, float]) -> float | None:
    """∫ power dt over `window` by the trapezoid rule, the ends interpolated; None with
    fewer than two readings or a window the readings do not cover."""
    if len(power) < 2 or window[0] < power[0][0] or window[1] > power[-1][0]:
        return None
    pts = _clipped(power, window)
    return sum((t1 - t0) * (v0 + v1) / 2 for (t0, v0), (t1, v1) in itertools.pairwise(pts))


def counter_j(energy: Sequence[tuple[float, float]], window: tuple[float, float]) -> float | None:
    """The difference of a cumulative energy counter (J) across `window`, each end
    interpolated between the readings around it; None when the readings do not cover
    the window or the counter went backwards (a driver reload resets it)."""
    if len(energy) < 2 or window[0] < energy[0][0] or window[1] > energy[-1][0]:
        return None
    if any(v1 < v0 for (_, v0), (_, v1) in itertools.pairwise(energy)):
        return None
    return _at(energy, window[1]) - _at(energy, window[0])
