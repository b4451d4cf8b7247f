"""Accelerators and their software: parse `npu-smi info`, `nvidia-smi`, Ascend version files.

The parsers take text and return plain dicts (tested against recorded output kept under
`tests/data/provenance/`). The collectors take the command runner / file reader as a
parameter, so a machine without the tools records "absent" and never raises.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.measure.accel import NVSMI_NAME_FIELDS, parse_nvsmi_names

Run = Callable[[list[str]], str | None]
Read = Callable[[str], str | None]

ASCEND_DRIVER_INFO = "/usr/local/Ascend/driver/version.info"
ASCEND_INSTALL_INFO = "/etc/ascend_install.info"
# Where the CANN toolkit records its version, most common first. `ascend-toolkit/latest` is
# the layout up to CANN 8.3 (vllm-ascend's collect_env.py reads it); CANN 8.5+ installs under
# `cann/` (and keeps `ascend-toolkit/latest` as a link in the community images). version.cfg
# is the toolkit's older summary ("toolkit_running_version=[inner:release]").
TOOLKIT_INFOS = tuple(
    f"/usr/local/Ascend/{root}/{arch}-linux/ascend_toolkit_install.info"
    for root in ("ascend-toolkit/latest", "cann")
    for arch in ("aarch64", "x86_64")
)
TOOLKIT_CFG = "/usr/local/Ascend/ascend-toolkit/latest/version.cfg"

_BUS_ID = r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]"
_NPU_HEADER = re.compile(r"npu-smi\s+(\S+)\s+Version:\s*(\S+)")
_NPU_ROW1 = re.compile(r"^\s*(\d+)\s+(\S+)\s*$")  # "0     910B3"
_NPU_ROW2 = re.compile(r"^\s*(\d+)(?:\s+\d+)?\s*$")  # "0", or "1       1" (chip, device)
_USAGE = re.compile(r"(\d+)\s*/\s*(\d+)")
# A version number, so "NVIDIA-SMI has failed because it couldn't communicate..." is no header.
_SMI_HEADER = re.compile(r"NVIDIA-SMI\s+\d+\.\d+")
# Drivers up to 5xx print "Driver Version:"; R610+ prints "KMD Version:" / "CUDA UMD Version:".
_SMI_DRIVER = re.compile(r"(?:Driver|KMD) Version:\s*(\S+)")
_SMI_CUDA = re.compile(r"CUDA (?:UMD )?Version:\s*(\S+)")
_SMI_GPU = re.compile(rf"^\|\s*(\d+)\s+(.+?)\s+(On|Off|N/A|WDDM|TCC)\s*\|\s*({_BUS_ID})")
_SMI_MEM = re.compile(r"(\d+)MiB\s*/\s*(\d+)MiB")
_CFG_RELEASE = re.compile(r"\[[^\]:]*:([^\]]+)\]")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _cells(line: str) -> list[str]:
    """The cells of a `| a | b |` table row, without the empty ends."""
    return line.strip().strip("|").split("|")


def parse_npu_smi(text: str) -> dict[str, Any]:
    """Parse the chip table of `npu-smi info` (910B layout with HBM, 310P layout without).

    Each chip is two rows: "NPU Name | Health | ..." then "Chip [Device] | Bus-Id | usage".
    A 300I Duo card shows one NPU id with two chips. The process table below is ignored.
    """
    header = _NPU_HEADER.search(text)
    if header is None:
        raise ValueError("not npu-smi output (no 'npu-smi ... Version:' header)")
    lines = text.splitlines()
    has_hbm = any("HBM-Usage" in ln for ln in lines)
    devices: list[dict[str, Any]] = []
    pending: tuple[int, str, str] | None = None
    for line in lines:
        if "Process id" in line:
            break  # the process table reuses the "NPU  Chip" shape; chips end here
        if not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        if len(cells) < 3:
            continue
        first = _NPU_ROW1.match(cells[0])
        if first and not _NPU_ROW2.match(cells[0]):
            pending = (int(first.group(1)), first.group(2), cells[1].strip())
            continue
        bus = re.search(_BUS_ID, cells[1])
        second = _NPU_ROW2.match(cells[0])
        if pending and second and bus:
            devices.append(
                _npu_chip(pending, int(second.group(1)), bus.group(0), cells[2], has_hbm)
            )
            pending = None
    return {
        "tool": "npu-smi",
        "version": header.group(2),
        "devices": devices,
        "count": len(devices),
        "npus": len({d["npu"] for d in devices}),
    }


def _npu_chip(
    first: tuple[int, str, str], chip: int, bus_id: str, usage: str, has_hbm: bool
) -> dict[str, Any]:
    pairs = [(int(used), int(total)) for used, total in _USAGE.findall(usage)]
    memory = pairs[0][1] if pairs else None
    hbm = pairs[1][1] if has_hbm and len(pairs) > 1 else None
    npu, name, health = first
    return {
        "npu": npu,
        "chip": chip,
        "name": name,
        "health": health,
        "hbm_total_mb": hbm,
        "memory_total_mb": memory,
        "bus_id": bus_id,
    }


def parse_nvidia_smi(text: str) -> dict[str, Any]:
    """Parse the plain `nvidia-smi` table: driver, CUDA, and one entry per GPU.

    Older drivers truncate long names ("NVIDIA A100-SXM..."); the name is kept as printed.
    """
    if _SMI_HEADER.search(text) is None:
        raise ValueError("not nvidia-smi output (no 'NVIDIA-SMI' header)")
    driver = _SMI_DRIVER.search(text)
    cuda = _SMI_CUDA.search(text)
    lines = text.splitlines()
    devices: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        gpu = _SMI_GPU.match(line.strip())
        if gpu is None:
            continue
        # The memory column is on the next row of the same GPU block.
        mem = _SMI_MEM.search(lines[i + 1]) if i + 1 < len(lines) else None
        devices.append(
            {
                "index": int(gpu.group(1)),
                "name": gpu.group(2).strip(),
                "memory_total_mb": int(mem.group(2)) if mem else None,
                "bus_id": gpu.group(4),
            }
        )
    return {
        "tool": "nvidia-smi",
        "driver": driver.group(1) if driver else None,
        "cuda": cuda.group(1) if cuda else None,
        "devices": devices,
        "count": len(devices),
    }


def parse_key_values(text: str) -> dict[str, str]:
    """`KEY=VALUE` lines (version.info, ascend_install.info, toolkit info); others skipped."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _driver_version(info: dict[str, str] | None) -> str | None:
    # package_version is the HDK release; Version equals it in every sample we have, but
    # package_version is the field that names the release when the two differ.
    if not info:
        return None
    return info.get("package_version") or info.get("Version") or info.get("version")


