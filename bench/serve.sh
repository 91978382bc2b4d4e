#!/bin/sh
# sti serve against the secsipidx HTTP server on this machine, with wrk.
#
# Both servers get the same key, x5u and request bodies.  With BENCH_PIN=1
# (the default) they run pinned to CPU 0 with taskset and wrk runs on
# CPU 1; with BENCH_PIN=0 nothing is pinned, so each server may use every
# core, beside wrk.  For each of signing
# (/v1/sign-csv) and verifying (/v1/check, warm cache) the two servers take
# turns for BENCH_ROUNDS rounds of BENCH_SECONDS each, and the medians of
# requests/s and p99 latency are compared.  Then sti serve verifies
# BENCH_FILL headers whose x5u URLs are distinct names on sti-cr, and its
# resident memory (VmRSS) is read from /proc.
#
# Usage: STI_BIN=build/bin sh bench/serve.sh  (make bench sets STI_BIN)
# Environment: BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3),
# BENCH_CONNECTIONS (default 16), BENCH_FILL (default 10000),
# BENCH_PIN (1 or 0, above), BENCH_STI_THREADS (sti serve worker threads;
# default 1 when pinned, one per online CPU when not).
set -u

: "${STI_BIN:?set STI_BIN to the directory of the sti binaries}"
STI_BIN=$(cd "$STI_BIN" && pwd)
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-16}
FILL=${BENCH_FILL:-10000}
PIN=${BENCH_PIN:-1}
if [ "$PIN" = 1 ]; then
    ON_SERVER="taskset -c 0"
    ON_CLIENT="taskset -c 1"
    STI_THREADS=${BENCH_STI_THREADS:-1}
else
    ON_SERVER=""
    ON_CLIENT=""
    STI_THREADS=${BENCH_STI_THREADS:-$(nproc)}
fi
ROOT=$(pwd)
BENCH="$ROOT/bench"
PATH="$STI_BIN:$PATH"
HZ=$(getconf CLK_TCK)

for tool in wrk secsipidx taskset ss openssl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench/serve.sh: $tool is missing; run scripts/deps.sh bench" >&2
        exit 1
    fi
done
if [ "$(nproc)" -lt 2 ]; then
    echo "bench/serve.sh: needs 2 CPUs (server and wrk on their own)" >&2
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/sti-bench-serve.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

# wait_file FILE: waits up to 20 s for FILE to be non-empty.
wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$1" ]
}

