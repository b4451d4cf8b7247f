"""Load generation: evalscope perf, one level per child process.

The evalscope adapter is this module (CLI, version, running a level) with evalscope_db.py
(its output files and database schema) and evalscope_data.py (its prompt generator, for
the offline batch): nothing outside bench/load/ knows evalscope.

Why a child process per level (see docs/evalscope.md): evalscope mutates
process-wide state (uvloop policy, global RNG seeds) and pauses for GC under load, so it
must not share our process; one invocation per level means a failure at level k keeps
levels 1..k-1. The defaults that would hurt are overridden explicitly:

- `--total-timeout` (6 hours by default, also each request's limit) is the scenario's
  request timeout;
- `--no-test-connection`: readiness is checked by the runner; evalscope's test would
  retry a dead server for hours, sends a text-only request some VLM servers reject, and
  costs a full unmeasured request per level;
- `--db-commit-interval 1`: every finished request is committed at once, so an
  interrupted level keeps its finished requests, and the row count is our progress bar;
- `--no-timestamp --name level-NN`: a predictable raw folder per level;
- `--seed` is the plan's (bench/load/plan.py): every level gets fresh prompts and images
  (identical ones would hit the server's multimodal cache) and a rerun gets the same ones;
- `--warmup-num` (default: one wave, `parallel` requests): each evalscope process pays
  start-up costs on its first wave (measured here: 0.2-1.1 s between a request's start
  and its arrival at the server) and its first wave hits the server as one burst;
  warm-up requests absorb both and are not measured. With `load.warmup: cheap` (opt-in)
  they are the same requests capped at `LoadSpec.warmup_tokens_for` output tokens (a
  quarter of max_tokens): evalscope has no warm-up settings of its own, so the child
  wraps its request generator (`_cheap_warmup`) (docs/scenarios.md).

The child is evalscope's own CLI, run by `python -m bench.load.evalscope perf …` to freeze
the interpreter's GC after evalscope's imports (~215k objects): otherwise a full collection
stalls the client for 150-270 ms in the middle of a level. Those imports cost more than a
short level (3.5 s of CPU here), so a run's levels are forks of one process that made them,
the run's zygote (bench/load/zygote.py; `--zygote RUN_DIR`): still one fresh process per
level, started in milliseconds. A load worker (bench/load/workers.py) is a plain child.
evalscope's `perf_report.html` is not generated: a view of the same rows that loads plotly
from a CDN, 1.2 s of plotly per level.

evalscope exits 0 even when every request failed; the caller judges a level from the
parsed rows, never from the exit code alone.

An API key and headers (load.api_key, load.headers) never appear in the argv we build,
show or record: `secret_args` resolves them when the level starts and hands them to the
child in an environment variable, which the child appends to its own argv (its
/proc/PID/cmdline shows only ours). evalscope masks Authorization-like headers in the
`benchmark_args.json` it writes, but not every header a user may name (Cookie), so the
level's raw folder is scrubbed of those values once the child has exited.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.load import barrier, zygote
from bench.load.evalscope_db import count_rows
from bench.proc import Child, spawn, stop_group
from bench.redact import resolve, scrub_tree, secret_name
from bench.schema.plan import LevelPlan
from bench.schema.scenario import Scenario
from bench.workload import prepare

EVALSCOPE_MIN = (1, 14, 1)
EVALSCOPE_BELOW = (1, 15)
CHILD_ENV = {
    # Offline and quiet: a hub lookup or telemetry must never leave this machine, and
    # tqdm redraws would bloat the kept log.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "TQDM_MININTERVAL": "30",
    "PYTHONUNBUFFERED": "1",
}


def evalscope_version() -> str:
    """The installed evalscope version, or UserError when it is missing or untested."""
    try:
        version = metadata.version("evalscope")
    except metadata.PackageNotFoundError:
        raise UserError("evalscope is not installed (run ./run_bench.sh to set up .venv)") from None
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    if not (EVALSCOPE_MIN <= parts < EVALSCOPE_BELOW):
        raise UserError(
            f"evalscope {version} is untested; vlm-bench needs >= "
            f"{'.'.join(map(str, EVALSCOPE_MIN))}, < "
            f"{'.'.join(map(str, EVALSCOPE_BELOW))}"
        )
    return version


def workload_args(scenario: Scenario, tokenizer: str) -> list[str]:
    """The load as evalscope flags, in the reference's spelling and order (no seed, no warm-up)."""
    if scenario.workload is not None:
        return _prepared_args(scenario, tokenizer)
    load = scenario.load
    args = [
        "--api",
        load.api,
        "--dataset",
        load.dataset,
        "--max-tokens",
        str(load.max_tokens),
        "--min-tokens",
        str(load.min_tokens),
        "--prefix-length",
        str(load.prefix_length),
        "--min-prompt-length",
        str(load.min_prompt_length),
        "--max-prompt-length",
        str(load.max_prompt_length),
    ]
    if load.dataset == "random_vl":
        args += [
            "--image-width",
            str(load.image_width),
            "--image-height",
            str(load.image_height),
            "--image-format",
            load.image_format,
            "--image-num",
            str(load.image_num),
        ]
    args += _request_args(scenario, tokenizer)
    if load.rate is not None:
        args += ["--rate", str(load.rate)]
    return args


