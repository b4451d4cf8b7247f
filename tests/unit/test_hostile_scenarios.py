"""Hostile scenario input is refused before anything starts: exit 2, one line naming the file
and the field, never a traceback (issue 14, "every bad input is refused before anything starts").

Each case is a scenario file (text or raw bytes), optionally with `--set` items, run through
`vlm-bench validate` and `vlm-bench run --dry-run` in-process. Before this, many of them ended
in a traceback (non-UTF-8 files, deep nesting, NUL bytes, dates and NaN in extra_body, `.inf`
timings, a broken `--set` value) or were silently accepted (duplicate keys, `true` as a
concurrency, a negative seed, absurd token counts, an unknown simulator profile).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.cli import main
from bench.safeyaml import MAX_BYTES

GOOD = """\
name: t
model: {served_name: m, tokenizer_path: generated}
server: {kind: sim}
sweep: {parallel: [1, 2], number: [2, 4]}
"""


def _with(section: str, body: str) -> str:
    """GOOD plus one more top-level section (`load`, `check`, …) written in flow style."""
    return GOOD + f"{section}: {body}\n"


def _server(body: str) -> str:
    return GOOD.replace("server: {kind: sim}", f"server: {body}")


def _sweep(body: str) -> str:
    return GOOD.replace("sweep: {parallel: [1, 2], number: [2, 4]}", f"sweep: {body}")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)

# (id, file content, fragment the one line must contain)
CASES: list[tuple[str, str | bytes, str]] = [
    # -- encodings and size
    ("utf16-le-bom", GOOD.encode("utf-16"), "UTF-16"),
    ("utf16-be-bom", b"\xfe\xff" + GOOD.encode("utf-16-be"), "UTF-16"),
    ("latin1", GOOD.replace("name: t", "name: caf\xe9").encode("latin-1"), "not UTF-8 (byte 0xe9"),
    ("utf8-surrogate-bytes", GOOD.encode() + b"description: \xed\xa0\x80\n", "not UTF-8"),
    ("bad-continuation", b"description: \xc3\x28\n" + GOOD.encode(), "at offset 13"),
    ("raw-nul-byte", GOOD.encode() + b"description: a\x00b\n", "special characters"),
    ("huge-comment", b"#" * (MAX_BYTES + 1), "larger than 1024 KiB"),
    ("huge-value", GOOD + "description: " + "x" * MAX_BYTES + "\n", "larger than 1024 KiB"),
    ("escaped-surrogate", GOOD + 'description: "\\ud800"\n', "description: contains a lone"),
    ("empty-file", "", "a scenario must be a mapping of fields, got NoneType"),
    ("only-comment", "# nothing\n", "a scenario must be a mapping"),
    ("scalar-document", "hello\n", "a scenario must be a mapping of fields, got str"),
    ("list-document", "- 1\n- 2\n", "got list"),
    ("two-documents", GOOD + "---\n" + GOOD, "YAML syntax error"),
    # -- duplicate keys, at several depths
    ("dup-top", GOOD + "name: u\n", "s.yaml:5: duplicate key 'name' (first on line 1)"),
    (
        "dup-model",
        GOOD.replace("served_name: m", "served_name: m, served_name: n"),
        "'served_name'",
    ),
    ("dup-env", _server("{kind: sim, env: {A: '1', A: '2'}}"), "duplicate key 'A'"),
    ("dup-block", GOOD + "load:\n  seed: 1\n  max_tokens: 8\n  seed: 2\n", "s.yaml:8: duplicate"),
    ("dup-deep", _with("load", "{extra_body: {a: {b: {c: 1, c: 2}}}}"), "duplicate key 'c'"),
    ("dup-quoted", GOOD + '"name": u\n', "duplicate key 'name'"),
    ("dup-int-keys", _with("load", "{extra_body: {1: a, 01: b}}"), "duplicate key 1"),
    ("dup-section", GOOD + "load: {seed: 1}\nload: {seed: 2}\n", "duplicate key 'load'"),
    # -- nesting and aliases
    ("deep-flow", _with("load", "{extra_body: {x: " + "[" * 100 + "]" * 100 + "}}"), "deeper"),
    ("deep-10000", "description: " + "[" * 10_000 + "]" * 10_000 + "\n" + GOOD, "deeper than"),
    (
        "deep-block",
        GOOD + "".join(f"{'  ' * i}k{i}:\n" for i in range(80)) + "  " * 80 + "x\n",
        "deeper than 64",
    ),
    ("billion-laughs", GOOD + BOMB, "more than 100000 values"),
    ("alias-bomb-in-field", BOMB + GOOD.replace("name: t", "name: *i"), "more than 100000"),
    ("recursive-alias", GOOD + "description: &a [*a]\n", "recursive alias"),
    ("undefined-alias", GOOD + "description: *nope\n", "YAML syntax error"),
    # -- tags and non-JSON values
    ("python-object", GOOD + "description: !!python/object:os.system {}\n", "constructor"),
    ("python-name", GOOD + "description: !!python/name:os.system ''\n", "constructor"),
    ("custom-tag", GOOD + "description: !foo bar\n", "constructor for the tag '!foo'"),
    ("binary", GOOD + "description: !!binary aGVsbG8=\n", "description: a YAML bytes"),
    ("date-name", GOOD.replace("name: t", "name: 2024-01-01"), "name: a date is not allowed"),
    (
        "timestamp",
        _with("load", "{extra_body: {at: 2024-01-01T10:00:00Z}}"),
        "extra_body.at: a date",
    ),
    ("set", _with("load", "{extra_body: {s: !!set {a, b}}}"), "load.extra_body.s: a YAML set"),
    ("omap", _with("load", "{extra_body: !!omap [a: 1]}"), "load.extra_body.0: a YAML tuple"),
    ("nan-extra-body", _with("load", "{extra_body: {x: .nan}}"), "load.extra_body.x: nan is not"),
    ("int-key-top", GOOD + "1: x\n", "s.yaml: key 1 must be a string"),
    ("bool-key-env", _server("{kind: sim, env: {on: x}}"), "server.env: key True must be"),
    ("unhashable-key", GOOD + "? [a]\n: 1\n", "unhashable key"),
    # -- NaN and infinities in timings
    ("inf-ready", _server("{kind: sim, ready_timeout_s: .inf}"), "server.ready_timeout_s: inf"),
    ("inf-request-timeout", _with("load", "{request_timeout_s: .inf}"), "load.request_timeout_s"),
    ("inf-cooldown", _sweep("{parallel: [1], number: [1], cooldown_s: .inf}"), "sweep.cooldown_s"),
    ("nan-cooldown", _sweep("{parallel: [1], number: [1], cooldown_s: .nan}"), "nan is not a fin"),
    ("-inf-level-timeout", _with("load", "{level_timeout_s: -.inf}"), "load.level_timeout_s"),
    ("inf-rate", _with("load", "{rate: .inf}"), "load.rate: inf is not a finite number"),
    ("inf-offline", _with("offline", "{timeout_s: .Inf}"), "offline.timeout_s"),
    ("nan-validity", _with("validity", "{max_client_cpu: .NaN}"), "validity.max_client_cpu"),
    ("inf-time-scale", _server("{kind: sim, time_scale: .inf}"), "server.time_scale"),
    ("inf-slo", _with("slo", "{ttft_p99_s: .inf}"), "slo.ttft_p99_s"),
    (
        "huge-timeout",
        _server("{kind: sim, ready_timeout_s: 1.0e+12}"),
        "less than or equal to 604800",
    ),
    # -- NUL characters (no process argument can carry one)
    ("nul-env-value", _server('{kind: sim, env: {A: "x\\0y"}}'), "server.env.A: contains a NUL"),
    ("nul-env-key", _server('{kind: sim, env: {"A\\0": x}}'), "server.env: key 'A\\x00'"),
    ("nul-sim-args", _server('{kind: sim, args: ["--x", "a\\0"]}'), "server.args.1: contains"),
    ("nul-argv", _server('{kind: command, argv: ["srv\\0"]}'), "server.argv.0: contains a NUL"),
    ("nul-vllm-arg", _server('{kind: command, vllm: {model: m, args: {"a\\0": 1}}}'), "NUL"),
    ("nul-name", GOOD.replace("name: t", 'name: "t\\0"'), "name: contains a NUL"),
    ("nul-extends", 'extends: "a\\0.yaml"\n' + GOOD, "extends: contains a NUL"),
    ("newline-key", GOOD + '"a\\nb": 1\n', "a\\nb"),
    # -- booleans and strings where numbers go (strict types)
    ("bool-parallel", _sweep("{parallel: [true], number: [1]}"), "sweep.parallel.0: Input should"),
    ("bool-number", _sweep("{parallel: [1, 2], number: [true, 2]}"), "sweep.number.0"),
    ("bool-max-tokens", _with("load", "{max_tokens: true}"), "load.max_tokens: Input should be"),
    ("bool-port", _server("{kind: sim, port: true}"), "server.port: Input should be a valid int"),
    ("bool-repeats", _sweep("{parallel: [1], number: [1], repeats: false}"), "sweep.repeats"),
    ("bool-seed", _with("load", "{seed: yes}"), "load.seed: Input should be a valid integer"),
    ("bool-cooldown", _sweep("{parallel: [1], number: [1], cooldown_s: true}"), "valid number"),
    (
        "bool-warmup",
        _with("load", "{warmup_requests: true}"),
        "load.warmup_requests: expected 'parallel' or a count",
    ),
    ("str-parallel", _sweep("{parallel: ['1'], number: [1]}"), "sweep.parallel.0"),
    ("float-max-tokens", _with("load", "{max_tokens: 64.0}"), "load.max_tokens: Input should"),
    ("str-port", _server("{kind: sim, port: '8000'}"), "server.port"),
    ("bool-env-value", _server("{kind: sim, env: {A: true}}"), "server.env.A"),
    # -- ranges
    ("negative-seed", _with("load", "{seed: -1}"), "load.seed: Input should be greater than or eq"),
    ("negative-sim-seed", _server("{kind: sim, seed: -5}"), "server.seed"),
    ("huge-seed", _with("load", "{seed: 1099511627776}"), "load.seed: Input should be less"),
    ("huge-max-tokens", _with("load", "{max_tokens: 1000000000000}"), "load.max_tokens"),
    ("bignum-max-tokens", _with("load", "{max_tokens: 1" + "0" * 40 + "}"), "load.max_tokens"),
    ("huge-min-tokens", _with("load", "{min_tokens: 2000000, max_tokens: 512}"), "min_tokens"),
    ("huge-image", _with("load", "{image_width: 100000}"), "load.image_width: Input should be le"),
    ("huge-image-num", _with("load", "{image_num: 1000000}"), "load.image_num"),
    ("huge-prompt", _with("load", "{max_prompt_length: 99999999}"), "load.max_prompt_length"),
    ("huge-parallel", _sweep("{parallel: [1000000], number: [1000000]}"), "sweep.parallel.0"),
    ("huge-number", _sweep("{parallel: [1], number: [1000000000]}"), "sweep.number.0"),
    ("huge-repeats", _sweep("{parallel: [1], number: [1], repeats: 1000000}"), "sweep.repeats"),
    ("huge-factor", _sweep("{parallel: [1], requests_per_level: 99999999x}"), "requests_per_level"),
    ("too-many-levels", _sweep(f"{{parallel: {[1] * 1001}, requests_per_level: 2x}}"), "parallel"),
    ("name-300", GOOD.replace("name: t", "name: " + "a" * 300), "name: String should have at most"),
    ("name-101", GOOD.replace("name: t", "name: " + "a" * 101), "at most 100 characters"),
    ("name-slash", GOOD.replace("name: t", "name: a/b"), "name: String should match pattern"),
    ("temperature", _with("check", "{temperature: 5}"), "check.temperature"),
    ("negative-port", _server("{kind: sim, port: -1}"), "server.port"),
    # -- shapes: lists, mappings and nulls in the wrong places
    ("server-list", _server("[sim]"), "server: Input should be a valid dictionary"),
    ("load-list", _with("load", "[1, 2]"), "load: Input should be a valid dictionary"),
    ("parallel-mapping", _sweep("{parallel: {a: 1}, number: [1]}"), "sweep.parallel: Input should"),
    ("env-list", _server("{kind: sim, env: [A, B]}"), "server.env: Input should be a valid dict"),
    ("sweep-null", _sweep("null"), "sweep: Input should be a valid dictionary"),
    (
        "model-null",
        GOOD.replace("model: {served_name: m, tokenizer_path: generated}", "model:"),
        "model: Input should be",
    ),
    ("name-null", GOOD.replace("name: t", "name: null"), "name: Input should be a valid string"),
    ("served-name-null", GOOD.replace("served_name: m", "served_name: ~"), "model.served_name"),
    ("extra-body-list", _with("load", "{extra_body: [1]}"), "load.extra_body: Input should be"),
    ("engine-args-str", _with("offline", "{engine_args: x}"), "offline.engine_args"),
    ("extends-list", "extends: [a, b]\n" + GOOD, "extends: must be a file name, got list"),
    # -- values the simulator, evalscope or the check would refuse only later
    ("unknown-profile", _server("{kind: sim, profile: nosuch}"), "server.profile: unknown profile"),
    ("missing-profile-file", _server("{kind: sim, profile: nope.yaml}"), "nope.yaml does not"),
    ("missing-check-image", _with("check", "{image: /nonexistent/x.png}"), "check.image: /nonex"),
    ("endpoint", _with("load", "{endpoint: /v1/embeddings}"), "load.endpoint: Input should be"),
    ("dataset", _with("load", "{dataset: flickr8k}"), "load.dataset: Input should be"),
    ("image-format", _with("load", "{image_format: CMYK}"), "load.image_format"),
    ("prompt-range", _with("load", "{min_prompt_length: 200}"), "must not exceed max_prompt_len"),
]


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "s.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


def one_line(capsys: pytest.CaptureFixture[str], prefix: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


@pytest.mark.parametrize(("case", "content", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_hostile_file_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    content: str | bytes,
    fragment: str,
) -> None:
    path = _write(tmp_path, content)
    assert main(["validate", str(path)]) == 2
    line = one_line(capsys, "invalid: ")
    assert str(path) in line and fragment in line, line
    assert main(["run", str(path), "--dry-run"]) == 2
    assert fragment in one_line(capsys, "vlm-bench: error: ")


def test_duplicate_key_in_the_extended_file_names_that_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "base.yaml").write_text(GOOD + "description: a\ndescription: b\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: c\n")
    assert main(["validate", str(child)]) == 2
    line = one_line(capsys, "invalid: ")
    assert f"{tmp_path / 'base.yaml'}:6: duplicate key 'description' (first on line 5)" in line


def test_merge_keys_may_override_without_being_duplicates(tmp_path: Path) -> None:
    """`<<: *base` then `seed: 2` overrides the merged key; that is YAML, not a duplicate."""
    path = _write(
        tmp_path, GOOD + "load:\n  <<: {seed: 1, max_tokens: 8, min_tokens: 8}\n  seed: 2\n"
    )
    assert main(["validate", str(path)]) == 0


SETS: list[tuple[str, str]] = [
    # (--set item, fragment)
    ("load.seed=[1", "--set load.seed: YAML syntax error"),
    ("x=!!python/object:os.system {}", "--set x: YAML syntax error: could not determine"),
    ("load.seed=-1", "load.seed: Input should be greater than or equal to 0"),
    ("load.max_tokens=.inf", "load.max_tokens: inf is not a finite number"),
    ("sweep.cooldown_s=.nan", "--set sweep.cooldown_s: nan is not a finite number"),
    ("load.extra_body.x=2024-01-01", "--set load.extra_body.x: a date is not allowed"),
    ("load.extra_body={a: 1, a: 2}", "--set load.extra_body: duplicate key 'a'"),
    ('server.env.A="a\\0b"', "--set server.env.A: contains a NUL"),
    ("sweep.parallel=[true]", "sweep.parallel.0: Input should be a valid integer"),
    ("name.x=1", "--set name.x: name is not a mapping"),
    ("load..seed=1", "--set load..seed: empty field name"),
    ("load.=1", "empty field name"),
    ("=1", "--set expects KEY=VALUE"),
    ("novalue", "--set expects KEY=VALUE, got 'novalue'"),
    ("load.nosuch=1", "load.nosuch: unknown field"),
    ("server.profile=nosuch", "server.profile: unknown profile 'nosuch'"),
    ("load.extra_body=" + "[" * 100 + "]" * 100, "--set load.extra_body: nested deeper than 64"),
    ("name=" + "n" * 300, "name: String should have at most 100 characters"),
]


@pytest.mark.parametrize(("item", "fragment"), SETS, ids=[s[0][:30] for s in SETS])
def test_hostile_set_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], item: str, fragment: str
) -> None:
    path = _write(tmp_path, GOOD)
    assert main(["run", str(path), "--dry-run", "--set", item]) == 2
    assert fragment in one_line(capsys, "vlm-bench: error: ")


FLAGS: list[tuple[list[str], str]] = [
    # (argv after the scenario or subcommand, the flag the error names)
    (["run", "{s}", "--dry-run", "--parallel", "0"], "--parallel"),
    (["run", "{s}", "--dry-run", "--parallel", "1000000000"], "--parallel"),
    (["run", "{s}", "--dry-run", "--number", "nan", "4"], "--number"),
    (["run", "{s}", "--dry-run", "--repeats", "-1"], "--repeats"),
    (["run", "{s}", "--dry-run", "--repeats", "1" + "0" * 5000], "--repeats"),
    (["sim", "--time-scale", "nan"], "--time-scale"),
    (["sim", "--time-scale", "inf"], "--time-scale"),
    (["sim", "--stall-s", "-1"], "--stall-s"),
    (["sim", "--ready-delay", "1e999"], "--ready-delay"),
    (["release-table", "x", "--knee", "nan"], "--knee"),
]


@pytest.mark.parametrize(("argv", "flag"), FLAGS, ids=[" ".join(f[0])[:40] for f in FLAGS])
def test_hostile_flag_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], flag: str
) -> None:
    path = _write(tmp_path, GOOD)
    with pytest.raises(SystemExit) as exc:  # argparse exits on its own
        main([a.replace("{s}", str(path)) for a in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("vlm-bench") and "error:" in last and flag in last, err


def test_hostile_sim_set_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vlm-bench sim --set time_scale=.inf` was accepted into the timing model."""
    from bench.sim import server

    monkeypatch.setattr(server, "run", lambda *a, **k: pytest.fail("the simulator started"))
    assert main(["sim", "--set", "time_scale=.inf"]) == 2
    assert "--set time_scale: inf is not a finite number" in one_line(capsys, "vlm-bench: error:")


