"""vlm-bench's own TTFT error against an independent server with known timings.

    python benchmarks/client_error.py [--quick] [--workers 1,2,4] [--parallel 1,8,…]
                                      [--prepared [--images shapes|photos]]

The server is benchmarks/fixed_server.py (standard library only, not the simulator): TTFT
200 ms, TPOT 20 ms, 64 tokens, one 640x640 image per request, no /metrics. For each K
(load.workers) the script runs conc 1, 8, 32, 64, 128 (--quick: 1, 32, 128 and K = 1
only), each level a vlm-bench run of its own with the client self-calibration measured
afresh (load.calibrate: always), and prints per level the measured Avg TTFT, its error
against the nominal 200 ms, how late the server itself wrote its first tokens meanwhile
(its /stats), the client's own error (the first less the second), the level's
self-measured "client error ≤ x ms" (`--calibrate on`: reused from the client-error cache
where it holds the level's shape), whether it was flagged, and the verdict: `within`
(|error| ≤ max(2 %, 2 ms)), `flagged`, or `MISSED` (neither).
With --prepared the requests are a `workload:` section's (one 640x640 picture a request, no
reuse), built before each level and sent by vlm-bench's lean sender
(bench/load/evalscope_sender.py); without it they are evalscope's `random_vl`, drawn while
the level runs. The prepared pictures are, by default, PNGs drawn the way `random_vl` draws
them (a plain background and 1-5 shapes, generated here with a fixed seed), so both send
about the same bytes; `--images photos` sends examples/photos instead, JPEG bodies many
times larger (figures: docs/validity.md). Each row also says whether the level's own
bound (`client.ttft_error_s`) is at or above the client's error.
Note the host's load (uptime) with the figures: on a shared 2-core machine they move.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.schema.runfile import read_run  # noqa: E402

TTFT, TPOT, TOKENS = 0.2, 0.02, 64
SCENARIO = """\
name: client-error
model: {{served_name: fixed-model, tokenizer_path: generated}}
server: {{kind: external, url: "{url}"}}
load: {{image_width: 640, image_height: 640, min_prompt_length: 100, max_prompt_length: 100,
        min_tokens: {tokens}, max_tokens: {tokens}, request_timeout_s: 120,
        calibrate: {calibrate}}}
sweep: {{parallel: {parallel}, requests_per_level: {per}x}}
check: off
{workload}"""
PREPARED = """\
workload:
  source: {{kind: images, path: {images}}}
  sizes: [{{width: 640, height: 640}}]
  images_per_request: 1
  reuse: 0
  prefix: "{prefix}"
