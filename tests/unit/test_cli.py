"""The command line a new user meets first: every --help, -v anywhere, level lists before
the scenario, one output-flag convention, --json summaries, quiet libraries, --url's scenario,
and result files that respect the umask."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.cli import attach, build_parser, main
from bench.cli import parser as cli_parser
from bench.errors import UserError
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from tests.support.factories import repeated
from tests.support.golden import assert_golden
from tests.support.paths import REFERENCE, ROOT

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def _commands(parser: argparse.ArgumentParser, path: list[str]) -> Iterator[list[str]]:
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, [*path, name])


ALL_COMMANDS = list(_commands(build_parser(), []))


def test_the_walk_finds_nested_commands() -> None:
    assert ["baseline", "save"] in ALL_COMMANDS and ["run"] in ALL_COMMANDS
    assert len(ALL_COMMANDS) > 12


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "top")
def test_every_help_works(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: `vlm-bench <sub> --help` died with a TypeError where a help text held a
    bare % (compare's "% change"), because argparse %-formats help strings."""
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: vlm-bench {' '.join(path)}".rstrip())


def _all_help() -> str:
    """`vlm-bench [COMMAND …] --help` of the top level and every (nested) command, in walk
    order, each under a line naming it."""
    parsers: dict[tuple[str, ...], argparse.ArgumentParser] = {(): build_parser()}
    for path in ALL_COMMANDS[1:]:
        parent = parsers[tuple(path[:-1])]
        sub = next(a for a in parent._actions if isinstance(a, argparse._SubParsersAction))
        parsers[tuple(path)] = sub.choices[path[-1]]
    return "".join(
        f"{'=' * 20} {' '.join(['vlm-bench', *path, '--help'])}\n{p.format_help()}"
        for path, p in parsers.items()
    )


