#!/bin/sh
# PASSporT signing and verification against the raw ECDSA P-256 rate, in
# one run on one core: `openssl speed -seconds 3 ecdsap256` gives the
# limit, then bench/passport_bench.c measures libsti's full sign (claims
# to Identity header) and full verify (header to result, x5u cache warm).
# Both count the user CPU time of the measuring thread, as openssl speed
# does by default, so that other load on a shared machine does not skew
# the ratio.
# Usage: STI_BIN=build/bin sh bench/passport.sh  (bench/run.sh sets it)
set -u
: "${STI_BIN:?run through bench/run.sh or set STI_BIN}"
STI_ROOT=$(pwd)
. "$STI_ROOT/tests/e2e/lib.sh"
. "$STI_ROOT/tests/data/verify/pki.sh"

SECONDS_EACH=${BENCH_SECONDS:-3}
CORE=${BENCH_CORE:-0}
LIB="$STI_BIN/../libsti.a"
PKGS="libcrypto libssl sqlite3 libcurl jansson libmicrohttpd libosip2"

${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -I"$STI_ROOT/lib/include" \
    "$STI_ROOT/bench/passport_bench.c" "$LIB" $(pkg-config --libs $PKGS) \
    -lpthread -o "$T/passport_bench" || exit 1
pki_make "$T/pki" || exit 1
cr_start "$T/cr" "$T/pki/chain.pem" || exit 1

# Three alternating rounds, keeping each side's best, so that a burst of
# other load during one measurement does not decide the ratio.
raw_sign=0 raw_verify=0 sign=0 verify=0
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
for round in 1 2 3; do
    speed=$(taskset -c "$CORE" openssl speed -seconds "$SECONDS_EACH" \
        ecdsap256 2>/dev/null | awk '/nistp256/ { print $(NF - 1), $NF }')
    ours=$(taskset -c "$CORE" "$T/passport_bench" "$T/pki/sp.key" "$X5U" \
        "$T/pki/root.pem" "$CR_CA" "$SECONDS_EACH") || exit 1
    raw_sign=$(max "$raw_sign" "${speed% *}")
    raw_verify=$(max "$raw_verify" "${speed#* }")
    sign=$(max "$sign" "$(echo "$ours" | awk '/^sign/ { print $2 + 0 }')")
    verify=$(max "$verify" "$(echo "$ours" | awk '/^verify/ { print $2 + 0 }')")
done

awk -v rs="$raw_sign" -v rv="$raw_verify" -v s="$sign" -v v="$verify" '
BEGIN {
    printf "| operation | openssl speed (/s) | libsti (/s) | ratio | goal |\n"
    printf "|---|---|---|---|---|\n"
    printf "| sign | %.0f | %.0f | %.0f%% | 85%% |\n", rs, s, 100 * s / rs
    printf "| verify | %.0f | %.0f | %.0f%% | 85%% |\n", rv, v, 100 * v / rv
    exit !(s >= 0.85 * rs && v >= 0.85 * rv)
}'
status=$?
stop_services
rm -rf "$T"
exit $status