@pytest.mark.parametrize("how", ["under-a-file", "flag-under-a-file", "read-only"])
def test_unwritable_output_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "reports"
    if how == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        out = tmp_path / "ro"
        out.mkdir(mode=0o555)
    scenario = GOOD + (f"output_dir: {out}\n" if how != "flag-under-a-file" else "")
    path = _write(tmp_path, scenario)
    argv = ["run", str(path), "--dry-run"]
    if how == "flag-under-a-file":
        argv += ["--output-dir", str(out)]
    assert main(argv) == 2
    line = one_line(capsys, "vlm-bench: error: output_dir ")
    assert str(out) in line and ("not a folder" in line or "not writable" in line)


def _tokenizer(tmp_path: Path) -> Path:
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text("{}")
    return folder


def test_run_refuses_an_unwritable_output_before_the_server_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run (not --dry-run) with output_dir under a file: exit 2, no server started."""
    from bench.serve import server

    def no_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server must not start")

    monkeypatch.setattr(server, "start", no_start)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    text = GOOD.replace("generated", str(_tokenizer(tmp_path))) + f"output_dir: {blocker}/r\n"
    assert main(["run", str(_write(tmp_path, text))]) == 2
    assert f"{blocker} is not a folder" in one_line(capsys, "vlm-bench: error: output_dir")


def test_missing_tokenizer_is_one_line_before_the_server_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.serve import server

    monkeypatch.setattr(server, "start", lambda *a, **k: pytest.fail("server started"))
    text = GOOD.replace("generated", str(tmp_path / "no-such-tokenizer"))
    assert main(["run", str(_write(tmp_path, text))]) == 2
    line = one_line(capsys, "vlm-bench: error: model.tokenizer_path:")
    assert "has no tokenizer_config.json" in line
