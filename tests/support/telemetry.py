"""The recorded H200 NVML trace (tests/data/telemetry/, its README says where it is from)
as telemetry samples, as nvidia-smi CSV rows, and fake `nvidia-smi` / `npu-smi` scripts
that replay recorded output (tests/integration/test_telemetry.py puts them on PATH)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from tests.support.paths import DATA

TELEMETRY = DATA / "telemetry"
PROVENANCE = DATA / "provenance"


def nvml_trace() -> list[dict[str, float]]:
    """The trace's rows, every column a number (energy in mJ, as NVML gives it)."""
    with (TELEMETRY / "nvml-telemetry.csv").open() as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def trace_samples(energy: bool = True) -> list[dict[str, Any]]:
    """The trace as bench.measure.telemetry samples of device 0 (`energy`: with the
    counter, else power only)."""
    return [
        {
            "t": r["t_s"],
            "devices": [
                {
                    "device": 0,
                    "util": r["util_gpu_pct"],
                    "mem_used_mb": r["mem_used_mib"],
                    "mem_total_mb": r["mem_total_mib"],
                    "power_w": r["power_w"],
                    "temp_c": r["temp_c"],
                    "energy_j": r["energy_mj"] / 1000 if energy else None,
                }
            ],
        }
        for r in nvml_trace()
    ]


def nvsmi_rows(first: float, last: float) -> list[list[float]]:
    """[t, util, mem used, mem total, power, temp, energy mJ] of the trace between two
    times: what nvidia-smi's CSV query would have printed then."""
    keys = ("t_s", "util_gpu_pct", "mem_used_mib", "mem_total_mib", "power_w", "temp_c")
    return [
        [r[k] for k in keys] + [r["energy_mj"]] for r in nvml_trace() if first <= r["t_s"] <= last
    ]


# Replays `rows` against the wall clock from its first call, looping; the counter keeps
# counting across loops. No arguments: the recorded table; the names query: the recorded CSV.
_FAKE_NVIDIA_SMI = """\
import json, os, sys, time
rows = json.load(open({rows!r}))
if not sys.argv[1:]:
    sys.stdout.write(open({table!r}).read()); sys.exit(0)
if sys.argv[1].startswith("--query-gpu=index,name"):
    sys.stdout.write(open({names!r}).read()); sys.exit(0)
clock = {clock!r}
if not os.path.exists(clock):
    open(clock, "w").write(repr(time.time()))
t0, span = rows[0][0], rows[-1][0] - rows[0][0]
per_loop = rows[-1][6] - rows[0][6]
elapsed = time.time() - float(open(clock).read())
loops, at = divmod(elapsed, span)
at += t0
i = max(k for k, r in enumerate(rows) if r[0] <= at)
a, b = rows[i], rows[min(i + 1, len(rows) - 1)]
f = 0.0 if b[0] == a[0] else (at - a[0]) / (b[0] - a[0])
v = [x + (y - x) * f for x, y in zip(a, b)]
print("0, %d, %d, %d, %.2f, %d, %d" % (v[1], v[2], v[3], v[4], v[5], v[6] + loops * per_loop))
"""

_FAKE_NPU_SMI = """\
import sys
sys.stdout.write(open({table!r}).read())
"""


def write_fakes(folder: Path, rows: list[list[float]]) -> Path:
    """`nvidia-smi` replaying `rows` (nvsmi_rows) and `npu-smi` printing the recorded
    910B3 table, as executables in `folder`/bin; that folder, to put first on PATH."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    (folder / "rows.json").write_text(json.dumps(rows))
    scripts = {
        "nvidia-smi": _FAKE_NVIDIA_SMI.format(
            rows=str(folder / "rows.json"),
            table=str(TELEMETRY / "nvidia-smi.txt"),
            names=str(TELEMETRY / "nvidia-smi-query.csv"),
            clock=str(folder / "clock"),
        ),
        "npu-smi": _FAKE_NPU_SMI.format(table=str(PROVENANCE / "npu-smi-910b3-8.txt")),
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(0o755)
    return bin_dir