"""
PREFIX = "describe the picture in detail. " * 12


def draw_shapes(folder: Path, count: int = 16, seed: int = 0) -> Path:
    """`count` 640x640 PNGs drawn as evalscope's random_vl draws its pictures: a plain
    background and 1-5 rectangles, ellipses or lines, each of a random colour."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    side = 640
    for n in range(count):
        image = Image.new("RGB", (side, side), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(rng.randint(1, 5)):
            x1, x2 = sorted(rng.randrange(side) for _ in range(2))
            y1, y2 = sorted(rng.randrange(side) for _ in range(2))
            box = [x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)]
            fill = tuple(rng.randrange(256) for _ in range(3))
            kind = rng.choice(["rectangle", "ellipse", "line"])
            if kind == "rectangle":
                draw.rectangle(box, fill=fill)
            elif kind == "ellipse":
                draw.ellipse(box, fill=fill)
            else:
                draw.line(box, fill=fill, width=rng.randint(1, 5))
        image.save(folder / f"shapes-{n:02d}.png")
    return folder


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = work / "port"
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "fixed_server.py"),
        "--port-file",
        str(port_file),
    ]
    proc = subprocess.Popen([*cmd, "--ttft", str(TTFT), "--tpot", str(TPOT)])
    while not (port_file.exists() and port_file.read_text()):
        if proc.poll() is not None:
            raise SystemExit("fixed_server.py did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}"


def server_late_ms(url: str, reset: bool = False) -> float | None:
    """fixed_server.py's mean first-token lateness since its last reset (ms)."""
    with urllib.request.urlopen(f"{url}/stats{'?reset=1' if reset else ''}", timeout=10) as r:
        stats = json.loads(r.read())
    return stats["first_token_late_ms"]["mean"] if stats.get("requests") else None


def level(
    work: Path,
    url: str,
    parallel: int,
    per: int,
    workers: int,
    images: Path | None,
    calibrate: str = "always",
) -> tuple[Path | str, float | None]:
    """One level as its own run (prepared requests from `images`, or random_vl): its run
    directory, or why it could not run; and the server's mean lateness meanwhile."""
    path = work / f"k{workers}-c{parallel}.yaml"
    workload = PREPARED.format(images=images, prefix=PREFIX) if images else ""
    text = SCENARIO.format(
        url=url, tokens=TOKENS, parallel=[parallel], per=per, workload=workload, calibrate=calibrate
    )
    path.write_text(text)
    out = work / f"out-k{workers}-c{parallel}"
    sets = [] if workers == 1 else ["--set", f"load.workers={workers}"]
    cmd = [sys.executable, "-m", "bench", "run", str(path), "--output-dir", str(out), *sets]
    server_late_ms(url, reset=True)
    done = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    late = server_late_ms(url)
    if done.returncode == 2:
        return (done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "exit 2"), late
    (run_dir,) = (out / "client-error").iterdir()
    return run_dir, late


def rows(run_dir: Path, workers: int, late_ms: float | None) -> list[str]:
    out = []
    for level in read_run(run_dir).levels:
        error = level.ttft_avg_s - TTFT
        tolerance = max(0.02 * TTFT, 0.002)
        own = level.client.ttft_error_s
        check = next((c for c in level.checks if c.name == "client error"), None)
        flagged = check is not None and check.status == "flag"
        verdict = "within" if abs(error) <= tolerance else ("flagged" if flagged else "MISSED")
        own_text = "—" if own is None else f"≤ {1000 * own:5.1f} ms"
        client = error - (late_ms or 0.0) / 1000
        covers = "—" if own is None else ("yes" if own >= client else "NO")
        late_text = "—" if late_ms is None else f"{late_ms:4.1f} ms"
        out.append(
            f"| {workers} | {level.parallel:>4} | {1000 * level.ttft_avg_s:7.1f} | "
            f"{1000 * error:+6.1f} ms ({100 * error / TTFT:+5.1f} %) | {late_text} | "
            f"{1000 * client:+6.1f} ms | {own_text} | "
            f"{covers} | {'yes' if flagged else 'no'} | {verdict} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="conc 1, 32, 128; K = 1")
    parser.add_argument("--workers", default=None, help="K values (default 1,2,4; quick: 1)")
    parser.add_argument("--parallel", default=None, help="levels (default 1,8,32,64,128)")
    parser.add_argument("--prepared", action="store_true", help="a workload: section's requests")
    parser.add_argument(
        "--images",
        choices=["shapes", "photos"],
        default="shapes",
        help="--prepared's pictures: random_vl-like PNGs (default) or examples/photos",
    )
    parser.add_argument(
        "--calibrate",
        choices=["always", "on"],
        default="always",
        help="always: each level's bound measured afresh (default); on: reused from the "
        "client-error cache where it has the level's shape",
    )
    args = parser.parse_args()
    default = [1, 32, 128] if args.quick else [1, 8, 32, 64, 128]
    parallel = [int(c) for c in args.parallel.split(",")] if args.parallel else default
    ks = [int(k) for k in (args.workers or ("1" if args.quick else "1,2,4")).split(",")]
    print(
        f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min), "
        f"{os.cpu_count()} cores"
    )
    print(
        f"server: fixed_server.py, TTFT {1000 * TTFT:g} ms, TPOT {1000 * TPOT:g} ms, "
        f"{TOKENS} tokens, 640x640, "
        f"{f'prepared ({args.images})' if args.prepared else 'random_vl'} requests"
    )
    print(
        "| K | conc | Avg TTFT (ms) | error vs 200 ms | server late | client's error "
        "| self-measured client error | bound ≥ client's | flagged | verdict |"
    )
    print("|---|------|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="client-error-") as tmp:
        work = Path(tmp)
        images = None
        if args.prepared:
            photos = ROOT / "examples" / "photos"
            images = photos if args.images == "photos" else draw_shapes(work / "shapes")
        proc, url = start_server(work)
        try:
            for k in ks:
                started = time.monotonic()
                for conc in parallel:
                    per = 2 if args.quick else 4
                    result, late = level(work, url, conc, per, k, images, args.calibrate)
                    if isinstance(result, str):
                        print(f"| {k} | {conc} | not run: {result} |")
                        continue
                    for row in rows(result, k, late):
                        print(row, flush=True)
                print(f"(K={k}: {time.monotonic() - started:.0f} s with calibration)", flush=True)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
