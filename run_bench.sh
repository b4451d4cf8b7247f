#!/usr/bin/env bash
# vlm-bench set-up and entry point.
#   ./run_bench.sh                 quick start: the simulator sweep, prints the table
#   ./run_bench.sh test            install test extras, run ruff, mypy and pytest
#   ./run_bench.sh SCENARIO [...]  run any scenario file (options as `vlm-bench run`)
#   ./run_bench.sh vlm-bench ARGS  any other vlm-bench command inside the venv
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
export VLM_BENCH_CACHE="${VLM_BENCH_CACHE:-$PWD/.cache}"

pick_python() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "$candidate"
            return
        fi
    done
    echo "run_bench.sh: Python 3.11 or newer is required" >&2
    exit 2
}

ensure_venv() {
    local extras="$1"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating $VENV"
        "$(pick_python)" -m venv "$VENV"
    fi
    # Re-install whenever pyproject.toml (the dependency list) changes.
    local stamp
    stamp="$VENV/.installed-$extras-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        echo "==> installing vlm-bench[$extras] into $VENV (first run takes a few minutes)"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
        rm -f "$VENV"/.installed-*
        touch "$stamp"
    fi
}

case "${1:-}" in
    test)
        shift
        ensure_venv test
        echo "==> ruff"
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        echo "==> mypy"
        "$VENV/bin/mypy"
        echo "==> pytest"
        exec "$VENV/bin/pytest" "$@"
        ;;
    vlm-bench)
        shift
        ensure_venv test
        exec "$VENV/bin/vlm-bench" "$@"
        ;;
    "")
        ensure_venv test
        exec "$VENV/bin/vlm-bench" run scenarios/quickstart.yaml
        ;;
    *)
        ensure_venv test
        exec "$VENV/bin/vlm-bench" run "$@"
        ;;
esac
