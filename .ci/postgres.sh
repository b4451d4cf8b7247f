#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the results store's tests (run_bench.sh test).
#
#   .ci/postgres.sh start DIR   initdb into DIR/data and start a server that listens only
#                               on a unix socket in DIR (no TCP port); prints its URL, for
#                               VLM_BENCH_TEST_PG
#   .ci/postgres.sh stop DIR    stop that server (if running) and remove DIR
#
# Debian's `postgresql` is installed with apt-get only when no initdb is found. initdb and
# the server refuse to run as root, so as root they run as the `postgres` user (else
# `nobody`), which then owns DIR; the socket stays reachable only by that user and root,
# which is why trust authentication is enough here.
set -euo pipefail

pg_bin() {  # the folder of initdb and pg_ctl: PATH, else Debian's (15 preferred)
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    local dir
    for dir in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        if [ -x "$dir/initdb" ]; then
            echo "$dir"
            return
        fi
    done
    return 1
}

install_postgres() {
    echo "==> installing Debian's postgresql (no initdb found)" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "postgres.sh: initdb is missing; install PostgreSQL (apt-get install postgresql)" >&2
        exit 2
    fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
}

as_owner() {  # run a command as the cluster's owner
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$OWNER" -- "$@")  # from a folder the owner may enter
    else
        "$@"
    fi
}

owner() {
    if [ "$(id -u)" -ne 0 ]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        echo nobody
    fi
}

start() {
    local dir="$1" bin
    bin="$(pg_bin)" || { install_postgres; bin="$(pg_bin)"; }
    OWNER="$(owner)"
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ "$(id -u)" -ne 0 ] || chown "$OWNER" "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U bench -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    # No TCP at all; durability off: the cluster lives for one test session.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s \
        -o "-c listen_addresses= -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2 || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://bench@/postgres?host=$dir"
}

stop() {
    local dir="$1" bin
    if [ -f "$dir/data/postmaster.pid" ] && bin="$(pg_bin)"; then
        OWNER="$(stat -c %U "$dir/data")"
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 -s stop >&2 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start | stop)
        [ -n "${2:-}" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
        "$1" "$2"
        ;;
    *)
        echo "usage: $0 start|stop DIR" >&2
        exit 2
        ;;
esac
