"""All argparse declarations of `vlm-bench`: the subcommands, their flags and help, and
the custom argument types and actions. No command logic: each subcommand's `func` is
taken from the table `bench.cli` passes in.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench import __version__
from bench.cli.parser_capacity import add_capacity_command
from bench.cli.parser_errors import OneLineParser
from bench.cli.parser_fleet import add_cluster, add_fleet
from bench.cli.parser_gate import add_adaptive
from bench.cli.parser_history import add_history_command
from bench.cli.parser_store import add_keep_raw_db, add_store_commands
from bench.cli.parser_url import add_url_flags
from bench.schema.scenario_base import MAX_NUMBER


def _finite_float(text: str) -> float:
    """A non-negative finite number: `nan`, `inf` and `-1` parse as floats but mean nothing."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


_SIM_FLAGS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("--model", "served_model_name", str, "served model name"),
    (
        "--time-scale",
        "time_scale",
        _finite_float,
        "multiply every modelled duration (0.1 = 10x faster)",
    ),
    ("--jitter", "jitter", _finite_float, "relative s.d. of each step's cost"),
    ("--max-num-seqs", "max_num_seqs", int, "running-batch limit"),
    ("--limit-images", "max_images_per_request", int, "images allowed per request"),
    (
        "--ready-delay",
        "faults.ready_delay_s",
        _finite_float,
        "fault: bind the port after S seconds",
    ),
    ("--error-every", "faults.error_every", int, "fault: every K-th request fails"),
    ("--error-status", "faults.error_status", int, "fault: status of those failures (500/429)"),
    ("--drop-every", "faults.drop_every", int, "fault: cut every K-th stream..."),
    ("--drop-after-tokens", "faults.drop_after_tokens", int, "...after M tokens"),
    ("--exit-after", "faults.exit_after_requests", int, "fault: exit when request N+1 arrives"),
    ("--stall-every", "faults.stall_every", int, "fault: engine stalls on every K-th arrival..."),
    ("--stall-s", "faults.stall_s", _finite_float, "...for S seconds"),
    (
        "--truncate-output",
        "faults.truncate_output_tokens",
        int,
        "fault: stop after N tokens even with ignore_eos",
    ),
]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")

    if value > MAX_NUMBER:  # the largest any scenario count may be
        raise argparse.ArgumentTypeError(f"expected at most {MAX_NUMBER}, got {value}")
    return value