def _request_args(scenario: Scenario, tokenizer: str) -> list[str]:
    """The flags every load shares: the tokenizer, the body's extras, streaming."""
    load = scenario.load
    args = ["--tokenizer-path", tokenizer]
    extra = {"ignore_eos": True} if load.ignore_eos else {}
    extra.update(load.extra_body)
    if extra:
        args += ["--extra-args", json.dumps(extra)]
    if not load.stream:
        args.append("--no-stream")
    return args


# The names bench/load/evalscope_sender.py registers its plugins under.
SENDER_API = "vlm_bench"
SENDER_DATASET = "vlm_bench_prepared"


def _prepared_args(scenario: Scenario, tokenizer: str) -> list[str]:
    """A `workload:` section's load: requests vlm-bench prepared (bench/workload/), read by
    evalscope's own dataset plugins — `line_by_line` (complete bodies, one a line) or, for
    a trace, `workload_trace` (bodies with arrival times, replayed open-loop); the file
    itself is each level's (`--dataset-path`, level_argv)."""
    load = scenario.load
    assert scenario.workload is not None
    trace = scenario.replays_trace
    # The lean sender (bench/load/evalscope_sender.py) sends what was prepared as it is; a
    # trace's bodies go through evalscope's `workload_trace`, which times their arrivals.
    dataset = "workload_trace" if trace else SENDER_DATASET
    args = ["--api", SENDER_API, "--dataset", dataset]
    args += ["--max-tokens", str(load.max_tokens), "--min-tokens", str(load.min_tokens)]
    args += _request_args(scenario, tokenizer)
    if trace:
        override = {"model_override": scenario.model.served_name}
        args += ["--open-loop", "--dataset-args", json.dumps(override)]
    elif load.rate is not None:
        args += ["--rate", str(load.rate)]
    return args


def dataset_path(scenario: Scenario, plan: LevelPlan) -> list[str]:
    """`--dataset-path` of a workload's level: its prepared file (named, not built, when
    the plan does not carry it yet: --dry-run)."""
    if scenario.workload is None:
        return []
    if isinstance(plan.workload, Path):
        return ["--dataset-path", str(plan.workload)]
    total = plan.warmup + plan.number
    return ["--dataset-path", str(prepare.level_file(scenario.workload, plan.seed, total))]