# listen_port PID: the TCP port that process PID listens on (for
# secsipidx, which cannot write a port file).
listen_port() {
    i=0
    port=""
    while [ -z "$port" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
        port=$(ss -ltnpH 2>/dev/null | grep "pid=$1," |
            sed -n 's/.*127\.0\.0\.1:\([0-9]*\) .*/\1/p' | head -n 1)
    done
    echo "$port"
}

# to_ms VALUE: converts a wrk latency such as 812.00us, 3.21ms or 1.02s.
to_ms() {
    echo "$1" | awk '/us$/ { sub("us", ""); print $0 / 1000; next }
        /ms$/ { sub("ms", ""); print $0 + 0; next }
        /s$/ { sub("s", ""); print $0 * 1000 }'
}

# cpu_ticks PID: user plus system CPU time of PID, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run_wrk URL BODY_FILE OUT PID: one bounded wrk run; appends
# "requests/s p99_ms errors cpu_us_per_request" to OUT, the last being the
# CPU time that server PID used per request, which the other load on a
# shared machine does not inflate the way it does wall-clock figures.
run_wrk() {
    before=$(cpu_ticks "$4")
    BENCH_BODY_FILE=$2 $ON_CLIENT wrk -t1 -c"$CONNS" \
        -d"${SECONDS_PER_RUN}s" --timeout 5s --latency \
        -s "$BENCH/serve_post.lua" "$1" >"$T/wrk.out" 2>&1
    after=$(cpu_ticks "$4")
    rps=$(sed -n 's/^Requests\/sec: *//p' "$T/wrk.out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$T/wrk.out")")
    errs=$(sed -n 's/.*Non-2xx or 3xx responses: *//p' "$T/wrk.out")
    total=$(awk '/requests in/ { print $1 }' "$T/wrk.out")
    cpu=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="${total:-0}" \
        'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }')
    echo "${rps:-0} ${p99:-0} ${errs:-0} $cpu" >>"$3"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# compare NAME PATH BODY_FILE: alternates the two servers ROUNDS times.
compare() {
    : >"$T/$1.sti"
    : >"$T/$1.ssx"
    # A short warm-up fills caches and starts the Go runtime's pools.
    SECONDS_PER_RUN=2 run_wrk "$STI$2" "$3" "$T/warm" "$STI_PID"
    SECONDS_PER_RUN=2 run_wrk "$SSX$2" "$3" "$T/warm" "$SSX_PID"
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        run_wrk "$STI$2" "$3" "$T/$1.sti" "$STI_PID"
        run_wrk "$SSX$2" "$3" "$T/$1.ssx" "$SSX_PID"
        r=$((r + 1))
    done
    for s in sti ssx; do
        rps=$(cut -d' ' -f1 "$T/$1.$s" | median)
        p99=$(cut -d' ' -f2 "$T/$1.$s" | median)
        errs=$(awk '{ n += $3 } END { print n + 0 }' "$T/$1.$s")
        cpu=$(cut -d' ' -f4 "$T/$1.$s" | median)
        echo "$rps $p99 $errs $cpu" >"$T/$1.$s.med"
    done
}

# --- PKI, repository with BENCH_FILL names for one chain
sh "$ROOT/tests/data/serve/mkpki.sh" "$T/pki" || exit 1
sti-cr init --dir "$T/cr" >/dev/null || exit 1
mkdir "$T/names"
i=0
while [ $i -lt "$FILL" ]; do
    ln -s "$T/pki/chain.pem" "$T/names/c$i.pem"
    i=$((i + 1))
done
ln -s "$T/pki/chain.pem" "$T/names/sp.pem"
(cd "$T/names" && sti-cr publish --dir "$T/cr" ./*.pem >/dev/null) || exit 1
sti-cr serve --dir "$T/cr" --plain-http --listen 127.0.0.1:0 \
    --port-file "$T/cr.port" --no-access-log 2>"$T/cr.log" &
pids="$pids $!"
wait_file "$T/cr.port" || { echo "sti-cr did not start"; exit 1; }
CR="http://127.0.0.1:$(cat "$T/cr.port")"
X5U="$CR/certs/sp.pem"

# --- the two servers (on CPU 0 when pinned)
$ON_SERVER sti serve --key "$T/pki/sp.key" --x5u "$X5U" \
    --ca-file "$T/pki/root.pem" --allow-http --allow-any-port \
    --freshness 3600 --threads "$STI_THREADS" \
    --listen 127.0.0.1:0 \
    --port-file "$T/sti.port" 2>"$T/sti.log" &
STI_PID=$!
pids="$pids $STI_PID"
wait_file "$T/sti.port" || { echo "sti serve did not start"; exit 1; }
STI="http://127.0.0.1:$(cat "$T/sti.port")"

mkdir "$T/ssx-cache"
$ON_SERVER secsipidx -http-srv 127.0.0.1:0 -fprvkey "$T/pki/sp.key" \
    -x5u "$X5U" -expire 3600 -cert-verify 5 -ca-file "$T/pki/root.pem" \
    -cache-dir "$T/ssx-cache" -cache-expire 3600 >"$T/ssx.log" 2>&1 &
SSX_PID=$!
pids="$pids $SSX_PID"
SSX_PORT=$(listen_port "$SSX_PID")
[ -n "$SSX_PORT" ] || { echo "secsipidx did not start"; exit 1; }
SSX="http://127.0.0.1:$SSX_PORT"

# --- request bodies: the same for both servers
printf '12025550100,12025550199,A,,%s' "$X5U" >"$T/sign.body"
curl -s --data-binary "@$T/sign.body" "$STI/v1/sign-csv" | tr -d '\n' \
    >"$T/check.body"
for s in "$STI" "$SSX"; do
    if [ "$(curl -s --data-binary "@$T/check.body" "$s/v1/check")" != OK ]; then
        echo "bench/serve.sh: $s does not verify the benchmark header" >&2
        exit 1
    fi
done
printf '{"signingRequest":{"attest":"A","orig":{"tn":"12025550100"},"dest":{"tn":["12025550199"]}}}' \
    >"$T/atis-sign.body"
printf '{"verificationRequest":{"from":{"tn":"12025550100"},"to":{"tn":["12025550199"]},"identity":"%s"}}' \
    "$(cat "$T/check.body")" >"$T/atis-verify.body"

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo |
    head -n 1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$PIN" = 1 ]; then
    where="wrk -t1 -c${CONNS} on CPU 1, servers on CPU 0, sti serve --threads $STI_THREADS"
else
    where="wrk -t1 -c${CONNS}, nothing pinned, sti serve --threads $STI_THREADS"
fi
echo "runs: ${ROUNDS} x ${SECONDS_PER_RUN} s per server and endpoint, $where"

compare sign /v1/sign-csv "$T/sign.body"
compare check /v1/check "$T/check.body"
: >"$T/atis"
run_wrk "$STI/stir/v1/signing" "$T/atis-sign.body" "$T/atis" "$STI_PID"
run_wrk "$STI/stir/v1/verification" "$T/atis-verify.body" "$T/atis" \
    "$STI_PID"
RSS_WARM=$(awk '/^VmRSS/ { print $2 }' "/proc/$STI_PID/status")
SSX_RSS=$(awk '/^VmRSS/ { print $2 }' "/proc/$SSX_PID/status")

# --- BENCH_FILL distinct x5u URLs into the verifier's cache

# count_of KIND FILE: the number of lines of FILE (KIND lines) or the number
# it contains (KIND number); 0 while FILE is missing or half written, since
# the wrk scripts rewrite their counter files as they go.
count_of() {
    if [ "$1" = lines ]; then
        n=$(wc -l 2>/dev/null <"$2")
    else
        n=$(cat "$2" 2>/dev/null)
    fi
    case $n in
    '' | *[!0-9]*) echo 0 ;;
    *) echo "$n" ;;
    esac
}
FILL_OUT="$T/fill.txt"
export FILL_OUT
FILL_COUNT=$FILL FILL_X5U_PREFIX="$CR/certs/c" $ON_CLIENT wrk -t1 -c1 \
    -d600s -s "$BENCH/serve_fill_sign.lua" "$STI" >"$T/fill-sign.out" 2>&1 &
wrk_pid=$!
i=0
while [ "$(count_of lines "$FILL_OUT")" -lt "$FILL" ] &&
    [ $i -lt 6000 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill "$wrk_pid" 2>/dev/null
wait "$wrk_pid" 2>/dev/null
FILL_DONE="$T/fill.done" FILL_BAD="$T/fill.bad" $ON_CLIENT wrk -t1 -c1 \
    -d600s -s "$BENCH/serve_fill_check.lua" "$STI" >"$T/fill-check.out" 2>&1 &
wrk_pid=$!
i=0
while [ "$(count_of number "$T/fill.done")" -lt "$FILL" ] &&
    [ $i -lt 6000 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill "$wrk_pid" 2>/dev/null
wait "$wrk_pid" 2>/dev/null
RSS_FILLED=$(awk '/^VmRSS/ { print $2 }' "/proc/$STI_PID/status")
FILLED=$(count_of number "$T/fill.done")
FILL_FAILED=$(count_of number "$T/fill.bad")

# --- report
read -r s_rps s_p99 s_err s_cpu <"$T/sign.sti.med"
read -r x_rps x_p99 x_err x_cpu <"$T/sign.ssx.med"
read -r sc_rps sc_p99 sc_err sc_cpu <"$T/check.sti.med"
read -r xc_rps xc_p99 xc_err xc_cpu <"$T/check.ssx.med"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v v="$1" -v g="$2" -v d="$3" 'BEGIN {
    ok = d == "min" ? v >= g : v <= g; print ok ? "met" : "missed" }'; }
echo
echo "| endpoint | server | requests/s | p99 ms | CPU us/request | non-2xx |"
echo "|---|---|---:|---:|---:|---:|"
echo "| /v1/sign-csv | sti serve | $s_rps | $s_p99 | $s_cpu | $s_err |"
echo "| /v1/sign-csv | secsipidx 1.2.0 | $x_rps | $x_p99 | $x_cpu | $x_err |"
echo "| /v1/check | sti serve | $sc_rps | $sc_p99 | $sc_cpu | $sc_err |"
echo "| /v1/check | secsipidx 1.2.0 | $xc_rps | $xc_p99 | $xc_cpu | $xc_err |"
{
    read -r a_rps a_p99 a_err a_cpu
    read -r v_rps v_p99 v_err v_cpu
} <"$T/atis"
echo "| /stir/v1/signing | sti serve | $a_rps | $a_p99 | $a_cpu | $a_err |"
echo "| /stir/v1/verification | sti serve | $v_rps | $v_p99 | $v_cpu | $v_err |"
echo
r1=$(ratio "$s_rps" "$x_rps")
r2=$(ratio "$sc_rps" "$xc_rps")
l1=$(ratio "$s_p99" "$x_p99")
l2=$(ratio "$sc_p99" "$xc_p99")
c1=$(ratio "$x_cpu" "$s_cpu")
c2=$(ratio "$xc_cpu" "$sc_cpu")
echo "signing: requests/s ratio $r1 (goal >= 2: $(verdict "$r1" 2 min))," \
    "p99 ratio $l1 (goal < 0.25: $(verdict "$l1" 0.2499 max))," \
    "CPU per request: secsipidx uses ${c1}x sti serve's"
echo "verifying: requests/s ratio $r2 (goal >= 2: $(verdict "$r2" 2 min))," \
    "p99 ratio $l2 (goal < 0.25: $(verdict "$l2" 0.2499 max))," \
    "CPU per request: secsipidx uses ${c2}x sti serve's"
if [ "$FILLED" -ge "$FILL" ] && [ "$FILL_FAILED" -eq 0 ]; then
    MEM_VERDICT=$(verdict "$RSS_FILLED" 30720 max)
else
    MEM_VERDICT="not judged: $FILLED of $FILL URLs verified"
fi
echo "sti serve VmRSS: $RSS_WARM kB after the runs; $RSS_FILLED kB with" \
    "$FILLED distinct x5u URLs verified ($FILL_FAILED not 200)" \
    "(goal < 30 MB: $MEM_VERDICT);" \
    "secsipidx VmRSS after the runs: $SSX_RSS kB"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