class _LevelsThenScenario(argparse.Action):
    """`--parallel 1 2 SCENARIO`: nargs="+" swallows the scenario after the numbers, so
    trailing words that are not integers become the positional scenario instead."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        words = list(values)
        tail: list[str] = []
        while words and not words[-1].lstrip("+-").isdigit():
            tail.insert(0, words.pop())
        if not words or len(tail) > 1 or (tail and getattr(namespace, "scenario", None)):
            raise argparse.ArgumentError(self, f"expected positive integers, got {values!r}")
        try:
            setattr(namespace, self.dest, [_positive_int(w) for w in words])
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        if tail:
            namespace.scenario = tail[0]


class _KeepScenario(argparse.Action):
    """The optional scenario positional: argparse fills an absent one with None after the
    options, which would undo the scenario _LevelsThenScenario found."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values is not None or getattr(namespace, self.dest, None) is None:
            setattr(namespace, self.dest, values)


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give every (nested) subcommand its own -v, so `vlm-bench run -v X` works as well as
    `vlm-bench -v run X`. SUPPRESS as the default keeps a subparser that was not given -v
    from resetting the value the top-level parser set."""
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                child.add_argument(
                    "-v",
                    "--verbose",
                    action="store_true",
                    default=argparse.SUPPRESS,
                    help="debug logging for vlm-bench, info for the libraries it uses",
                )
                _verbose_everywhere(child)


BASELINES = Path("baselines")


def _add_out(parser: argparse.ArgumentParser, help_: str, alias: bool = True) -> None:
    """`--out DIR` is every command's "folder to write into"; `--output-dir` stays as a
    hidden alias where it existed (run, offline) so that older scripts keep working."""
    parser.add_argument("--out", metavar="DIR", help=help_)
    if alias:
        parser.add_argument("--output-dir", dest="out", help=argparse.SUPPRESS)


def _add_json(parser: argparse.ArgumentParser, shape: str) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"print only a JSON summary on stdout ({shape}); tables go to stderr",
    )


def _add_set(parser: argparse.ArgumentParser, what: str, example: str) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"{what}, dotted ({example})",
    )


def build_parser(
    commands: Mapping[str, Callable[[argparse.Namespace], int]],
) -> argparse.ArgumentParser:
    """The parser; each subcommand's `func` is `commands[its name]`."""
    parser: argparse.ArgumentParser = OneLineParser(
        prog="vlm-bench",
        description="Benchmark vision-language-model serving: sweep concurrency levels with "
        "evalscope against a server (started from a scenario file, or already running: "
        "`run --url`), then report, compare and gate the runs. `COMMAND --help` for each.",
        epilog="Exit codes: 0 ok, 1 run failed or regression, 2 bad input, "
        "3 gate --strict suspect, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"vlm-bench {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging for vlm-bench, info for the libraries it uses (anywhere on the line)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser("sim", help="run the reference simulator server")
    sim.add_argument("--profile", default="fast", help="built-in profile name or YAML file")
    sim.add_argument("--list-profiles", action="store_true", help="list built-in profiles")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    sim.add_argument("--port-file", help="write the bound port to this file once listening")
    sim.add_argument("--seed", type=int, default=0, help="seeds jitter and natural lengths")
    sim.add_argument("--trace", help="append one JSON line per request to this file")
    sim.add_argument("--tokenizer", help="tokenizer folder (default: the generated one)")
    _add_set(sim, "override any profile field", "faults.stall_s=2")
    for flag, field, type_, help_ in _SIM_FLAGS:
        sim.add_argument(flag, dest=field.replace(".", "__"), type=type_, help=help_)
    sim.set_defaults(func=commands["sim"])

    run = sub.add_parser(
        "run",
        help="run a scenario's sweep (or benchmark a running server: --url)",
        description="Sweep the scenario's concurrency levels with evalscope and write a run "
        "folder (run.json, levels.csv, report.md, plots, raw data). With --url and no scenario "
        "file, benchmark a server that is already running with the quick start's load and "
        "sweep. Exit 0: every level ok; 1: a level failed or an incident; 2: bad input; "
        "130: interrupted.",
    )
    run.add_argument("scenario", nargs="?", action=_KeepScenario, help="scenario YAML file")
    add_url_flags(run)
    run.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="finish a partial run: re-run its levels that are not ok",
    )
    run.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    _add_out(run, "write the run folder under DIR instead of the scenario's output_dir")
    _add_set(run, "override a scenario field", "load.max_tokens=64")
    for flag in ("parallel", "number"):
        run.add_argument(
            f"--{flag}", nargs="+", action=_LevelsThenScenario, help=f"override sweep.{flag}"
        )
    run.add_argument("--repeats", type=_positive_int, help="override sweep.repeats")
    run.add_argument("--skip-check", action="store_true", help="no answer check before the sweep")
    add_keep_raw_db(run)
    add_cluster(run)
    _add_json(run, "{run_dir, status, levels, incidents}")
    run.set_defaults(func=commands["run"])
    add_fleet(sub, commands["fleet"])

    chk = sub.add_parser(
        "check",
        help="send the reference's OVD request and judge the answer's format",
        description="Start (or attach to) the scenario's server, send the reference's "
        "open-vocabulary-detection request and check the answer: <description>, a JSON "
        "block with answer yes/no and bbox_2d boxes inside the image. Exit 0: format "
        "valid; 1: format invalid, the request failed or the server never got ready; "
        "2: bad input.",
    )
    chk.add_argument("scenario", help="scenario YAML file")
    chk.add_argument("--image", help="PNG/JPEG to send (default: the scenario's, or generated)")
    chk.add_argument(
        "--out", metavar="DIR", help="keep the request, answer and verdict in this folder"
    )
    _add_set(chk, "override a scenario field", "check.event=cup")
    chk.set_defaults(func=commands["check"])

    off = sub.add_parser(
        "offline",
        help="offline throughput: one batch through vLLM's LLM class (the reference's path)",
        description="Run the scenario's prompts (evalscope's generator, same load and "
        "seed as the sweep) as one batch through vllm.LLM in a child Python that has vLLM "
        "(offline.python), and report requests/s and output tok/s. With --run, the result "
        "joins that run and its report shows it beside the best online level.",
    )
    off.add_argument("scenario", help="scenario YAML file")
    off.add_argument("--run", metavar="RUN_DIR", help="attach the result to this run")
    off.add_argument("--prompts", type=_positive_int, help="batch size (default: offline.prompts)")
    _add_out(off, "write under DIR instead of the scenario's output_dir (without --run)")
    _add_set(off, "override a scenario field", "offline.engine_args.dtype=float16")
    off.set_defaults(func=commands["offline"])

    imp = sub.add_parser(
        "import-table",
        help="turn a published table in the reference format into a run",
        description="Read a markdown table with the reference's columns (| Conc. | RPS | … | "
        "Success Rate |) and write it as a run marked published (no raw data, no repeats), "
        "with the load and sweep of the scenario that produced it, so that measured runs "
        "can be compared with it.",
    )
    imp.add_argument("file", help="markdown file holding the table")
    imp.add_argument("--name", required=True, help="the run's name (its folder and label)")
    imp.add_argument("--scenario", required=True, help="the scenario the table was measured with")
    imp.add_argument("--table", help="which table (its heading's first word), if several")
    imp.add_argument("--hardware", help="instead of the scenario's hardware")
    imp.add_argument("--backend", help="instead of the scenario's backend")
    imp.add_argument("--out", metavar="DIR", help="run folder (default: <output_dir>/<name>)")
    imp.set_defaults(func=commands["import-table"])

    cmp_ = sub.add_parser(
        "compare",
        help="runs side by side per concurrency, with %% change against the first",
        description="One table per metric family, each run's value and its change "
        "against the first run per concurrency level, and a headline. Runs whose workloads "
        "(image size, tokens, dataset, …) or concurrency levels differ are refused unless "
        "--force.",
    )
    cmp_.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or run.json files)")
    cmp_.add_argument("--force", action="store_true", help="compare different workloads anyway")
    cmp_.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="compare runs whose recorded hardware or software versions differ",
    )
    cmp_.add_argument(
        "--out", metavar="DIR", help="also write compare.md and overlay plots into this folder"
    )
    _add_json(cmp_, "{runs, levels, headline, changes}")
    cmp_.set_defaults(func=commands["compare"])

    rel = sub.add_parser(
        "release-table",
        help="one table across runs, with each run's capacity (max RPS, knee, SLO)",
    )
    rel.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or run.json files)")
    rel.add_argument(
        "--by", default="hardware,backend,version", help="leading columns (default: %(default)s)"
    )
    rel.add_argument(
        "--knee", type=_finite_float, default=1.1, help="P99 TPOT factor of the knee (default 1.1)"
    )
    rel.add_argument(
        "--out", metavar="DIR", help="also write release.md and release.csv into this folder"
    )
    _add_json(rel, "{by, knee_factor, rows, capacity, notes}")
    rel.set_defaults(func=commands["release-table"])

    gat = sub.add_parser(
        "gate",
        help="judge a candidate run against a baseline: exit 1 on a confirmed regression",
        description="Per (concurrency, metric) cell: REGRESSION when worse beyond the "
        "metric's band and floor and (>= 5 repeats a side) significant by a one-sided "
        "Mann-Whitney U test at alpha / levels; SUSPECT, NOISY, FAILED (new failed "
        "requests), NO DATA (a value missing, NaN or infinite: never passes). Exit 0 "
        "pass, 1 regression, 2 incomparable input or a cell with no data, 3 (--strict) "
        "only suspect or noisy cells.",
    )
    gat.add_argument("baseline", help="run folder, run.json, or a name under baselines/")
    gat.add_argument("candidate", nargs="?", help="run folder, run.json, or baseline name")
    add_adaptive(gat)
    gat.add_argument("--thresholds", help="YAML: {alpha: 0.05, thresholds: {KEY: {band, floor}}}")
    gat.add_argument("--strict", action="store_true", help="exit 3 on suspect or noisy cells")
    gat.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="gate runs of other hardware, backend or software versions",
    )
    gat.add_argument("--out", metavar="DIR", help="also write the verdict as DIR/gate.md")
    _add_json(gat, "{verdict, exit_code, cells}")
    gat.set_defaults(func=commands["gate"])

    base = sub.add_parser("baseline", help="keep a run as a named baseline")
    base_sub = base.add_subparsers(dest="action", required=True, metavar="ACTION")
    save = base_sub.add_parser("save", help="copy a run's results into baselines/NAME")
    save.add_argument("run", help="run folder")
    save.add_argument("--as", dest="name", required=True, help="baseline name")
    save.add_argument("--dir", default=str(BASELINES), help="where baselines live")
    save.add_argument("--force", action="store_true", help="replace an existing baseline")
    save.set_defaults(func=commands["baseline"])

    val = sub.add_parser("validate", help="check scenario files")
    val.add_argument("files", nargs="+")
    val.set_defaults(func=commands["validate"])

    rep = sub.add_parser(
        "report",
        help="re-render report.md from a run's run.json (or re-judge it: --set validity.…)",
        description="Re-render a run's report.md from its run.json. With --set validity.FIELD="
        "VALUE, re-judge the stored levels with other validity thresholds instead (nothing is "
        "re-measured): the report goes to RUN/report-rejudged.md, report.md is left as it was.",
    )
    rep.add_argument("run_dir")
    _add_set(rep, "re-judge with another validity threshold", "validity.max_client_cpu=0.5")
    _add_out(rep, "write report.md and its plots into DIR instead of the run folder", alias=False)
    rep.set_defaults(func=commands["report"])

    dash = sub.add_parser("dashboard", help="a static HTML site of many runs (docs/dashboard.md)")
    dash.add_argument("paths", nargs="*", metavar="PATH", help="run folders or folders of runs")
    dash.add_argument(
        "--db", metavar="URL", help="also a store's runs (no PATH: the default store, as db index)"
    )
    dash.add_argument("--out", metavar="DIR", required=True, help="the site's folder")
    dash.set_defaults(func=commands["dashboard"])

    sch = sub.add_parser("schema", help="print the JSON Schema of run.json (for dashboards, CI)")
    sch.set_defaults(func=commands["schema"])

    tiny = sub.add_parser(
        "tiny-model",
        help="generate a tiny random Qwen2.5-VL checkpoint "
        "(needs torch: run with .venv-vllm/bin/python -m bench)",
    )
    tiny.add_argument("out_dir")
    tiny.set_defaults(func=commands["tiny-model"])

    tok = sub.add_parser("tokenizer", help="generate (once) the offline Qwen2-style tokenizer")
    tok.add_argument("--out", metavar="DIR", help="write it here instead of the cache")
    tok.set_defaults(func=commands["tokenizer"])
    add_store_commands(sub, commands)
    add_history_command(sub, commands)
    add_capacity_command(sub, commands, (_add_out, _add_set, _add_json))
    _verbose_everywhere(parser)
    return parser