SECRET_ARGS_ENV = "VLM_BENCH_EVALSCOPE_SECRET_ARGS"
# Our child's own first argument (`python -m bench.load.evalscope --warmup-tokens=N perf …`),
# taken off before evalscope parses the rest.
WARMUP_FLAG = "--warmup-tokens"
# The child's stdout and stderr, kept beside its level folder (raw/level-NN/).
LOG_FILE = "evalscope.log"


def secret_args(scenario: Scenario, resolved: bool = True) -> list[str]:
    """`--api-key K --headers NAME=V …` for evalscope; `resolved` replaces `${env:NAME}`
    with its value (for the child only), otherwise the text is as written (for display,
    through bench.redact)."""
    load = scenario.load
    value = resolve if resolved else (lambda text: text)
    out = ["--api-key", value(load.api_key)] if load.api_key is not None else []
    if load.headers:
        out += ["--headers", *(f"{k}={value(v)}" for k, v in load.headers.items())]
    return out


def secret_values(scenario: Scenario) -> list[str]:
    """The resolved values `secret_args` carries that must not stay in a raw file."""
    load = scenario.load
    out = [resolve(load.api_key)] if load.api_key is not None else []
    out += [resolve(v) for k, v in load.headers.items() if secret_name(k) or resolve(v) != v]
    return out


def evalscope_command() -> list[str]:
    """evalscope's CLI, through this module's GC-freezing entry point."""
    return [sys.executable, "-m", "bench.load.evalscope"]


def sweep_argv(scenario: Scenario, url: str, tokenizer: str) -> list[str]:
    """The whole sweep as one evalscope command (what the reference runs; shown by --dry-run)."""
    levels = scenario.sweep.levels()
    rates = scenario.sweep.rate or []
    return [
        "evalscope",
        "perf",
        "--parallel",
        *(str(p) for p, _ in levels),
        "--number",
        *(str(n) for _, n in levels),
        *workload_args(scenario, tokenizer),
        *(["--rate", *(f"{r:g}" for r in rates)] if rates else []),
        "--url",
        url + scenario.load.endpoint,
        "--model",
        scenario.model.served_name,
    ]


def level_argv(
    scenario: Scenario, url: str, tokenizer: str, plan: LevelPlan, outputs: Path
) -> list[str]:
    """The level (or a worker's or round's part of it, bench/load/plan.py `part`) as
    vlm-bench runs it, writing under `outputs` (`level_dir`)."""
    rate = plan.point.rate  # load.rate is in workload_args
    return [
        *evalscope_command(),
        *([f"{WARMUP_FLAG}={plan.warmup_tokens}"] if plan.warmup_tokens else []),
        "perf",
        "--parallel",
        str(plan.parallel),
        "--number",
        str(plan.number),
        *workload_args(scenario, tokenizer),
        *dataset_path(scenario, plan),
        "--seed",
        str(plan.seed),
        *(["--warmup-num", str(plan.warmup)] if plan.warmup else []),
        *(["--rate", f"{rate:g}"] if rate is not None else []),
        "--url",
        url + scenario.load.endpoint,
        "--model",
        scenario.model.served_name,
        "--outputs-dir",
        str(outputs),
        "--no-timestamp",
        "--name",
        plan.name,
        "--no-test-connection",
        "--db-commit-interval",
        "1",
        "--total-timeout",
        str(scenario.load.request_timeout_s),
    ]


def level_dir(outputs: Path, plan: LevelPlan, scenario: Scenario) -> Path:
    """Where evalscope writes a level's files for `level_argv`'s arguments (a trace,
    replayed open-loop, is named by its rate, which evalscope says is -1)."""
    if scenario.replays_trace:
        return outputs / plan.name / f"rate_-1.0_number_{plan.number}"
    return outputs / plan.name / f"parallel_{plan.parallel}_number_{plan.number}"


@dataclass
class LevelRun:
    returncode: int | None
    timed_out: bool = False


