"""`vlm-bench run --dry-run`: the exact server and load commands a sweep would run, printed
through bench.redact, without starting anything."""

from __future__ import annotations

import shlex
from pathlib import Path

from bench import redact
from bench.load import evalscope
from bench.measure.prepare import resolve_tokenizer
from bench.schema.scenario import Scenario, scenario_hash
from bench.serve import server


def dry_run(scenario: Scenario, run_dir: Path) -> str:
    """The exact server and load commands, without running anything."""
    tokenizer = resolve_tokenizer(scenario, must_exist=False)
    url = server.base_url(scenario).replace(":0", ":<free port>")
    lines = [
        f"# scenario {scenario.name} ({scenario_hash(scenario)}): "
        f"{len(scenario.sweep.levels())} levels"
    ]
    # Printed through bench.redact: `${env:NAME}` shows as written, a literal secret not.
    argv = redact.redact_argv(server.server_argv(scenario, tokenizer, run_dir))
    if argv:
        env = redact.redact_env(scenario.server.env)
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        lines += [
            f"# server ({scenario.server.kind})",
            (prefix + " " if prefix and scenario.server.kind != "docker" else "")
            + shlex.join(argv),
        ]
    else:
        lines.append(f"# server: external, {url}")
    keys = redact.redact_argv(evalscope.secret_args(scenario, resolved=False))
    lines += [
        "# load: the sweep as one evalscope command",
        shlex.join(redact.redact_argv([*evalscope.sweep_argv(scenario, url, tokenizer), *keys])),
        "# vlm-bench runs it one level per process (evalscope's CLI with its GC frozen):",
    ]
    if scenario.sweep.repeats > 1:
        lines.append(
            f"# each level {scenario.sweep.repeats} times"
            f"{' (rounds over all levels)' if scenario.sweep.interleave else ''}; "
            "repeat k adds 1000 * (k - 1) to the seed"
        )
    for i, (p, n) in enumerate(scenario.sweep.levels(), 1):
        level = evalscope.level_argv(scenario, url, tokenizer, i, p, n, run_dir / "raw")
        lines.append(shlex.join(redact.redact_argv(level)))
    if keys:
        lines.append(f"# each level also gets {shlex.join(keys)} (through its environment)")
    return "\n".join(lines)
