#!/bin/sh
# sti-cr against nginx: both serve the same 2-certificate chain on
# 127.0.0.1, pinned to one core, while wrk on another core keeps CONNS
# keep-alive connections busy for DURATION.  The four targets (sti-cr and
# nginx, HTTP and HTTPS) take turns for ROUNDS rounds, and the medians are
# reported, because shared machines are noisy: requests/s, p99 latency and
# the server's CPU time per request (from /proc), then the sti-cr/nginx
# ratios, and sti-cr's resident memory with CHAINS distinct chains.
# Many short rounds, because the p99 of single rounds swings widely on a
# shared machine.
# Usage: STI_BIN=build/bin sh bench/cr.sh
# Environment: DURATION (default 5s), ROUNDS (11), CONNS (32),
# CHAINS (10000), SERVER_CPU (0), CLIENT_CPU (1).
set -eu

: "${STI_BIN:?set STI_BIN to the directory with sti-cr}"
: "${DURATION:=5s}"
: "${ROUNDS:=11}"
: "${CONNS:=32}"
: "${CHAINS:=10000}"
: "${SERVER_CPU:=0}"
: "${CLIENT_CPU:=1}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA="$ROOT/tests/data/repo"
W=$(mktemp -d "${TMPDIR:-/tmp}/sti-bench-cr.XXXXXX")
pids=""

cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT INT TERM

for tool in nginx wrk taskset openssl curl; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench/cr.sh: $tool is missing; run 'sh scripts/deps.sh bench'"
        exit 1
    }
done

# free_port: a loopback port nothing listens on now.
free_port() {
    while :; do
        p=$(( (($(od -An -N2 -tu2 /dev/urandom) % 30000)) + 20000 ))
        if ! ss -ltn "sport = :$p" | grep -q LISTEN; then
            echo "$p"
            return
        fi
    done
}

# wait_port PORT: waits until something listens on 127.0.0.1:PORT.
wait_port() {
    i=0
    until ss -ltn "sport = :$1" | grep -q LISTEN; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "nothing listens on port $1"; exit 1; }
        sleep 0.1
    done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_wrk URL PID: prints "REQ_PER_S P99_MS CPU_US_PER_REQUEST" from one
# wrk run against the server process PID.
run_wrk() {
    c0=$(cpu_ticks "$2")
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$1" \
        >"$W/wrk.out" 2>&1
    c1=$(cpu_ticks "$2")
    if grep -q "Non-2xx" "$W/wrk.out"; then
        echo "bench/cr.sh: non-2xx responses from $1" >&2
        cat "$W/wrk.out" >&2
        exit 1
    fi
    awk -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
        /^Requests\/sec:/ { rps = $2 }
        / requests in / { n = $1 }
        $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
                      if (u == "us") v /= 1000; if (u == "s") v *= 1000; p99 = v }
        END { printf "%s %s %.2f\n", rps, p99, ticks / hz * 1e6 / n }' "$W/wrk.out"
}

# median FILE COLUMN: the median of one column.
median() {
    sort -g -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- sti-cr state with the 2-certificate chain
D="$W/cr"
"$STI_BIN/sti-cr" init --dir "$D" >/dev/null
"$STI_BIN/sti-cr" publish --dir "$D" "$DATA/good.pem" --name sp1 >/dev/null
"$STI_BIN/sti-cr" export --dir "$D" "$W/static" >/dev/null

# --- nginx with the exported tree, as the current user, one worker
NPORT=$(free_port)
NSPORT=$(free_port)
mkdir -p "$W/nginx"
# Run as root, nginx would switch its worker to "nobody"; keep the
# current user instead.
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$W/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
error_log $W/nginx/error.log;
pid $W/nginx/nginx.pid;
daemon off;
events { worker_connections 1024; }
http {
    access_log $W/nginx/access.log;
    client_body_temp_path $W/nginx/body;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    uwsgi_temp_path $W/nginx/uwsgi;
    scgi_temp_path $W/nginx/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=60s;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:$NPORT;
        include $W/static/nginx-sti-cr.conf;
    }
    server {
        listen 127.0.0.1:$NSPORT ssl;
        ssl_certificate $D/tls-cert.pem;
        ssl_certificate_key $D/tls-key.pem;
        include $W/static/nginx-sti-cr.conf;
    }
}
EOF
taskset -c "$SERVER_CPU" nginx -e "$W/nginx/error.log" -p "$W/nginx" \
    -c "$W/nginx/nginx.conf" &
pids="$pids $!"
wait_port "$NPORT"
wait_port "$NSPORT"

# --- sti-cr, one worker thread, access log to a file like nginx's
# start_cr PORTFILE ARGS...: starts sti-cr; sets cr_pid and CPORT.
start_cr() {
    pf=$1
    shift
    rm -f "$pf"
    taskset -c "$SERVER_CPU" "$STI_BIN/sti-cr" serve --dir "$D" \
        --listen 127.0.0.1:0 --port-file "$pf" --threads 1 "$@" \
        2>>"$W/cr-access.log" &
    cr_pid=$!
    pids="$pids $cr_pid"
    i=0
    while [ ! -s "$pf" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "sti-cr did not start"; exit 1; }
        sleep 0.1
    done
    CPORT=$(cat "$pf")
}
stop_cr() {
    kill -TERM "$cr_pid"
    wait "$cr_pid" || true
}