def run_level(
    argv: list[str],
    folder: Path,
    log: Path,
    timeout_s: float,
    progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    secrets: tuple[list[str], list[str]] = ([], []),
    run_dir: Path | None = None,
) -> LevelRun:
    """Run one evalscope level writing to `folder` (`level_dir`); report (finished, failed)
    as rows are committed, and the child's pid to `on_start` once it runs.

    On KeyboardInterrupt the child gets SIGINT (it is in its own session, so the
    terminal's Ctrl-C does not reach it) and is waited for, so the requests it finished
    stay committed; then the interrupt propagates.

    `secrets` is (`secret_args`, `secret_values`): the first reaches the child through its
    environment, the second is scrubbed from the level's folder (`log`'s) afterwards.

    With `run_dir`, the child is a fork of the run's zygote (bench/load/zygote.py: evalscope
    imported once per run, not once per level), or a plain child if there is none.
    """
    env = child_env()
    if secrets[0]:
        env[SECRET_ARGS_ENV] = json.dumps(secrets[0])
    try:
        proc: Child | None = None
        head = len(evalscope_command())
        if run_dir is not None and argv[:head] == evalscope_command():
            proc = _zygote(run_dir, env).fork(argv[head:], env, log.parent, log)
        if proc is None:
            with log.open("ab") as fh:
                proc = spawn(argv, fh, env=env, cwd=log.parent)
        return _follow(proc, folder, timeout_s, progress, on_start)
    finally:
        scrub_tree(log.parent, secrets[1])


def child_env() -> dict[str, str]:
    """A client child's environment: ours, with CHILD_ENV's defaults."""
    return {**os.environ, **{k: v for k, v in CHILD_ENV.items() if k not in os.environ}}


ZYGOTE_FLAG = "--zygote"
ZYGOTE_LOG = "zygote.log"  # in the run's raw/ folder: the zygote's own output
_zygotes: dict[Path, zygote.Zygote] = {}


def _zygote(run_dir: Path, env: dict[str, str]) -> zygote.Zygote:
    """The run's zygote (bench/load/zygote.py), started by `prewarm` or on its first level;
    one started with another environment (a secret aside) is replaced, as is one that has
    died. A run keeps its own and its calibration's (a folder inside it), so levels and
    calibrations that alternate do not start them again; another run's are stopped, and
    all when vlm-bench exits (`close_zygotes`)."""
    base = {k: v for k, v in env.items() if k != SECRET_ARGS_ENV}
    current = _zygotes.get(run_dir)
    if current is not None and current.alive() and current.env == base:
        return current
    for other in list(_zygotes):
        if other == run_dir or not (other.is_relative_to(run_dir) or run_dir.is_relative_to(other)):
            _zygotes.pop(other).close()
    argv = [*evalscope_command(), ZYGOTE_FLAG, str(run_dir)]
    _zygotes[run_dir] = zygote.Zygote(argv, base, run_dir / "raw" / ZYGOTE_LOG)
    return _zygotes[run_dir]


def prewarm(run_dir: Path) -> None:
    """Start the run's zygote now, without waiting for its imports (~3 s of CPU), so they
    run while the run starts its server; its first level then forks at once."""
    _zygote(run_dir, child_env())


@atexit.register
def close_zygotes(run_dir: Path | None = None) -> None:
    """Stop the zygotes of `run_dir` (its own and its calibration's) at the run's end, or
    every one (at exit)."""
    for folder in list(_zygotes):
        if run_dir is None or folder.is_relative_to(run_dir):
            _zygotes.pop(folder).close()


def _follow(
    proc: Child,
    folder: Path,
    timeout_s: float,
    progress: Callable[[int, int], None] | None,
    on_start: Callable[[int], None] | None,
) -> LevelRun:
    if on_start is not None:
        on_start(proc.pid)
    deadline = time.monotonic() + timeout_s
    last = (-1, -1)
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                stop_group(proc)
                return LevelRun(proc.returncode, timed_out=True)
            counts = count_rows(folder)
            if progress and counts != last:
                progress(*counts)
                last = counts
            time.sleep(0.25)
    except KeyboardInterrupt:
        stop_group(proc, ((signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)))
        raise
    stop_group(proc)  # evalscope has exited: nothing it started may outlive it
    if progress:
        progress(*count_rows(folder))
    return LevelRun(proc.returncode)


