"""Server commands are rendered, not run: the reference's `docker run` + `vllm serve`, argv only."""

from __future__ import annotations

import shlex
from pathlib import Path

from bench.config.scenario import load_scenario
from bench.serve.server import server_argv

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

# The container line of the vllm-ascend guide the reference follows, and the reference's server.
REFERENCE_DOCKER = shlex.split(
    "docker run --rm --name vllm-ascend --device /dev/davinci0 --device /dev/davinci_manager "
    "--device /dev/devmm_svm --device /dev/hisi_hdc -v /usr/local/dcmi:/usr/local/dcmi "
    "-v /usr/local/bin/npu-smi:/usr/local/bin/npu-smi "
    "-v /usr/local/Ascend/driver/lib64/:/usr/local/Ascend/driver/lib64/ "
    "-v /usr/local/Ascend/driver/version.info:/usr/local/Ascend/driver/version.info "
    "-v /etc/ascend_install.info:/etc/ascend_install.info -v /root/.cache:/root/.cache "
    "-p 8000:8000 quay.io/ascend/vllm-ascend:v0.10.0rc1"
)
REFERENCE_SERVE = shlex.split(
    "vllm serve VLM-R1-Qwen2.5VL-3B-OVD-0321 --max-model-len 16384 --enforce-eager "
    "--port 8000 --host 0.0.0.0 --trust-remote-code"
)


def values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_reference_docker_command(tmp_path: Path) -> None:
    argv = server_argv(load_scenario(SCENARIOS / "vlm-r1-ovd-800ta2.yaml"), "tok", tmp_path)
    image = "quay.io/ascend/vllm-ascend:v0.10.0rc1"
    head, tail = argv[: argv.index(image)], argv[argv.index(image) + 1 :]
    assert head[:3] == ["docker", "run", "--rm"]
    assert tail == REFERENCE_SERVE
    assert values(head, "--device") == values(REFERENCE_DOCKER, "--device")
    assert set(values(REFERENCE_DOCKER, "-v")) <= set(values(head, "-v"))
    assert "/models:/models" in values(head, "-v")  # the weights, for `vllm serve`
    assert values(head, "-e") == ["PYTORCH_NPU_ALLOC_CONF=max_split_size_mb:256"]
    # The reference publishes 8000:8000; vlm-bench publishes it on loopback only.
    assert values(head, "-p") == ["127.0.0.1:8000:8000"]
    assert values(head, "--workdir") == ["/models"]


def test_docker_secrets_go_by_name_only(tmp_path: Path) -> None:
    """`-e HF_TOKEN=value` showed the token in the host's process list while the container
    ran: a secret (or a `${env:…}` reference) goes as `-e NAME`, docker reads the value."""
    overrides = {"server.env": {"HF_TOKEN": "hf_canary", "REF": "${env:X}", "MODE": "fast"}}
    scenario = load_scenario(SCENARIOS / "vlm-r1-ovd-800ta2.yaml", overrides)
    argv = server_argv(scenario, "tok", tmp_path)
    assert values(argv, "-e") == ["HF_TOKEN", "REF", "MODE=fast"]
    assert not any("hf_canary" in a for a in argv)


def test_300iduo_changes_only_image_and_dtype(tmp_path: Path) -> None:
    reference = server_argv(load_scenario(SCENARIOS / "vlm-r1-ovd-800ta2.yaml"), "tok", tmp_path)
    duo = server_argv(load_scenario(SCENARIOS / "vlm-r1-ovd-300iduo.yaml"), "tok", tmp_path)
    assert duo[-2:] == ["--dtype", "float16"]
    assert "quay.io/ascend/vllm-ascend:v0.10.0rc1-310p" in duo
    changed = {a for a in duo if a not in reference}
    assert changed == {
        "quay.io/ascend/vllm-ascend:v0.10.0rc1-310p",
        "vlm-bench-vllm-ascend-310p",
        "--dtype",
        "float16",
    }


def test_command_servers_are_argv_lists(tmp_path: Path) -> None:
    xllm = server_argv(load_scenario(SCENARIOS / "vlm-r1-ovd-xllm-800ta2.yaml"), "t", tmp_path)
    assert xllm[0].endswith("/xllm") and "--backend=vlm" in xllm
    cuda = server_argv(load_scenario(SCENARIOS / "vlm-r1-ovd-cuda.yaml"), "t", tmp_path)
    assert cuda[:3] == ["vllm", "serve", "/models/VLM-R1-Qwen2.5VL-3B-OVD-0321"]
    assert cuda[cuda.index("--host") + 1] == "127.0.0.1"
