"""Regenerate the evalscope sample level folders that the parser tests read.

Every case starts the project's simulator on a free loopback port, runs the real
`evalscope perf` CLI against it for one (parallel, number) level, stops the simulator and
copies the files a parser needs verbatim into `<case>/parallel_P_number_N/`. The sample
values change on every regeneration: the tests compare the parser with evalscope's own
files of the same run, never with numbers written down here.

Run from the repository root (takes about a minute):

    .venv/bin/python tests/data/evalscope/make_samples.py
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.sim.process import SimProcess
from bench.tools.tokenizer import ensure_tokenizer

HERE = Path(__file__).resolve().parent
KEPT_FILES = (
    "benchmark_summary.json",
    "benchmark_percentile.json",
    "benchmark_data.db",
    "benchmark_args.json",
)
log = logging.getLogger("make_samples")


@dataclass(frozen=True)
class Case:
    name: str
    sim_args: tuple[str, ...] = ()
    parallel: int = 2
    number: int = 4
    tokens: int = 16
    evalscope_args: tuple[str, ...] = ()
    keep_trace: bool = False
    doc: str = field(default="", compare=False)


CASES = (
    Case("ok", keep_trace=True, doc="every request succeeds with 16 tokens"),
    # The connection test is the simulator's first arrival, so arrivals 3 and 6 fail.
    Case(
        "some_failed",
        sim_args=("--error-every", "3"),
        number=6,
        doc="every 3rd arrival answers HTTP 500",
    ),
    # Without --no-test-connection evalscope would retry the failing test for hours.
    Case(
        "all_failed",
        sim_args=("--error-every", "1"),
        evalscope_args=("--no-test-connection",),
        doc="every request answers HTTP 500",
    ),
    Case(
        "truncated",
        sim_args=("--truncate-output", "5"),
        doc="the server stops after 5 tokens although 16 were asked for with ignore_eos",
    ),
    Case(
        "one_token",
        tokens=1,
        number=2,
        doc="1-token replies: no decode phase, so no TPOT and no ITL",
    ),
)


def evalscope_cmd(case: Case, port: int, tokenizer: Path, out: Path) -> list[str]:
    evalscope = Path(sys.executable).parent / "evalscope"
    # Prompt length counts the chat template (23 tokens with the generated tokenizer),
    # so 40 leaves room for some text.
    return [
        str(evalscope),
        "perf",
        "--url",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        "--model",
        "sim-model",
        "--api",
        "openai",
        "--dataset",
        "random_vl",
        "--image-width",
        "64",
        "--image-height",
        "64",
        "--image-num",
        "1",
        "--image-format",
        "RGB",
        "--min-tokens",
        str(case.tokens),
        "--max-tokens",
        str(case.tokens),
        "--min-prompt-length",
        "40",
        "--max-prompt-length",
        "40",
        "--prefix-length",
        "0",
        "--tokenizer-path",
        str(tokenizer),
        "--extra-args",
        '{"ignore_eos": true}',
        "--parallel",
        str(case.parallel),
        "--number",
        str(case.number),
        "--stream",
        "--outputs-dir",
        str(out),
        "--no-timestamp",
        "--name",
        case.name,
        "--sleep-interval",
        "0",
        *case.evalscope_args,
    ]


def run_case(case: Case, tokenizer: Path, work: Path) -> None:
    sim = SimProcess(work, case.sim_args)
    cmd = evalscope_cmd(case, sim.port, tokenizer, work / "out")
    try:
        with (work / "evalscope.log").open("wb") as fh:
            rc = subprocess.run(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=600,
                env={**os.environ, "TQDM_MININTERVAL": "30"},
            ).returncode
    finally:
        sim.stop()
    if rc != 0:
        tail = (work / "evalscope.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{case.name}: evalscope exited {rc}:\n{tail}")
    level = f"parallel_{case.parallel}_number_{case.number}"
    src = work / "out" / case.name / level
    dest_case = HERE / case.name
    shutil.rmtree(dest_case, ignore_errors=True)
    (dest_case / level).mkdir(parents=True)
    for name in KEPT_FILES:
        if (src / name).exists():
            shutil.copyfile(src / name, dest_case / level / name)
    if case.keep_trace:
        shutil.copyfile(work / "trace.jsonl", dest_case / "trace.jsonl")
    # What produced the files, so a reader needs no guesswork (ports and paths vary).
    recipe = {
        "doc": case.doc,
        "simulator_args": list(case.sim_args),
        "evalscope_argv": [Path(cmd[0]).name, *cmd[1:]],
    }
    (dest_case / "case.json").write_text(json.dumps(recipe, indent=2) + "\n")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tokenizer = ensure_tokenizer()
    for case in CASES:
        with tempfile.TemporaryDirectory(prefix=f"evalscope-{case.name}-") as tmp:
            log.info("case %s ...", case.name)
            run_case(case, tokenizer, Path(tmp))
    log.info("samples written under %s", HERE)


if __name__ == "__main__":
    main()