def _cfg_release(cfg: dict[str, str]) -> str | None:
    for key in ("toolkit_running_version", "runtime_running_version"):
        found = _CFG_RELEASE.findall(cfg.get(key, ""))
        if found:
            return found[-1]
    return None


def ascend_versions(read: Read) -> dict[str, Any]:
    """Ascend driver and CANN versions from the files the reference mounts; None when absent.

    `read(path)` returns the file's text or None. Every path tried is listed in "files".
    """
    files: dict[str, dict[str, str] | None] = {}

    def load(path: str) -> dict[str, str] | None:
        text = read(path)
        files[path] = parse_key_values(text) if text is not None else None
        return files[path]

    install = load(ASCEND_INSTALL_INFO)
    driver_path = ASCEND_DRIVER_INFO
    root = (install or {}).get("Driver_Install_Path_Param")
    if root and root.rstrip("/") != "/usr/local/Ascend":
        driver_path = f"{root.rstrip('/')}/driver/version.info"  # driver installed elsewhere
    driver = _driver_version(load(driver_path))
    cann = None
    for path in TOOLKIT_INFOS:
        info = load(path)
        if info and info.get("version"):
            cann = info["version"]
            break
    if cann is None:
        cfg = load(TOOLKIT_CFG)
        cann = _cfg_release(cfg) if cfg else None
    return {"driver": driver, "cann": cann, "files": files}


def run_command(argv: list[str], timeout: float) -> str | None:
    """Run argv (never a shell string); its stdout, or None when the tool is missing or silent.

    A tool that exits non-zero but prints something (npu-smi's "dcmi module initialize
    failed") returns that text, so the caller records an error rather than "absent".
    """
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if done.returncode == 0:
        return done.stdout
    said = (done.stdout + done.stderr).strip()
    return said or None


run_tool: Run = partial(run_command, timeout=15)


def read_local(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def _probe(run: Run, argv: list[str], parse: Callable[[str], dict[str, Any]]) -> Any:
    out = run(argv)
    if out is None:
        return "absent"
    try:
        return parse(out)
    except ValueError as exc:
        return {"error": _one_line(exc)}


def _full_names(run: Run, gpu: Any) -> Any:
    """The plain table's GPUs with their full names from the CSV query mode, where
    nvidia-smi answers it (the table truncates long names: "NVIDIA A100-SXM...")."""
    if not isinstance(gpu, dict) or not gpu.get("devices"):
        return gpu
    fields = ",".join(NVSMI_NAME_FIELDS)
    text = run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"])
    try:
        named = {d["index"]: d["name"] for d in parse_nvsmi_names(text or "")}
    except ValueError:
        return gpu
    for device in gpu["devices"]:
        device["name"] = named.get(device["index"]) or device["name"]
    return gpu


def accelerators(run: Run = run_tool) -> dict[str, Any]:
    """NPUs from `npu-smi info`, GPUs from `nvidia-smi` (names from its CSV query mode):
    parsed, "absent" or {"error": ...}."""
    return {
        "npu": _probe(run, ["npu-smi", "info"], parse_npu_smi),
        "gpu": _full_names(run, _probe(run, ["nvidia-smi"], parse_nvidia_smi)),
    }
