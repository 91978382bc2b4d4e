#!/bin/sh
# Memory of the verifier's x5u cache and the warm verify rate: builds
# bench/cache_mem.c, which fills one verifier with BENCH_FILL distinct x5u
# URLs (each its own SP leaf under one intermediate, loaded from the
# SQLite cache file), and prints VmRSS before and after the fill and the
# verify rates for one URL and for all of them in turn.  Exits 1 when the
# fill grows VmRSS by 15 MB or more.
# Usage: STI_BIN=build/bin sh bench/cache_mem.sh  (bench/run.sh sets it)
# Environment: BENCH_FILL (default 10000), BENCH_SECONDS (default 3),
# BENCH_CORE (default 0).
set -u
: "${STI_BIN:?run through bench/run.sh or set STI_BIN}"
ROOT=$(pwd)
FILL=${BENCH_FILL:-10000}
SECONDS_EACH=${BENCH_SECONDS:-3}
CORE=${BENCH_CORE:-0}
LIB="$STI_BIN/../libsti.a"
PKGS="libcrypto libssl sqlite3 libcurl jansson libmicrohttpd libosip2"
T=$(mktemp -d "${TMPDIR:-/tmp}/sti-bench-cache.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/lib/include" \
    "$ROOT/bench/cache_mem.c" "$LIB" $(pkg-config --libs $PKGS) \
    -lpthread -o "$T/cache_mem" || exit 1
mkdir "$T/run"
taskset -c "$CORE" "$T/cache_mem" "$T/run" "$FILL" "$SECONDS_EACH" \
    >"$T/out" || exit 1
cat "$T/out"
awk '/^rss_before_kb/ { b = $2 } /^rss_after_kb/ { a = $2 }
END {
    printf "VmRSS growth: %.1f MB for the fill (goal < 15 MB: %s)\n",
        (a - b) / 1024, (a - b < 15360 ? "met" : "missed")
    exit !(a - b < 15360)
}' "$T/out"
