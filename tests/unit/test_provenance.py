"""Provenance: parsers on recorded tool output, collectors with fakes, redaction, comparability."""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

import pytest

from bench.analyze.fingerprint import differences, fingerprint
from bench.measure import provenance
from bench.measure.provenance import (
    accelerators,
    ascend_versions,
    parse_key_values,
    parse_npu_smi,
    parse_nvidia_smi,
    redact_argv,
    redact_env,
    server_side,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "provenance"
DRIVER = "/usr/local/Ascend/driver/version.info"
INSTALL = "/etc/ascend_install.info"
TOOLKIT_ARM = "/usr/local/Ascend/ascend-toolkit/latest/aarch64-linux/ascend_toolkit_install.info"
TOOLKIT_X86 = "/usr/local/Ascend/ascend-toolkit/latest/x86_64-linux/ascend_toolkit_install.info"
TOOLKIT_CFG = "/usr/local/Ascend/ascend-toolkit/latest/version.cfg"


def sample(name: str) -> str:
    return (DATA / name).read_text()


def nothing(_: object) -> None:
    return None


def files(mapping: dict[str, str]):
    """A `read` that serves recorded files at the paths real installs use."""
    return lambda path: sample(mapping[path]) if path in mapping else None


# --- npu-smi ------------------------------------------------------------------------------


def test_npu_smi_910b3_eight_cards():
    out = parse_npu_smi(sample("npu-smi-910b3-8.txt"))
    assert out["tool"] == "npu-smi" and out["version"] == "25.3.rc1"
    assert out["count"] == 8 and out["npus"] == 8
    assert [d["npu"] for d in out["devices"]] == list(range(8))
    assert {d["name"] for d in out["devices"]} == {"910B3"}
    assert {d["health"] for d in out["devices"]} == {"OK"}
    assert {d["hbm_total_mb"] for d in out["devices"]} == {65536}
    assert out["devices"][0] == {
        "npu": 0,
        "chip": 0,
        "name": "910B3",
        "health": "OK",
        "hbm_total_mb": 65536,
        "memory_total_mb": 0,
        "bus_id": "0000:C1:00.0",
    }
    assert out["devices"][7]["bus_id"] == "0000:42:00.0"


def test_npu_smi_old_driver_with_no_processes():
    out = parse_npu_smi(sample("npu-smi-910b2-8-23.0.3.txt"))
    assert out["version"] == "23.0.3" and out["count"] == 8
    assert {d["name"] for d in out["devices"]} == {"910B2"}
    assert out["devices"][1]["bus_id"] == "0000:01:00.0"


def test_npu_smi_300i_duo_two_chips_per_npu_and_no_hbm():
    out = parse_npu_smi(sample("npu-smi-310p3-duo.txt"))
    assert out["version"] == "25.3.rc1"
    assert out["count"] == 8 and out["npus"] == 4
    assert [(d["npu"], d["chip"]) for d in out["devices"]] == [
        (0, 0), (0, 1), (96, 0), (96, 1), (32768, 0), (32768, 1), (32896, 0), (32896, 1),
    ]  # fmt: skip
    assert {d["hbm_total_mb"] for d in out["devices"]} == {None}
    assert [d["memory_total_mb"] for d in out["devices"][:2]] == [44278, 43693]
    assert {d["name"] for d in out["devices"]} == {"310P3"}
    assert out["devices"][7]["bus_id"] == "0000:84:00.0"


@pytest.mark.parametrize(
    "text",
    ["", "dcmi module initialize failed. ret is -8005", sample("nvidia-smi-h100-550.txt")],
)
def test_npu_smi_rejects_other_text(text):
    with pytest.raises(ValueError, match="not npu-smi"):
        parse_npu_smi(text)


# --- nvidia-smi ---------------------------------------------------------------------------


def test_nvidia_smi_h100_current_layout():
    out = parse_nvidia_smi(sample("nvidia-smi-h100-550.txt"))
    assert (out["tool"], out["driver"], out["cuda"], out["count"]) == (
        "nvidia-smi",
        "550.90.07",
        "12.4",
        8,
    )
    assert {d["name"] for d in out["devices"]} == {"NVIDIA H100 80GB HBM3"}
    assert {d["memory_total_mb"] for d in out["devices"]} == {81559}
    assert [d["index"] for d in out["devices"]] == list(range(8))


def test_nvidia_smi_a100_old_layout_truncated_name():
    out = parse_nvidia_smi(sample("nvidia-smi-a100-525.txt"))
    assert (out["driver"], out["cuda"], out["count"]) == ("525.105.17", "12.0", 1)
    assert out["devices"] == [
        {
            "index": 0,
            "name": "NVIDIA A100-SXM...",
            "memory_total_mb": 81920,
            "bus_id": "00000000:AF:00.0",
        }
    ]


def test_nvidia_smi_old_layout_ignores_process_rows():
    out = parse_nvidia_smi(sample("nvidia-smi-geforce-470.txt"))
    assert (out["driver"], out["cuda"], out["count"]) == ("470.63.01", "11.4", 1)
    assert out["devices"][0]["name"] == "NVIDIA GeForce ..."
    assert out["devices"][0]["memory_total_mb"] == 16116


def test_nvidia_smi_r610_kmd_version_header():
    out = parse_nvidia_smi(sample("nvidia-smi-b200-610.txt"))
    assert (out["driver"], out["cuda"], out["count"]) == ("610.43.02", "13.3", 2)
    assert out["devices"][1]["memory_total_mb"] == 183359


@pytest.mark.parametrize(
    "text",
    [
        "",
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
        sample("npu-smi-910b3-8.txt"),
    ],
)
def test_nvidia_smi_rejects_other_text(text):
    with pytest.raises(ValueError, match="not nvidia-smi"):
        parse_nvidia_smi(text)


# --- Ascend version files -----------------------------------------------------------------


def test_key_values_on_the_three_files():
    driver = parse_key_values(sample("ascend-driver-version.info"))
    assert driver["Version"] == "24.1.rc2.2" and driver["ascendhal_version"] == "7.35.23"
    assert driver["compatible_version_fw"] == "[7.0.0,7.2.99]"
    install = parse_key_values(sample("ascend_install.info"))
    assert install["Driver_Install_Path_Param"] == "/usr/local/Ascend"
    assert install["Driver_Install_Type"] == "full"
    toolkit = parse_key_values(sample("ascend_toolkit_install.info"))
    assert (toolkit["version"], toolkit["arch"]) == ("8.2.RC1", "aarch64")
    assert parse_key_values("# comment\n\n  a = b \nno equals sign\n") == {"a": "b"}


def test_ascend_versions_aarch64_install():
    out = ascend_versions(
        files(
            {
                DRIVER: "ascend-driver-version.info",
                INSTALL: "ascend_install.info",
                TOOLKIT_ARM: "ascend_toolkit_install.info",
            }
        )
    )
    assert (out["driver"], out["cann"]) == ("24.1.rc2.2", "8.2.RC1")
    assert (
        out["files"][TOOLKIT_ARM]["path"]
        == "/usr/local/Ascend/ascend-toolkit/8.2.RC1/aarch64-linux"
    )
    assert TOOLKIT_X86 not in out["files"]  # stops at the first toolkit file found


def test_ascend_versions_x86_and_cann85_layouts():
    x86 = ascend_versions(files({TOOLKIT_X86: "ascend_toolkit_install-x86_64.info"}))
    assert (x86["driver"], x86["cann"]) == (None, "8.1.RC1")
    cann85 = "/usr/local/Ascend/cann/aarch64-linux/ascend_toolkit_install.info"
    assert ascend_versions(files({cann85: "ascend_toolkit_install.info"}))["cann"] == "8.2.RC1"


def test_ascend_versions_falls_back_to_version_cfg():
    out = ascend_versions(files({TOOLKIT_CFG: "ascend-toolkit-version.cfg"}))
    assert out["cann"] == "8.1.RC1"


def test_ascend_versions_follow_the_driver_install_root():
    moved = "Driver_Install_Path_Param=/opt/Ascend\n"
    texts = {INSTALL: moved, "/opt/Ascend/driver/version.info": "Version=23.0.3\n"}
    out = ascend_versions(texts.get)
    assert out["driver"] == "23.0.3"


def test_machine_with_none_of_the_tools():
    """Acceptance: no npu-smi, no nvidia-smi, no Ascend files → recorded absence, no error."""
    assert accelerators(nothing) == {"npu": "absent", "gpu": "absent"}
    out = ascend_versions(nothing)
    assert (out["driver"], out["cann"]) == (None, None)
    assert DRIVER in out["files"] and set(out["files"].values()) == {None}
    assert (
        fingerprint({"accelerators": accelerators(nothing), "ascend": out})["accelerator"] == "none"
    )


def test_accelerators_parse_or_record_error():
    outputs = {
        "npu-smi": sample("npu-smi-310p3-duo.txt"),
        "nvidia-smi": "Failed to initialize NVML: Driver/library version mismatch\nmore",
    }
    seen: list[list[str]] = []

    def run(argv):
        seen.append(argv)
        return outputs[argv[0]]

    out = accelerators(run)
    assert seen == [["npu-smi", "info"], ["nvidia-smi"]]
    assert out["npu"]["count"] == 8
    assert out["gpu"] == {"error": "not nvidia-smi output (no 'NVIDIA-SMI' header)"}


def test_default_runner_on_a_missing_tool_returns_none():
    assert provenance.run_command(["no-such-tool-vlm-bench"], timeout=5) is None


def test_collect_without_tools_is_recorded_not_raised(monkeypatch):
    monkeypatch.setattr(provenance, "accelerators", lambda: accelerators(nothing))
    monkeypatch.setattr(provenance, "read_local", nothing)
    prov = provenance.collect(["vllm", "serve", "--api-key", "s3"], {"HF_TOKEN": "t", "A": "1"})
    assert prov["accelerators"] == {"npu": "absent", "gpu": "absent"}
    assert prov["ascend"]["driver"] is None
    assert prov["server_argv"] == ["vllm", "serve", "--api-key", "<redacted>"]
    assert prov["server_env"] == {"HF_TOKEN": "<redacted>", "A": "1"}
    json.dumps(prov)  # stored in run.json as is


# --- redaction ----------------------------------------------------------------------------


def test_redact_argv_flag_forms():
    argv = [
        "vllm", "serve", "/models/qwen", "--api-key", "sk-1", "--hf-token=hf_2",
        "--Secret-Thing", "x", "--db-password", "p", "--port", "8000",
    ]  # fmt: skip
    assert redact_argv(argv) == [
        "vllm", "serve", "/models/qwen", "--api-key", "<redacted>", "--hf-token=<redacted>",
        "--Secret-Thing", "<redacted>", "--db-password", "<redacted>", "--port", "8000",
    ]  # fmt: skip


def test_redact_argv_docker_env_items():
    argv = ["docker", "run", "-e", "HF_TOKEN=xyz", "--env", "OPENAI_API_KEY=k", "-e", "A=1"]
    assert redact_argv(argv) == [
        "docker", "run", "-e", "HF_TOKEN=<redacted>", "--env", "OPENAI_API_KEY=<redacted>",
        "-e", "A=1",
    ]  # fmt: skip


def test_redact_argv_keeps_the_settings_under_test():
    """Substring matching would hide --max-num-batched-tokens and --tokenizer: keep them."""
    argv = ["--max-num-batched-tokens", "8192", "--tokenizer", "/t", "--ssl-keyfile", "/k"]
    assert redact_argv(argv) == argv
    # a secret flag used as a bare switch does not swallow the next flag
    assert redact_argv(["--hf-token", "--port", "1"]) == ["--hf-token", "--port", "1"]


def test_redact_env():
    env = {"HF_TOKEN": "a", "my_api_key": "b", "AWS_SECRET": "c", "PGPASSWORD": "d", "X": "e"}
    assert redact_env(env) == {
        "HF_TOKEN": "<redacted>",
        "my_api_key": "<redacted>",
        "AWS_SECRET": "<redacted>",
        "PGPASSWORD": "<redacted>",
        "X": "e",
    }


# --- server side --------------------------------------------------------------------------


def test_server_side_container():
    calls: list[list[str]] = []
    pkgs = {"vllm": "0.11.0", "vllm-ascend": "0.11.0rc1", "torch": "2.7.1", "torch-npu": None}
    container_files = {
        DRIVER: sample("ascend-driver-version.info"),
        TOOLKIT_ARM: sample("ascend_toolkit_install.info"),
    }

    def run(argv):
        calls.append(argv)
        if argv[:4] == ["docker", "exec", "vllm-1", "python3"]:
            return json.dumps(pkgs)
        if argv[:4] == ["docker", "exec", "vllm-1", "cat"]:
            return container_files.get(argv[4])
        return None

    urls: list[str] = []

    def get(url):
        urls.append(url)
        return '{"version": "0.11.0"}'

    out = server_side("http://127.0.0.1:8000/", None, "vllm-1", run=run, get=get)
    assert urls == ["http://127.0.0.1:8000/version"]
    assert out["version"] == {"version": "0.11.0"}
    assert out["packages"] == pkgs
    assert (out["ascend"]["driver"], out["ascend"]["cann"]) == ("24.1.rc2.2", "8.2.RC1")
    assert calls[0][:5] == ["docker", "exec", "vllm-1", "python3", "-c"]
    assert all(isinstance(a, list) for a in calls)  # argv lists, never shell strings


def test_server_side_local_pid_is_this_venv():
    """Our own process: cmdline[0] is the venv's python, whose evalscope is installed."""
    out = server_side(None, os.getpid(), None, get=nothing)
    assert out["python"] is not None and Path(out["python"]).name.startswith("python")
    assert out["packages"]["evalscope"] == metadata.version("evalscope")
    assert out["version"] is None and "ascend" not in out


def test_server_side_nothing_reachable():
    out = server_side("http://127.0.0.1:9", None, None, run=nothing, get=nothing)
    assert out == {"version": None, "packages": "absent"}
    garbled = server_side(None, None, "c", run=lambda argv: "Traceback\nboom", get=nothing)
    assert garbled["packages"] == {"error": "not JSON: boom"}


def test_server_side_non_python_pid():
    # pid 1 in this sandbox is not a python (or unreadable): asked nothing, recorded absent
    out = server_side(None, 1, None, run=lambda argv: pytest.fail("ran something"), get=nothing)
    assert out["packages"] == "absent"


# --- fingerprint / differences ------------------------------------------------------------


def _run_prov(npu_file: str, vllm: str, cann: str = "8.2.RC1") -> dict:
    return {
        "cpu": "Kunpeng-920",
        "packages": {"evalscope": "1.14.1"},
        "accelerators": {"npu": parse_npu_smi(sample(npu_file)), "gpu": "absent"},
        "ascend": {"driver": "24.1.rc2.2", "cann": None, "files": {}},
        "server": {
            "version": {"version": vllm},
            "packages": {
                "vllm": vllm,
                "vllm-ascend": "0.11.0rc1",
                "torch": "2.7.1",
                "torch-npu": "2.7.1",
                "transformers": "4.57.1",
            },
            "ascend": {"driver": "24.1.rc2.2", "cann": cann, "files": {}},
        },
    }


def test_fingerprint_full_record():
    assert fingerprint(_run_prov("npu-smi-910b3-8.txt", "0.11.0")) == {
        "accelerator": "910B3 x8",
        "GPU driver": "absent",
        "CUDA": "absent",
        "NPU driver": "24.1.rc2.2",
        "CANN": "8.2.RC1",
        "CPU": "Kunpeng-920",
        "vllm": "0.11.0",
        "vllm-ascend": "0.11.0rc1",
        "torch": "2.7.1",
        "torch-npu": "2.7.1",
        "transformers": "4.57.1",
        "evalscope": "1.14.1",
    }


def test_fingerprint_gpu_and_version_endpoint_fallback():
    prov = {
        "accelerators": {
            "npu": "absent",
            "gpu": parse_nvidia_smi(sample("nvidia-smi-h100-550.txt")),
        },
        "server": {"version": {"version": "0.10.1"}, "packages": "absent"},
    }
    fp = fingerprint(prov)
    assert fp["accelerator"] == "NVIDIA H100 80GB HBM3 x8"
    assert (fp["GPU driver"], fp["CUDA"], fp["NPU driver"]) == ("550.90.07", "12.4", "absent")
    assert fp["vllm"] == "0.10.1" and "torch" not in fp
    assert "CANN" not in fp and "evalscope" not in fp  # never recorded: unknown


def test_fingerprint_unknown_vs_absent():
    assert fingerprint({}) == {}
    assert fingerprint({"published": {"source": "x"}, "cpu": "c"}) == {}
    absent = fingerprint({"server": {"packages": {"vllm": "0.9.2", "torch-npu": None}}})
    assert absent["torch-npu"] == "absent" and absent["vllm"] == "0.9.2"


def test_differences_hardware_first_and_only_known_keys():
    a = _run_prov("npu-smi-910b3-8.txt", "0.10.0")
    b = _run_prov("npu-smi-310p3-duo.txt", "0.11.0", cann="8.3.RC1")
    assert differences(a, b) == [
        "accelerator: 910B3 x8 vs 310P3 x8",
        "CANN: 8.2.RC1 vs 8.3.RC1",
        "vllm: 0.10.0 vs 0.11.0",
    ]
    old = {"cpu": "Kunpeng-920"}  # an old run.json: nothing but the CPU was recorded
    assert differences(a, old) == [] and differences(a, a) == []
