"""`vlm-bench run --dry-run`: the exact server and load commands a sweep would run, printed
through bench.redact, without starting anything."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from bench import redact
from bench.load.generator import commands
from bench.load.plan import plan_level
from bench.measure.prepare import resolve_tokenizer
from bench.measure.provenance import workload_of
from bench.schema.plan import SweepLevel
from bench.schema.scenario import Scenario, scenario_hash
from bench.serve import server


def plan(scenario: Scenario, run_dir: Path) -> dict[str, Any]:
    """The exact server and load commands, without running anything, each argv through
    bench.redact (`${env:NAME}` shows as written, a literal secret not): what `--dry-run
    --json` prints."""
    tokenizer = resolve_tokenizer(scenario, must_exist=False)
    url = server.base_url(scenario).replace(":0", ":<free port>")
    argv = redact.redact_argv(server.server_argv(scenario, tokenizer, run_dir))
    plans = [
        plan_level(scenario, run_dir, SweepLevel(i, 1, p, n))
        for i, (p, n) in enumerate(scenario.sweep.levels(), 1)
    ]
    load = commands(scenario, url, tokenizer, plans)
    keys = redact.redact_argv(load["secret_args"])
    return {
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario, workload_of(scenario)),
        "run_dir": str(run_dir),
        "server": {
            "kind": scenario.server.kind,
            "url": url,
            "argv": argv or None,  # None: an external server, nothing started
            "env": redact.redact_env(scenario.server.env),
        },
        "sweep_argv": redact.redact_argv([*load["sweep_argv"], *keys]),
        "level_argvs": [redact.redact_argv(argv) for argv in load["level_argvs"]],
        "repeats": scenario.sweep.repeats,
        "secret_args": keys,  # handed to each level through its environment, not its argv
    }


def dry_run(scenario: Scenario, run_dir: Path) -> str:
    """`plan` as text: the commands, shell-quoted, with comments."""
    got = plan(scenario, run_dir)
    srv, keys = got["server"], got["secret_args"]
    lines = [
        f"# scenario {got['scenario']} ({got['scenario_hash']}): {len(got['level_argvs'])} levels"
    ]
    if srv["argv"]:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in srv["env"].items())
        lines += [
            f"# server ({srv['kind']})",
            (prefix + " " if prefix and srv["kind"] != "docker" else "") + shlex.join(srv["argv"]),
        ]
    else:
        lines.append(f"# server: external, {srv['url']}")
    lines += [
        "# load: the sweep as one evalscope command",
        shlex.join(got["sweep_argv"]),
        "# vlm-bench runs it one level per process (evalscope's CLI with its GC frozen):",
    ]
    if scenario.sweep.repeats > 1:
        lines.append(
            f"# each level {scenario.sweep.repeats} times"
            f"{' (rounds over all levels)' if scenario.sweep.interleave else ''}; "
            "repeat k adds 1000 * (k - 1) to the seed"
        )
    lines += [shlex.join(level) for level in got["level_argvs"]]
    if keys:
        lines.append(f"# each level also gets {shlex.join(keys)} (through its environment)")
    return "\n".join(lines)