@pytest.mark.skipif(
    sys.version_info[:2] not in ((3, 11), (3, 12)),
    reason="argparse 3.13 prints an option's metavar once (`-o, --out DIR`)",
)
def test_every_help_text_is_the_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins what a user sees of the command line: every command's --help, byte for byte
    (Step 15 moved each command's arguments into its module and had to change none of it);
    a deliberate change regenerates tests/data/golden/cli-help.txt and shows in its diff."""
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal's width
    assert_golden("cli-help.txt", _all_help())


def test_the_command_table_names_each_command_it_declares() -> None:
    """parser.py's table is `--help`'s list of commands, name for name and in order."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(cli_parser.COMMANDS)


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("command", list(cli_parser.COMMANDS))
def test_a_command_line_declares_its_command_alone_with_the_same_help(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parser of `vlm-bench COMMAND …` declares COMMAND only (its module alone is
    imported), and that command's --help is the full parser's, byte for byte."""
    monkeypatch.setenv("COLUMNS", "80")
    lone = build_parser(["-v", command, "--json"])
    sub = next(a for a in lone._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == [command]
    full = _subparser(build_parser(), command).format_help()
    assert _subparser(lone, command).format_help() == full


@pytest.mark.parametrize("argv", [[], ["--version"], ["nosuch", "x"], ["-v"]])
def test_a_line_naming_no_command_declares_every_command(argv: list[str]) -> None:
    sub = next(a for a in build_parser(argv)._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(cli_parser.COMMANDS)


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "run", "s.yaml"],
        ["run", "-v", "s.yaml"],
        ["run", "s.yaml", "--verbose"],
        ["-v", "baseline", "save", "r", "--as", "x"],
        ["baseline", "save", "-v", "r", "--as", "x"],
    ],
)
def test_verbose_anywhere(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).verbose is True


def test_not_verbose_by_default() -> None:
    assert build_parser().parse_args(["run", "s.yaml"]).verbose is False


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--parallel", "1", "2", "s.yaml"],
        ["run", "s.yaml", "--parallel", "1", "2"],
        ["run", "--parallel", "1", "2", "--number", "2", "4", "s.yaml"],
    ],
)
def test_levels_before_the_scenario(argv: list[str]) -> None:
    """Regression: `run --parallel 1 2 SCENARIO` failed, nargs="+" swallowing the file."""
    args = build_parser().parse_args(argv)
    assert args.scenario == "s.yaml" and args.parallel == [1, 2]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--parallel", "0", "s.yaml"],
        ["run", "--parallel", "s.yaml"],
        ["run", "--parallel", "1", "x", "2"],
        ["run", "a.yaml", "--parallel", "1", "b.yaml"],
        ["run", "--parallel", "-1"],
    ],
)
def test_bad_levels_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert "--parallel" in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize("command", ["run", "offline"])
def test_output_dir_is_a_hidden_alias_of_out(command: str) -> None:
    parser = build_parser()
    assert parser.parse_args([command, "s.yaml", "--output-dir", "d"]).out == "d"
    assert parser.parse_args([command, "s.yaml", "--out", "d"]).out == "d"


# The one exception: `export` writes a single table file (docs/store.md).
OUT_FILE = {("export",)}


def test_every_out_flag_is_a_folder() -> None:
    """One convention: --out names a folder wherever it exists (bar OUT_FILE)."""
    for path in ALL_COMMANDS:
        parser = build_parser()
        for name in path:
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            parser = sub.choices[name]
        for action in parser._actions:
            if "--out" in action.option_strings:
                assert action.metavar == ("FILE" if tuple(path) in OUT_FILE else "DIR"), path


def test_gate_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = repeated(read_run(REFERENCE / "vllm-ascend-800ta2"), 1.0)
    cand = repeated(read_run(REFERENCE / "vllm-ascend-800ta2"), 1.12)
    for name, run in (("base", base), ("cand", cand)):
        (tmp_path / name).mkdir()
        write_run(run, tmp_path / name)
    code = main(["gate", str(tmp_path / "base"), str(tmp_path / "cand"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == data["exit_code"] == 1 and data["verdict"] == "REGRESSION"
    regressed = {
        (c["parallel"], c["metric"]) for c in data["cells"] if c["verdict"] == "REGRESSION"
    }
    assert (1, "tpot_avg_s") in regressed
    assert data["counts"]["REGRESSION"] == len(regressed)


def test_gate_json_pass(capsys: pytest.CaptureFixture[str]) -> None:
    run = str(REFERENCE / "xllm-800ta2")
    assert main(["gate", run, run, "--json", "--strict"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "PASS" and data["exit_code"] == 0 and len(data["cells"]) > 30


def test_compare_json(capsys: pytest.CaptureFixture[str]) -> None:
    runs = [str(REFERENCE / "vllm-ascend-800ta2"), str(REFERENCE / "xllm-800ta2")]
    assert main(["compare", *runs, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["runs"]) == 2 and data["levels"] == [1, 2, 4, 8, 16, 32]
    a, b = data["values"]["rps"]["1"]
    assert data["changes"]["rps"]["1"] == [pytest.approx(100 * (b - a) / a, abs=0.01)]
    assert data["headline"] and data["headline"][0].count(" vs ") == 1


def test_logging_quiet_libraries(tmp_path: Path) -> None:
    main(["validate", str(QUICKSTART)])
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("bench.measure.sweep").getEffectiveLevel() == logging.INFO
    main(["validate", "-v", str(QUICKSTART)])
    assert logging.getLogger("evalscope").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("bench.measure.sweep").getEffectiveLevel() == logging.DEBUG
    main(["validate", str(QUICKSTART)])  # leave the default for the tests that follow


def test_result_files_follow_the_umask(tmp_path: Path) -> None:
    """Regression: run.json and levels.csv came out 0600 (mkstemp's mode), unreadable by
    the rest of a team sharing the results folder."""
    run = read_run(REFERENCE / "xllm-800ta2")
    old = os.umask(0o022)
    try:
        write_run(run, tmp_path)
    finally:
        os.umask(old)
    for name in ("run.json", "levels.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_url_load_and_sweep_are_the_quick_starts() -> None:
    data = yaml.safe_load(QUICKSTART.read_text())
    assert data["load"] == attach.QUICK_LOAD and data["sweep"] == attach.QUICK_SWEEP


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("http://10.0.0.5:8000/", "http://10.0.0.5:8000"),
        ("https://h/v1/", "https://h"),
    ],
)
def test_base_url(url: str, base: str) -> None:
    assert attach.base_url(url) == base


@pytest.mark.parametrize("url", ["10.0.0.5:8000", "http://h/api/x", "ftp://h", "http://"])
def test_bad_url_is_one_line(url: str) -> None:
    with pytest.raises(UserError, match="expected http://HOST:PORT"):
        attach.base_url(url)


def test_url_scenario_with_model_needs_no_server() -> None:
    scenario = attach.scenario(None, "http://127.0.0.1:9/", "m", None, {"sweep.parallel": [1]})
    assert scenario.server.kind == "external" and scenario.server.url == "http://127.0.0.1:9"
    assert scenario.model.served_name == "m" and scenario.sweep.parallel == [1]
    assert scenario.load.max_tokens == 512


def test_url_replaces_a_scenario_files_server() -> None:
    scenario = attach.scenario(str(QUICKSTART), "http://127.0.0.1:9", None, None, {})
    assert scenario.server.kind == "external" and scenario.server.url == "http://127.0.0.1:9"
    assert scenario.model.served_name == "VLM-R1-Qwen2.5VL-3B-OVD-0321"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"data": [{"id": "a"}]}, None),
        ({"data": []}, "lists no model; give --model NAME"),
        ({"data": [{"id": "a"}, {"id": "b"}]}, "lists a, b; give --model NAME"),
        ({"models": 1}, "not an OpenAI model list"),
    ],
)
def test_served_model(answer: Any, message: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.cli.attach.get", lambda url, timeout: (200, json.dumps(answer)))
    if message is None:
        assert attach.served_model("http://h") == "a"
    else:
        with pytest.raises(UserError, match=message):
            attach.served_model("http://h")


def test_unreachable_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) on loopback: nothing listens there on a test machine.
    assert main(["run", "--url", "http://127.0.0.1:9", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GET /v1/models failed" in err[0]


def test_model_without_url_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(QUICKSTART), "--model", "m", "--dry-run"]) == 2
    assert "--model and --tokenizer go with --url" in capsys.readouterr().err


def test_readme_links_resolve_and_first_screen_stays_short() -> None:
    """The README is a newcomer's first screen; the reference lives in docs/."""
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).is_file(), link
    assert len(readme.encode()) < 10_000
    assert "## Benchmark a server that is already running" in readme


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["compare"], "vlm-bench compare: error: the following arguments are required: RUN"),
        (["run", "s.yaml", "--repeats", "x"], "vlm-bench run: error: argument --repeats"),
        (["nope"], "vlm-bench: error: argument COMMAND: invalid choice: 'nope'"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and err.startswith(says), err
    assert "--help`)" in err


def test_dry_run_json_is_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(QUICKSTART), "--dry-run", "--json", "--out", str(tmp_path)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["scenario"] == "quickstart" and got["server"]["kind"] == "sim"
    assert len(got["level_argvs"]) == 6 and "--warmup-num" in got["level_argvs"][0]
    assert got["sweep_argv"][:2] == ["evalscope", "perf"]