# Sanity: both send the same body.
curl -s "http://127.0.0.1:$NPORT/certs/sp1.pem" >"$W/nginx.body"
cmp -s "$W/nginx.body" "$DATA/good.pem" || {
    echo "bench/cr.sh: nginx does not serve the chain"
    exit 1
}

start_cr "$W/port-http" --plain-http
cr_http_pid=$cr_pid cr_http_port=$CPORT
start_cr "$W/port-https"
cr_tls_pid=$cr_pid cr_tls_port=$CPORT
ng_pid=$(pgrep -P "$(cat "$W/nginx/nginx.pid")" | head -n 1)

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t1 -c$CONNS -d$DURATION --latency, $ROUNDS rounds; servers on CPU $SERVER_CPU (sti-cr --threads 1, nginx 1 worker), wrk on CPU $CLIENT_CPU"
: >"$W/results"
r=0
while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    echo "cr-http $(run_wrk "http://127.0.0.1:$cr_http_port/certs/sp1.pem" "$cr_http_pid")" >>"$W/results"
    echo "ng-http $(run_wrk "http://127.0.0.1:$NPORT/certs/sp1.pem" "$ng_pid")" >>"$W/results"
    echo "cr-https $(run_wrk "https://127.0.0.1:$cr_tls_port/certs/sp1.pem" "$cr_tls_pid")" >>"$W/results"
    echo "ng-https $(run_wrk "https://127.0.0.1:$NSPORT/certs/sp1.pem" "$ng_pid")" >>"$W/results"
done
echo "each run (target, requests/s, p99 ms, CPU us/request):"
sed 's/^/  /' "$W/results"
for t in cr-http ng-http cr-https ng-https; do
    grep "^$t " "$W/results" >"$W/$t"
    echo "$t $(median "$W/$t" 2) $(median "$W/$t" 3) $(median "$W/$t" 4)"
done >"$W/medians"
awk '{ printf "%-9s %12s %9s %15s\n", $1, $2, $3, $4
       rps[$1] = $2; p99[$1] = $3; cpu[$1] = $4 }
     BEGIN { printf "%-9s %12s %9s %15s\n", "median", "requests/s", "p99 ms",
             "CPU us/request" }
     END { for (i = 0; i < 2; i++) {
               s = i ? "https" : "http"; c = "cr-" s; n = "ng-" s
               printf "ratio sti-cr/nginx, %-5s: throughput %.2f, p99 %.2f, " \
                      "CPU/request %.2f\n", s, rps[c] / rps[n], p99[c] / p99[n],
                      cpu[c] / cpu[n] } }' "$W/medians"
cr_pid=$cr_http_pid
stop_cr
cr_pid=$cr_tls_pid
stop_cr

# --- memory with CHAINS distinct chains
G="$W/gen"
mkdir -p "$G/leaves"
cat >"$G/ext.cnf" <<'EOF'
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = 2.16.840.1.114569.1.1.3
crlDistributionPoints = URI:http://sti-pa.test/crl
1.3.6.1.5.5.7.1.26 = DER:30:08:A0:06:16:04:31:32:33:34
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$G/inter.key" 2>/dev/null
openssl req -x509 -new -key "$G/inter.key" -days 3650 \
    -subj "/C=US/O=bench/CN=SHAKEN Bench Intermediate" \
    -config "$G/ext.cnf" -extensions inter -out "$G/inter.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$G/leaf.key" 2>/dev/null
# One openssl process per leaf, two at a time: distinct serials and
# subjects, one shared intermediate, as a CA's customers would have.
# xargs substitutes {} for the number; paths and subjects never hold it.
seq 1 "$CHAINS" | xargs -P 2 -I {} sh -c "
    openssl req -x509 -new -key '$G/leaf.key' -CA '$G/inter.pem' \
        -CAkey '$G/inter.key' -days 365 -subj '/C=US/O=bench/CN=SHAKEN {}' \
        -config '$G/ext.cnf' -extensions leaf 2>/dev/null \
        | cat - '$G/inter.pem' >'$G/leaves/sp{}.pem'"
M="$W/many"
"$STI_BIN/sti-cr" init --dir "$M" >/dev/null
find "$G/leaves" -name '*.pem' | xargs "$STI_BIN/sti-cr" publish --dir "$M" \
    >/dev/null
D="$M"
start_cr "$W/port-many" --plain-http --no-access-log
rss_loaded=$(awk '/^VmRSS/ {print $2}' "/proc/$cr_pid/status")
# Touch every chain once, so the memory after traffic is measured too.
cat >"$W/random.lua" <<EOF
math.randomseed(os.time())
request = function()
    return wrk.format("GET", "/certs/sp" .. math.random(1, $CHAINS) .. ".pem")
end
EOF
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d5s -s "$W/random.lua" \
    "http://127.0.0.1:$CPORT" >"$W/wrk-random.out" 2>&1
rss_after=$(awk '/^VmRSS/ {print $2}' "/proc/$cr_pid/status")
count=$(curl -s "http://127.0.0.1:$CPORT/certs/sp$CHAINS.pem" | grep -c BEGIN)
stop_cr
echo "sti-cr with $CHAINS chains: VmRSS $rss_loaded kB loaded," \
    "$rss_after kB after 5 s of random GETs" \
    "($(awk '/^Requests\/sec:/ {print $2}' "$W/wrk-random.out") requests/s;" \
    "last chain has $count certificates)"
