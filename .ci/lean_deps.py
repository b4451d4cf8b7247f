"""The quick start's lean dependency list: what running vlm-bench needs, and no more.

`evalscope` declares the dependencies of its whole evaluation suite (math-verify and sympy,
nltk, jieba, rouge, sacrebleu, plotly, …); `evalscope perf`, the only part vlm-bench drives,
never imports them. run_bench.sh therefore installs evalscope with `--no-deps` and then the
list printed here: vlm-bench's own dependencies (pyproject.toml) without evalscope, plus
evalscope's declared dependencies (base and the `perf` extra, read from the installed
evalscope's metadata, so a new evalscope dependency is kept by default) less the ones named
in pyproject.toml's `[tool.vlm-bench] evalscope-unused`, plus its `evalscope-instead`.

    python .ci/lean_deps.py evalscope      the evalscope requirement (pip install --no-deps)
    python .ci/lean_deps.py requirements   one requirement a line (pip install -r /dev/stdin)

Standard library only: it runs in the fresh venv before anything is installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(requirement: str) -> str:
    """A requirement's project name, normalised as PEP 503 says (`Foo_bar` → `foo-bar`)."""
    match = _NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _project() -> dict:
    with PYPROJECT.open("rb") as fh:
        return tomllib.load(fh)


def evalscope_requirement(project: dict) -> str:
    """pyproject.toml's evalscope requirement without its extras (`evalscope>=1.14.1,<1.15`)."""
    for requirement in project["project"]["dependencies"]:
        if canonical(requirement) == "evalscope":
            return re.sub(r"\[[^\]]*\]", "", requirement)
    raise SystemExit(f"{PYPROJECT}: project.dependencies has no evalscope")


def evalscope_needs(declared: list[str], unused: set[str]) -> list[str]:
    """evalscope's base and `perf` requirements, less `unused`, markers kept."""
    kept = []
    for requirement in declared:
        _, _, marker = requirement.partition(";")
        if "extra" in marker and '"perf"' not in marker and "'perf'" not in marker:
            continue
        if canonical(requirement) in unused:
            continue
        kept.append(re.sub(r"\s*(and\s+)?extra\s*==\s*['\"]perf['\"]", "", requirement))
    return [r.rstrip().rstrip(";").strip() for r in kept]


def requirements(project: dict, declared: list[str]) -> list[str]:
    """vlm-bench's dependencies without evalscope, then what evalscope perf needs."""
    lean = project["tool"]["vlm-bench"]
    unused = {canonical(name) for name in lean["evalscope-unused"]}
    own = [r for r in project["project"]["dependencies"] if canonical(r) != "evalscope"]
    return own + evalscope_needs(declared, unused) + list(lean["evalscope-instead"])


def main(argv: list[str]) -> int:
    """Print the list `argv[0]` names (see the module docstring)."""
    project = _project()
    if argv == ["evalscope"]:
        sys.stdout.write(evalscope_requirement(project) + "\n")
        return 0
    if argv == ["requirements"]:
        declared = metadata.requires("evalscope") or []
        sys.stdout.write("".join(line + "\n" for line in requirements(project, declared)))
        return 0
    sys.stderr.write("usage: lean_deps.py evalscope|requirements\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