def _warm() -> None:
    """evalscope's imports, and the tokenizer's (transformers, which evalscope imports on a
    level's first request), then a frozen GC (see above)."""
    import gc

    import evalscope.perf.main  # noqa: F401  (the heavy imports, before freezing)
    import modelscope
    from evalscope.cli.cli import run_cmd  # noqa: F401

    from bench.load import evalscope_sender  # noqa: F401  (registers its two plugins)

    modelscope.AutoTokenizer  # noqa: B018  (modelscope imports transformers on first use)
    gc.collect()
    gc.freeze()


def _run(args: list[str]) -> None:
    """One level's evalscope CLI, `args` as after `python -m bench.load.evalscope`."""
    import evalscope.perf.main as perf_main
    from evalscope.cli.cli import run_cmd

    # evalscope's perf_report.html: a view of the same rows that loads plotly from a CDN,
    # ~1.2 s of plotly per level here; vlm-bench's report replaces it (docs/store.md).
    perf_main.gen_perf_html_report = lambda *_args, **_kwargs: None
    _hold_at_barrier()
    if args and args[0].startswith(WARMUP_FLAG + "="):
        _cheap_warmup(int(args.pop(0).partition("=")[2]))
    # Popped, so nothing evalscope starts inherits it.
    hidden = json.loads(os.environ.pop(SECRET_ARGS_ENV, "[]"))
    sys.argv = ["evalscope", *args, *hidden]
    run_cmd()


def _child_main() -> None:
    """`python -m bench.load.evalscope perf …`: one level (a worker's, or a level with no
    zygote); `… --zygote RUN_DIR`: the run's zygote (bench/load/zygote.py)."""
    if sys.argv[1:2] == [ZYGOTE_FLAG]:
        sys.exit(zygote.serve(_warm, _run))
    _warm()
    _run(sys.argv[1:])


def _cheap_warmup(tokens: int) -> None:
    """Cap evalscope's warm-up requests at `tokens` output tokens (min_tokens too, which a
    server would otherwise refuse as above max_tokens): its `get_requests` yields
    (request, is_warmup) pairs and is looked up when each level starts."""
    import evalscope.perf.benchmark as perf_benchmark

    original = perf_benchmark.get_requests

    async def cheap(*args: Any, **kwargs: Any) -> AsyncIterator[tuple[dict[str, Any], bool]]:
        async for request, is_warmup in original(*args, **kwargs):
            if is_warmup:
                capped = {"max_tokens": tokens}
                if "min_tokens" in request:
                    capped["min_tokens"] = min(int(request["min_tokens"]), tokens)
                # A prepared body (evalscope_sender.Wire) is copied as one, serialised now.
                replaced = getattr(request, "replaced", None)
                request = replaced(**capped) if replaced else {**request, **capped}
            yield request, is_warmup

    perf_benchmark.get_requests = cheap


def _hold_at_barrier() -> None:
    """With `barrier.BARRIER_ENV` set (one of a level's workers), wait for the common start
    just before the first request: evalscope's `connect_test`, awaited right after its
    start-up and right before its client sends anything, is wrapped to wait there too."""
    folder = os.environ.pop(barrier.BARRIER_ENV, None)
    if not folder:
        return
    import atexit

    import evalscope.perf.benchmark as perf_benchmark

    original = perf_benchmark.connect_test

    async def connect_then_wait(*args: object, **kwargs: object) -> None:
        await original(*args, **kwargs)
        await barrier.wait_released(Path(folder))

    perf_benchmark.connect_test = connect_then_wait
    atexit.register(barrier.write_end, Path(folder))


if __name__ == "__main__":
    _child_main()
