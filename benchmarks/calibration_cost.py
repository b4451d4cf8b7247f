"""What the client self-calibration costs on the quick-start sweep, and that the cache works.

    python benchmarks/calibration_cost.py

Runs scenarios/quickstart.yaml (as ./run_bench.sh does) twice against an empty
calibration cache (a temporary $VLM_BENCH_CACHE holding only the generated tokenizer):
the first run measures every level's client error, the second reuses them. Prints each
run's wall time and what run.json's provenance `client_calibration` says (levels
measured, reused, seconds spent). Note the host's load (printed) with the figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.schema.runfile import read_run  # noqa: E402
from bench.tools.tokenizer import ensure_tokenizer  # noqa: E402


def one_run(cache: Path, out: Path, label: str) -> None:
    env = {**os.environ, "VLM_BENCH_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "bench", "run", str(ROOT / "scenarios" / "quickstart.yaml")]
    # `auto` leaves the simulator alone (docs/validity.md): ask for it.
    cmd += ["--set", "load.calibrate=on"]
    started = time.monotonic()
    subprocess.run([*cmd, "--output-dir", str(out)], env=env, capture_output=True, check=False)
    wall = time.monotonic() - started
    (run_dir,) = (out / "quickstart").iterdir()
    run = read_run(run_dir)
    cal = run.provenance.client_calibration or {}
    flagged = [lv.parallel for lv in run.levels if "client error" in " ".join(lv.flags)]
    print(
        f"{label}: {wall:6.1f} s wall, calibration {cal.get('seconds', 0):5.1f} s "
        f"(levels measured {cal.get('measured', 0)}, reused {cal.get('reused', 0)}); "
        f"flagged by client error: conc {flagged}",
        flush=True,
    )


def main() -> None:
    tokenizer = ensure_tokenizer()
    load = os.getloadavg()
    print(f"load: {load[0]:.2f} {load[1]:.2f} (1, 5 min), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="calibration-cost-") as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        (cache / tokenizer.name).symlink_to(tokenizer)
        one_run(cache, Path(tmp) / "first", "first run (empty cache)")
        one_run(cache, Path(tmp) / "second", "second run (cached)   ")


if __name__ == "__main__":
    main()
