"""No secret is ever written or printed (issue 14, acceptance 3).

A real run against the simulator carries a canary string in every place a secret can
hide: server env, the server's argv in all four flag shapes, a `${env:NAME}` reference,
the API key and headers. Then every byte under the run folder, the saved baseline, the
console output and `--dry-run` is searched: zero hits. The simulator is made to require
the key (`VLM_BENCH_SIM_API_KEY`, like `vllm serve --api-key`), so the run only passes if
readiness, warm-up, the answer check and evalscope all send it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import cli

pytestmark = pytest.mark.integration

CANARY = "CANARY-7f3a9c"
LITERAL = CANARY + "-literal"  # written into the scenario itself
FROM_ENV = CANARY + "-from-env"  # only in the environment, reached by ${env:VLMB_CANARY}

# The "server": checks that references were resolved for it (exit 3 otherwise, so the
# run fails), then becomes the simulator. The canary flags are its own, not the sim's.
WRAPPER = (
    "import os, sys\n"
    "a = sys.argv[1:]\n"
    "ok = a[a.index('--ref') + 1] == os.environ['VLMB_CANARY'] == "
    "os.environ['VLM_BENCH_SIM_API_KEY']\n"
    "ok or sys.exit(3)\n"
    "rest = a[a.index('--') + 1:]\n"
    "os.execv(rest[0], rest)\n"
)


# The four shapes of a secret on a command line, and a reference the wrapper checks.
FLAGS = [
    "--api-key", LITERAL, f"--hf-token={LITERAL}", "--auth", f"Bearer {LITERAL}",
    "-e", f"HF_TOKEN={LITERAL}", "--header", f"Authorization: Bearer {LITERAL}",
    "--ref", "${env:VLMB_CANARY}",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def scenario(port: int) -> dict[str, Any]:
    sim = [sys.executable, "-m", "bench", "sim", "--port", str(port), "--model", "sim-model"]
    return {
        "name": "secrets",
        "model": {"served_name": "sim-model", "tokenizer_path": "generated"},
        "server": {
            "kind": "command",
            "port": port,
            "ready_timeout_s": 60,
            "warmup_requests": 1,
            "env": {
                "HF_TOKEN": LITERAL,
                "VLM_BENCH_SIM_API_KEY": "${env:VLMB_CANARY}",
                "TOKENIZERS_PARALLELISM": "false",
            },
            "argv": [sys.executable, "-c", WRAPPER, *FLAGS, "--", *sim],
        },
        "load": {
            "api_key": "${env:VLMB_CANARY}",
            "headers": {"X-Api-Key": LITERAL, "Cookie": f"session={LITERAL}"},
            "image_width": 64,
            "image_height": 64,
            "min_tokens": 8,
            "max_tokens": 8,
            "min_prompt_length": 40,
            "max_prompt_length": 40,
            "request_timeout_s": 60,
        },
        "sweep": {"parallel": [1], "number": [2]},
        "check": "warn",  # the fast profile's answer is not OVD; its HTTP status is checked
    }


def vlm_bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`vlm-bench ARGS` with the canary reference set unless `env` is given."""
    env = env if env is not None else {**os.environ, "VLMB_CANARY": FROM_ENV}
    return cli.vlm_bench(*args, timeout=600, env=env)


def hits(folder: Path) -> list[str]:
    """Every file under `folder` that holds the canary (binary-safe)."""
    return [
        str(p.relative_to(folder))
        for p in sorted(folder.rglob("*"))
        if p.is_file() and CANARY.encode() in p.read_bytes()
    ]


def test_a_run_writes_and_prints_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(free_port())))
    assert CANARY in path.read_text()  # the canary is really in the input

    dry = vlm_bench("run", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert CANARY not in dry.stdout + dry.stderr
    # references are shown as written: where the secret comes from is not a secret
    assert "${env:VLMB_CANARY}" in dry.stdout and "--api-key" in dry.stdout

    out = tmp_path / "reports"
    done = vlm_bench("run", str(path), "--output-dir", str(out))
    console = done.stdout + done.stderr
    assert done.returncode == 0, console[-3000:]
    assert CANARY not in console
    (run_dir,) = (out / "secrets").iterdir()
    # the level ran through evalscope (the key reached the server) and left its records
    # (evalscope's database deleted once they were written: Step 15)
    assert (run_dir / "requests.parquet").is_file()
    assert not list((run_dir / "raw").rglob("benchmark_data.db"))
    assert json.loads((run_dir / "check" / "verdict.json").read_text())["status"] == 200
    assert hits(run_dir) == []
    assert "${env:VLMB_CANARY}" in (run_dir / "scenario.yaml").read_text()

    saved = vlm_bench("baseline", "save", str(run_dir), "--as", "b", "--dir", str(tmp_path / "bl"))
    assert saved.returncode == 0, saved.stderr
    assert CANARY not in saved.stdout + saved.stderr
    assert hits(tmp_path / "bl") == []


def test_an_unset_reference_is_refused_before_anything_starts(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(free_port())))
    env = {k: v for k, v in os.environ.items() if k != "VLMB_CANARY"}
    done = vlm_bench("run", str(path), "--output-dir", str(tmp_path / "reports"), env=env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "${env:VLMB_CANARY} is not set" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()


def test_an_authorization_header_in_the_dry_run(tmp_path: Path) -> None:
    data = scenario(free_port())
    data["load"] = {"headers": {"Authorization": f"Bearer {LITERAL}"}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    dry = vlm_bench("run", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert CANARY not in dry.stdout + dry.stderr
    assert "Authorization=<redacted>" in dry.stdout


def test_a_url_with_credentials_is_refused_without_echoing_them(tmp_path: Path) -> None:
    data = scenario(free_port())
    data["server"] = {"kind": "external", "url": f"http://user:{LITERAL}@127.0.0.1:9"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    for args in (["run", str(path)], ["run", str(path), "--dry-run"], ["validate", str(path)]):
        done = vlm_bench(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert CANARY not in done.stdout + done.stderr
        assert "server.url" in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
