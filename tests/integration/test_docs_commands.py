"""Docs that run: every command of README.md and docs/*.md, executed against the simulator.

The commands: the lines of fenced shell blocks (```bash, ```sh, ```shell, ```console: every
line; an untagged block: the lines that start with a program of PROGRAMS), the indented
code lines that start with a program, and the first cell of the command tables (README.md's
and docs/commands.md's). Each runs in one temporary "checkout" (scenarios/,
reports/reference/, run_bench.sh and a .venv whose vlm-bench is this test's), so relative
paths and the default store (reports/vlm-bench.db) behave as in the docs.

Placeholders are filled by `_placeholder`; optional `[...]` parts are dropped, except a lone
placeholder (`[SCENARIO]`, `[PATH…]`), which is filled; `a\\|b` takes `a`, `X…` is one `X`.
A command that maps onto the very argv of one already run (the same sweep in README and
docs/commands.md) is run once.

Narrowing, so the whole file costs one small sweep per command that sweeps: `run` and the
quick start get `--parallel 1 --number 4`; `history` gets `--conc 1` (the last one counts);
`capacity` gets an SLO (`--set`) and probes bounded by `--start 1 --max 2`. Every command
that reads a run reads one shared run, made once (`run SCENARIO`'s own). A command that
serves (`vlm-bench sim`) passes when it listens and stops on SIGTERM.

A command that cannot be mapped (an unknown placeholder left over) fails: add its
placeholder, or put it in ALLOWED with a reason (it needs hardware, a cluster or a remote
host this test cannot have). Commands with `--json` must print one JSON document on stdout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.sim.process import SimProcess

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROGRAMS = ("vlm-bench", ".venv/bin/vlm-bench", "./run_bench.sh", ".venv-vllm/bin/python")
SHELL = {"bash", "sh", "shell", "console"}
NARROW = ["--parallel", "1", "--number", "4"]
ONE_TABLE = "table.md"  # the reference guide's first table alone (FILE.md: import-table)

# Commands this test cannot run, each with the reason (the text as extracted, placeholders
# and all).
ALLOWED = {
    "./run_bench.sh test": "the whole suite and the e2e tier: it is CI itself (.ci/run)",
    "vlm-bench run SCENARIO --cluster ADDRESS": "a Ray cluster (test_cluster.py starts one)",
    "vlm-bench fleet PLAN.yaml [--address ADDRESS]": "Ray tasks (test_cluster.py runs a fleet)",
    "vlm-bench fleet PLAN.yaml": "Ray tasks (test_cluster.py runs a fleet)",
    "vlm-bench offline SCENARIO [--run RUN_DIR] [--prompts M] [--out DIR] [--set …]": (
        "vllm.LLM, which lives in .venv-vllm (the e2e tier)"
    ),
    ".venv-vllm/bin/python -m bench.tools.tinymodel DIR": "torch, in .venv-vllm (e2e tier)",
    "vlm-bench tiny-model DIR": "torch, in .venv-vllm (the e2e tier)",
    "vlm-bench db index runs/ --db postgresql://bench@db.example/bench": (
        "a PostgreSQL server at an example host (the store's tests run a real PostgreSQL)"
    ),
    "vlm-bench db prune --before 2026-01-01 --db postgresql://bench@db.example/bench": (
        "a PostgreSQL server at an example host (test_store_cli.py prunes a real one)"
    ),
    "vlm-bench gate BASELINE --adaptive SCENARIO [--max-repeats 5] [--output-dir DIR]": (
        "whole sweeps, up to --max-repeats of them, and gate takes no narrowing flag "
        "(tests/unit/test_adaptive_gate.py drives its loop)"
    ),
}


@dataclass(frozen=True)
class DocCommand:
    where: str  # file:line
    text: str


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#\s.*$", "", line).strip()


def _fenced(path: Path) -> Iterator[DocCommand]:
    text = path.read_text()
    for block in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        start = text.count("\n", 0, block.start()) + 2
        lines = block.group(2).replace("\\\n", " \n").splitlines()
        for k, raw in enumerate(lines):
            line = _strip_comment(raw)
            if not line or line.startswith("#"):
                continue
            if block.group(1) in SHELL or line.split()[0] in PROGRAMS:
                yield DocCommand(f"{path.name}:{start + k}", line)


def _indented(path: Path) -> Iterator[DocCommand]:
    """Indented code blocks: the lines of four spaces and a program."""
    for k, line in enumerate(path.read_text().splitlines(), 1):
        words = line.split()
        if line.startswith("    ") and not line.startswith("     ") and words[0] in PROGRAMS:
            yield DocCommand(f"{path.name}:{k}", _strip_comment(line))


def _table(path: Path) -> Iterator[DocCommand]:
    for k, line in enumerate(path.read_text().splitlines(), 1):
        if not line.startswith("| `"):
            continue
        cell = re.split(r"(?<!\\)\|", line)[1]
        for span in re.findall(r"`([^`]+)`", cell):
            if span.split()[0] in PROGRAMS:
                yield DocCommand(f"{path.name}:{k}", span.strip())


def commands() -> list[DocCommand]:
    found = [c for doc in DOCS for c in (*_fenced(doc), *_indented(doc))]
    return found + [
        c for doc in (ROOT / "README.md", ROOT / "docs" / "commands.md") for c in _table(doc)
    ]


# ---- mapping a documented command onto argv -------------------------------------------


@dataclass
class Home:
    """The temporary checkout every command runs in, and what fills its placeholders."""

    path: Path
    url: str
    run_dir: Path
    ran: dict[tuple[str, ...], subprocess.CompletedProcess[str]]
    count: int = 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return str(self.path / f"{stem}-{self.count}")


def _placeholder(token: str, prev: str, verb: str, home: Home) -> str | None:
    """The value of one placeholder token (None: not a placeholder)."""
    if token == "SCENARIO" and verb == "history":
        return "quickstart"  # history takes the scenario's name
    fixed = {
        "SCENARIO": "scenarios/quickstart.yaml",
        "PATH": "reports",
        "URL": home.url,
        "http://HOST:PORT": home.url,
        "NAME": "docs-name",
        "FILE.md": ONE_TABLE,
        "validity.FIELD=V": "validity.max_failed_ratio=0.5",
    }
    runs = {"RUN_DIR", "RUN", "RUN_A", "RUN_B", "RUN_C", "BASELINE", "CANDIDATE"}
    if token in fixed:
        return fixed[token]
    if token in runs:
        return str(home.run_dir)
    if token == "N" and prev in ("--conc", "--keep"):
        return "1"
    if token == "DATE":
        return "2026-01-01"
    if token == "FILE" and verb == "export":
        return home.fresh("file") + ".csv"  # export infers its format from the extension
    if token == "DIR":
        return home.fresh("out")
    if token == "FILE":
        return home.fresh("file")
    return None


def _simplify(text: str) -> str:
    """Drop optional `[...]` parts, take the first of `a\\|b`, make `X…` one `X`."""
    text = re.sub(r"\[([A-Z][A-Z_]*…?)\]", r"\1", text)  # a lone placeholder: filled
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\s*\[[^\[\]]*\]", "", text)
    text = re.sub(r"\(([^()]*?)\s*\\\|[^()]*\)", r"\1", text)  # (a \| b): a
    text = re.sub(r"(\S+?)\\\|\S+", r"\1", text)
    return text.replace("…", "")


_LEFT = re.compile(r"^[A-Z][A-Z0-9_.]*$|[<>…\[\]]|HOST|PORT")


def to_argv(command: DocCommand, home: Home) -> tuple[list[str], str | None]:
    """argv for the command, and the file its stdout is redirected into (`> FILE`)."""
    text, redirect = _simplify(command.text), None
    if " | head" in text:  # the reader's side of the pipe: test_export pins a closed pipe
        text = text.partition(" | head")[0]
    if " > " in text:
        text, _, target = text.partition(" > ")
        redirect = target.strip()
    words = shlex.split(text)
    out: list[str] = []
    for k, word in enumerate(words):
        verb = words[1] if len(words) > 1 else ""
        value = _placeholder(word, words[k - 1] if k else "", verb, home)
        if value is None and _LEFT.search(word):
            raise AssertionError(f"{command.where}: cannot map {word!r} in `{command.text}`")
        out.append(word if value is None else value)
    return _program(out) + _narrowing(out), redirect


def _program(words: list[str]) -> list[str]:
    if words[0] in ("vlm-bench", ".venv/bin/vlm-bench"):
        return [sys.executable, "-m", "bench", *words[1:]]
    if words[0] == "./run_bench.sh":
        return ["bash", *words]
    raise AssertionError(f"no program for {words[0]!r}")


def _narrowing(words: list[str]) -> list[str]:
    verb = words[1] if len(words) > 1 else ""
    if words[0] == "./run_bench.sh" and (verb == "" or verb.startswith("-") or ".yaml" in verb):
        return NARROW
    if verb == "run" and "--resume" not in words:
        return NARROW
    if verb == "history":
        return ["--conc", "1"]  # the shared run's one level (the last --conc counts)
    if verb == "capacity":
        return [
            "--start",
            "1",
            "--max",
            "2",
            "--set",
            "slo.ttft_p99_s=60",
            "--set",
            "slo.tpot_p99_s=1",
        ]
    return []


# ---- the shared checkout, simulator and run ---------------------------------------------


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VLM_BENCH_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _fake_venv(home: Path) -> None:
    """home/.venv as run_bench.sh expects an installed one: this interpreter's vlm-bench
    and the stamp of the current dependency list, so nothing is installed (a python that
    only fails, should it try)."""
    bin_dir = home / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    # Never a real interpreter: were the stamp stale, run_bench.sh would install into it.
    (bin_dir / "python").write_text(
        "#!/bin/sh\necho 'docs test: run_bench.sh would install' >&2\nexit 97\n"
    )
    (bin_dir / "python").chmod(0o755)
    (bin_dir / "vlm-bench").symlink_to(Path(sys.executable).parent / "vlm-bench")
    # run_bench.sh's stamp: `cat pyproject.toml .ci/lean_deps.py | sha256sum | cut -c1-16`
    files = (home / "pyproject.toml", home / ".ci" / "lean_deps.py")
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]
    (home / ".venv" / f".installed-test-{digest}").touch()


def _run(argv: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=home, env=_env(home), capture_output=True, text=True, timeout=300
    )


def _checkout(path: Path) -> None:
    """The files the documented commands name, relative to the checkout."""
    shutil.copytree(ROOT / "scenarios", path / "scenarios")
    shutil.copytree(ROOT / "reports" / "reference", path / "reports" / "reference")
    shutil.copytree(ROOT / "examples", path / "examples")  # the workloads' photos, trace
    for name in ("run_bench.sh", "pyproject.toml", ".ci/lean_deps.py"):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, path / name)
    guide = (ROOT / "reports" / "reference" / "vlm-r1-ovd-800ta2.md").read_text()
    (path / ONE_TABLE).write_text(guide.split("\n## xLLM")[0])
    _fake_venv(path)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """The checkout, one simulator for `--url`, and the shared run: `run SCENARIO`'s."""
    path = tmp_path_factory.mktemp("docs-home")
    _checkout(path)
    (path / "sim").mkdir()
    sim = SimProcess(path / "sim")
    try:
        argv = [sys.executable, "-m", "bench", "run", "scenarios/quickstart.yaml", *NARROW]
        made = _run(argv, path)
        assert made.returncode == 0, made.stderr[-2000:]
        (run_file,) = (path / "reports" / "quickstart").glob("*/run.json")
        yield Home(path, f"http://127.0.0.1:{sim.port}", run_file.parent, {tuple(argv): made})
    finally:
        sim.stop()


def _serve(argv: list[str], home: Home) -> None:
    """A serving command: it must listen on its --port, and stop on SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [*argv, "--port", str(port)],
        cwd=home.path,
        env=_env(home.path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket() as conn:
                if conn.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


COMMANDS = commands()


def test_the_docs_have_commands() -> None:
    """Guards the extraction itself: a parser change that finds nothing would pass all."""
    assert len(COMMANDS) >= 25
    assert any(c.text.startswith("./run_bench.sh") for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.where} {c.text}" for c in COMMANDS])
def test_documented_command_runs(command: DocCommand, home: Home) -> None:
    if command.text in ALLOWED:
        pytest.skip(f"allow-listed: {ALLOWED[command.text]}")
    argv, redirect = to_argv(command, home)
    if argv[3:4] == ["sim"]:
        _serve(argv, home)
        return
    done = home.ran.get(tuple(argv)) or _run(argv, home.path)
    home.ran[tuple(argv)] = done
    assert done.returncode == 0, f"{command.where}: {shlex.join(argv)}\n{done.stderr[-3000:]}"
    if redirect is not None:
        (home.path / redirect).write_text(done.stdout)
    if "--json" in argv:
        json.loads(done.stdout)
