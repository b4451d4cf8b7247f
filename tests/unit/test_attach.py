"""`vlm-bench run --url`: how such a run is named and labelled (bench/cli/attach.py), what
a server's answers say about its backend (bench/serve/identify.py), and the one-line
answers to a URL typed where it does not belong."""

from __future__ import annotations

import pytest

from bench.cli import attach, main
from bench.errors import UserError
from bench.serve.identify import metrics_backend, model_list, version_of

URL = "http://127.0.0.1:8000"
NOBODY = "http://127.0.0.1:9"  # port 9 (discard): nothing listens there on a test machine


def test_a_run_is_named_after_model_and_server() -> None:
    """Bug: every --url run was named `external`, so history mixed different servers."""
    assert attach.run_name("qwen2.5-vl-3b", URL, {}) == "qwen2.5-vl-3b@127.0.0.1-8000"
    assert attach.run_name("Qwen/Qwen2.5-VL 3B", URL, {}) == "Qwen-Qwen2.5-VL-3B@127.0.0.1-8000"
    assert attach.run_name("m", "http://h", {}) == "m@h-80"
    assert attach.run_name("m", "https://h", {}).endswith("@h-443")


def test_a_changed_workload_gets_another_name_labels_do_not() -> None:
    """Bug: runs with another scenario hash under one name were one series in history."""
    plain = attach.run_name("m", URL, {})
    one = attach.run_name("m", URL, {"sweep.parallel": [1]})
    two = attach.run_name("m", URL, {"sweep.parallel": [2]})
    assert len({plain, one, two}) == 3 and one.startswith(plain + "-")
    assert attach.run_name("m", URL, {"hardware": "x", "backend": "y"}) == plain
    assert len(attach.run_name("m" * 300, URL, {"load.max_tokens": 8})) == 100


def test_name_flag_and_set_name_win() -> None:
    flags = attach.Labels(name="mine", hardware="box", backend="engine 1")
    scenario = attach.scenario(None, NOBODY, "m", None, {"sweep.parallel": [1]}, flags)
    assert (scenario.name, scenario.hardware, scenario.backend) == ("mine", "box", "engine 1")
    scenario = attach.scenario(None, NOBODY, "m", None, {"name": "set-name"})
    assert scenario.name == "set-name"
    with pytest.raises(UserError, match="--name 'a/b': letters, digits"):
        attach.scenario(None, NOBODY, "m", None, {}, attach.Labels(name="a/b"))


@pytest.mark.parametrize(
    "url",
    [URL + "/v1/chat/completions", URL + "/v1/completions", URL + "/v1/models/", URL + "/v1"],
)
def test_an_api_route_in_url_is_the_base_url(url: str) -> None:
    assert attach.base_url(url) == URL


@pytest.mark.parametrize("url", ["http://h:abc", "http://h:99999", "http://h:8000/other"])
def test_a_bad_port_or_path_is_one_line(url: str) -> None:
    with pytest.raises(UserError, match="expected http://HOST:PORT"):
        attach.base_url(url)


@pytest.mark.parametrize("argv", [["run", URL + "/v1"], ["check", URL], ["offline", URL]])
def test_a_url_as_the_scenario_says_to_use_url(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `vlm-bench run http://…` said the file did not exist."""
    assert main(argv) == 2
    [err] = capsys.readouterr().err.strip().splitlines()
    assert "is a URL, not a scenario file" in err and f"vlm-bench run --url {URL}" in err


def test_labels_without_url_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "scenarios/quickstart.yaml", "--hardware", "x", "--dry-run"]) == 2
    assert "--name, --hardware and --backend go with --url" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "backend"),
    [
        ("# HELP vllm:num_requests_running x\nvllm:num_requests_running 1\n", "vllm"),
        ("sglang:num_running_reqs 0\nsglang:gen_throughput 1\n", "sglang"),
        ("vllm:a 1\nsglang:b 2\n", ""),  # two namespaces: it does not say
        ("process_cpu_seconds_total 3\n", ""),
    ],
)
def test_the_metrics_namespace_names_the_backend(text: str, backend: str) -> None:
    assert metrics_backend(text) == backend


@pytest.mark.parametrize(
    ("body", "version"),
    [(b'{"version": "0.10.1"}', "0.10.1"), (b'"1.2"', "1.2"), (b"<html>", ""), (b"[1]", "")],
)
def test_version_of(body: bytes, version: str) -> None:
    assert version_of(body) == version


def test_model_list() -> None:
    assert model_list(b'{"data": [{"id": "a", "owned_by": "vllm"}]}') == [
        {"id": "a", "owned_by": "vllm"}
    ]
    assert model_list(b'{"data": [{"name": "a"}]}') is None
    assert model_list(b"nope") is None
