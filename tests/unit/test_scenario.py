"""Scenario files: the shipped ones validate, the reference's commands are printed unchanged, and
every malformed file is a one-line error naming file and field, exit code 2."""

from __future__ import annotations

import shlex
from dataclasses import astuple
from pathlib import Path

import pytest

from bench.cli import main
from bench.config.scenario import load_scenario
from bench.errors import UserError

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
QUICK = SCENARIOS / "quickstart.yaml"

GOOD = """\
name: t
model: {served_name: m, tokenizer_path: generated}
server: {kind: sim}
sweep: {parallel: [1, 2], number: [2, 4]}
"""


def test_shipped_scenarios_validate(capsys: pytest.CaptureFixture[str]) -> None:
    """Valid but for their tokenizer folder, which only the machine they are for has
    (validate names a missing one: exit 2)."""
    files = sorted(str(p) for p in SCENARIOS.glob("*.yaml"))
    assert len(files) >= 5
    code = main(["validate", *files])
    out, err = capsys.readouterr()
    missing = [line for line in err.splitlines() if "has no tokenizer_config.json" in line]
    assert out.count("ok:") + len(missing) == len(files) and "ok: " + str(QUICK) in out
    assert code == (2 if missing else 0)


def test_validate_names_a_missing_tokenizer_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: validate said ok for a tokenizer_path that does not exist; the run then failed."""
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace("generated", str(tmp_path / "nope")))
    assert main(["validate", str(path)]) == 2
    [err] = capsys.readouterr().err.strip().splitlines()
    assert err.startswith(f"invalid: {path}: model.tokenizer_path: {tmp_path / 'nope'} ")


def test_requests_per_level_and_extends(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(GOOD)
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: base.yaml\nname: c\nsweep: {requests_per_level: 4x, number: null, "
        "parallel: [1, 8]}\nload: {max_tokens: 64, min_tokens: 64}\n"
    )
    s = load_scenario(child)
    assert s.name == "c" and s.sweep.levels() == [(1, 4), (8, 32)]
    assert s.load.fixed_output_tokens == 64 and s.model.served_name == "m"


def test_reference_dry_run_prints_the_reference_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", str(SCENARIOS / "vlm-r1-ovd-800ta2.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    server = next(line for line in out if line.startswith("docker run"))
    sweep = next(line for line in out if line.startswith("evalscope perf"))
    reference_serve = (
        "vllm serve VLM-R1-Qwen2.5VL-3B-OVD-0321 --max-model-len 16384 --enforce-eager "
        "--port 8000 --host 0.0.0.0 --trust-remote-code"
    )
    assert server.endswith(reference_serve)
    assert "quay.io/ascend/vllm-ascend:v0.10.0rc1" in server
    for dev in ("/dev/davinci0", "/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"):
        assert f"--device {dev}" in server
    assert "-e PYTORCH_NPU_ALLOC_CONF=max_split_size_mb:256" in server
    reference_perf = shlex.split(
        "--parallel 1 2 4 8 16 32 --number 4 8 16 32 64 128 --api openai "
        "--dataset random_vl --max-tokens 512 --min-tokens 512 --prefix-length 0 "
        "--min-prompt-length 100 --max-prompt-length 100 --image-width 640 --image-height 640 "
        "--image-format RGB --image-num 1 --tokenizer-path /models/VLM-R1-Qwen2.5VL-3B-OVD-0321 "
        "--extra-args '{\"ignore_eos\": true}'"
    )
    assert options(shlex.split(sweep)[2:]) | options(reference_perf) == options(
        shlex.split(sweep)[2:]
    )
    levels = [line for line in out if " -m bench.load.evalscope perf " in line]
    assert len(levels) == 6 and "--parallel 32 --number 128" in levels[-1]


def options(argv: list[str]) -> dict[str, tuple[str, ...]]:
    """Flags and their values, order of flags aside."""
    out: dict[str, tuple[str, ...]] = {}
    key = ""
    for item in argv:
        if item.startswith("--"):
            key = item
            out[key] = ()
        else:
            out[key] = (*out[key], item)
    return out


BAD: list[tuple[str, str, str]] = [
    # (case, file content, fragment the one-line message must contain)
    (
        "unknown key",
        GOOD.replace("number:", "paralell: [1], number:"),
        "sweep.paralell: unknown field; allowed: cooldown_s, interleave, number, parallel, ",
    ),
    ("wrong type", GOOD.replace("[1, 2]", "lots"), "sweep.parallel: Input should be a valid list"),
    (
        "unequal lengths",
        GOOD.replace("[2, 4]", "[2, 4, 8]"),
        "sweep: number has 3 entries but parallel has 2",
    ),
    (
        "non-positive concurrency",
        GOOD.replace("[1, 2]", "[0, 2]"),
        "sweep.parallel.0: Input should be greater than 0",
    ),
    (
        "image size 0",
        GOOD + "load: {image_width: 0}\n",
        "load.image_width: Input should be greater than 0",
    ),
    (
        "min > max tokens",
        GOOD + "load: {min_tokens: 600, max_tokens: 512}\n",
        "load: min_tokens (600) must not exceed max_tokens (512)",
    ),
    (
        "missing tokenizer path",
        GOOD.replace(", tokenizer_path: generated", ""),
        "model.tokenizer_path is required by dataset random_vl",
    ),
    ("YAML syntax error", GOOD + "load: {image_width: [1\n", "YAML syntax error"),
    ("not a mapping", "- 1\n- 2\n", "a scenario must be a mapping"),
    (
        "unknown server kind",
        GOOD.replace("kind: sim", "kind: k8s"),
        "server: kind must be one of sim, command, docker, external",
    ),
    ("missing server kind", GOOD.replace("{kind: sim}", "{port: 1}"), "server: kind is required"),
    (
        "field of another kind",
        GOOD.replace("{kind: sim}", "{kind: sim, argv: [x]}"),
        "server.argv: unknown field; allowed:",
    ),
    (
        "argv and vllm",
        GOOD.replace("{kind: sim}", "{kind: command, argv: [x], vllm: {model: m}}"),
        "server: give exactly one of argv and vllm",
    ),
    (
        "missing sweep",
        GOOD.replace("sweep: {parallel: [1, 2], number: [2, 4]}", ""),
        "sweep: field required",
    ),
    ("bad name", GOOD.replace("name: t", "name: ../escape"), "name: String should match pattern"),
    (
        "bad requests_per_level",
        GOOD.replace("number: [2, 4]", "requests_per_level: four"),
        "sweep.requests_per_level: String should match pattern",
    ),
    (
        "bad image format",
        GOOD + "load: {image_format: L}\n",
        "load.image_format: Input should be 'RGB' or 'RGBA'",
    ),
    (
        "external without scheme",
        GOOD.replace("{kind: sim}", "{kind: external, url: host:8000}"),
        "server.url: String should match pattern",
    ),
    ("missing extends target", "extends: nowhere.yaml\n" + GOOD, "nowhere.yaml: no such file"),
    (
        "restart an external server",
        GOOD.replace(
            "{kind: sim}", "{kind: external, url: 'http://10.0.0.5:8000', on_death: restart}"
        ),
        "server.on_death: Input should be 'stop'",
    ),
    (
        "negative cooldown",
        GOOD.replace("number: [2, 4]", "number: [2, 4], cooldown_s: -1"),
        "sweep.cooldown_s: Input should be greater than or equal to 0",
    ),
    (
        "port out of range",
        GOOD.replace("{kind: sim}", "{kind: sim, port: 70000}"),
        "server.port: Input should be less than or equal to 65535",
    ),
]


@pytest.mark.parametrize(("case", "content", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_scenarios_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, content: str, fragment: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert fragment in err, err
    assert str(tmp_path) in err
    assert main(["run", str(path), "--dry-run"]) == 2


def test_circular_extends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n" + GOOD)
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    assert main(["validate", str(tmp_path / "a.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "extends: circular (a.yaml -> b.yaml -> a.yaml)" in err and "\n" not in err


@pytest.mark.parametrize("target", ["missing.yaml", "."])
def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> None:
    assert main(["validate", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err.strip()
    assert ("no such file" in err or "cannot read" in err) and "\n" not in err


def test_bad_override_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(GOOD)
    assert main(["run", str(path), "--dry-run", "--set", "load.max_tokens=lots"]) == 2
    assert "load.max_tokens: Input should be a valid integer" in capsys.readouterr().err
    assert main(["run", str(path), "--dry-run", "--parallel", "1", "2", "4"]) == 2
    assert "sweep: number has 2 entries but parallel has 3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("check: required", "required"),
        ("check: off", "off"),  # YAML 1.1 reads a bare off as false
        ("check: {mode: off, event: cup}", "off"),
        ("check: {event: cup, max_tokens: 64}", "warn"),
    ],
)
def test_check_shorthands(tmp_path: Path, text: str, mode: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"extends: {SCENARIOS / 'quickstart.yaml'}\n{text}\n")
    assert load_scenario(path).check.mode == mode


def test_check_mode_typo_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"extends: {SCENARIOS / 'quickstart.yaml'}\ncheck: requierd\n")
    with pytest.raises(UserError, match=r"s.yaml: check.mode: Input should be 'warn', 'req"):
        load_scenario(path)


def test_repeats_order_sequential_or_interleaved() -> None:
    base = {"sweep.parallel": [1, 4], "sweep.requests_per_level": "2x", "sweep.repeats": 2}
    seq = load_scenario(SCENARIOS / "quickstart.yaml", base).sweep.runs()
    assert [astuple(at) for at in seq] == [(1, 1, 1, 2), (1, 2, 1, 2), (2, 1, 4, 8), (2, 2, 4, 8)]
    inter = load_scenario(
        SCENARIOS / "quickstart.yaml", {**base, "sweep.interleave": True}
    ).sweep.runs()
    assert [astuple(at) for at in inter] == [(1, 1, 1, 2), (2, 1, 4, 8), (1, 2, 1, 2), (2, 2, 4, 8)]
