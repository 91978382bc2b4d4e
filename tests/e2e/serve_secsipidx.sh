#!/bin/sh
# sti serve against the real secsipidx HTTP server: /v1/sign-csv and
# /v1/check get the same status codes, content types and bodies from both,
# and each verifies what the other signs.
. "$(dirname "$0")/lib.sh"

if ! command -v secsipidx >/dev/null 2>&1; then
    echo "secsipidx is not installed; run scripts/deps.sh check"
    exit 1
fi
sh "$STI_ROOT/tests/data/serve/mkpki.sh" "$T/pki" || exit 1

sti-cr init --dir "$T/cr" >/dev/null || exit 1
sti-cr publish --dir "$T/cr" "$T/pki/chain.pem" --name sp >/dev/null || exit 1
start_service cr "$T/cr.port" sti-cr serve --dir "$T/cr" --plain-http \
    --listen 127.0.0.1:0 --port-file "$T/cr.port"
X5U="http://127.0.0.1:$PORT/certs/sp.pem"

start_service sti "$T/sti.port" sti serve --key "$T/pki/sp.key" --x5u "$X5U" \
    --ca-file "$T/pki/root.pem" --allow-http --allow-any-port \
    --listen 127.0.0.1:0 --port-file "$T/sti.port"
STI="http://127.0.0.1:$PORT"

# secsipidx cannot report its port, so ss finds the one it bound.
secsipidx -http-srv 127.0.0.1:0 -fprvkey "$T/pki/sp.key" -x5u "$X5U" \
    -expire 60 -cert-verify 5 -ca-file "$T/pki/root.pem" \
    >"$T/secsipidx.log" 2>&1 &
ssx_pid=$!
service_pids="$service_pids $ssx_pid"
i=0
SSX_PORT=""
while [ -z "$SSX_PORT" ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
    SSX_PORT=$(ss -ltnpH 2>/dev/null | grep "pid=$ssx_pid," |
        sed -n 's/.*127\.0\.0\.1:\([0-9]*\) .*/\1/p' | head -n 1)
done
[ -n "$SSX_PORT" ] || { echo "secsipidx did not start"; cat "$T/secsipidx.log"; exit 1; }
SSX="http://127.0.0.1:$SSX_PORT"

# ask NAME BASE PATH METHOD BODY: stores status, content type and body of
# one request in $T/NAME.status, $T/NAME.type and $T/NAME.body.
ask() {
    curl -s -o "$T/$1.body" -D "$T/$1.headers" -X "$4" \
        -w '%{http_code}\n%{content_type}\n' --data-binary "$5" "$2$3" \
        >"$T/$1.meta"
    sed -n 1p "$T/$1.meta" >"$T/$1.status"
    sed -n 2p "$T/$1.meta" >"$T/$1.type"
}

# same NAME PATH METHOD BODY: both servers give the same status, type,
# nosniff header and body bytes.
same() {
    ask sti "$STI" "$2" "$3" "$4"
    ask ssx "$SSX" "$2" "$3" "$4"
    check_eq "$1: status" "$(cat "$T/ssx.status")" "$(cat "$T/sti.status")"
    check_eq "$1: content type" "$(cat "$T/ssx.type")" "$(cat "$T/sti.type")"
    check_eq "$1: nosniff header" \
        "$(grep -ci '^X-Content-Type-Options: nosniff' "$T/ssx.headers")" \
        "$(grep -ci '^X-Content-Type-Options: nosniff' "$T/sti.headers")"
    if cmp -s "$T/ssx.body" "$T/sti.body"; then
        ok "$1: same body bytes"
    else
        fail "$1: bodies differ: secsipidx '$(head -c 200 "$T/ssx.body")'," \
            "sti '$(head -c 200 "$T/sti.body")'"
    fi
}

# part N FILE: the Nth dot-separated JWS part of an Identity value, decoded.
part() {
    cut -d';' -f1 "$2" | cut -d. -f"$1" | tr '_-' '/+' |
        awk '{ while (length($0) % 4) $0 = $0 "="; print }' | base64 -d
}

# --- sign-csv: same shape; header and claims equal byte for byte
ROW="12025550100,12025550199,A,4d2e8a4c-8c5e-4b1a-9a57-0e1f9c6d7a10,$X5U"
for attempt in 1 2 3; do
    ask sti "$STI" /v1/sign-csv POST "$ROW"
    ask ssx "$SSX" /v1/sign-csv POST "$ROW"
    # Retry when the two landed in different seconds (iat differs).
    [ "$(part 2 "$T/sti.body")" = "$(part 2 "$T/ssx.body")" ] && break
done
check_eq "sign-csv status" "$(cat "$T/ssx.status")" "$(cat "$T/sti.status")"
check_eq "sign-csv status is 200" 200 "$(cat "$T/sti.status")"
check_eq "sign-csv content type" "$(cat "$T/ssx.type")" "$(cat "$T/sti.type")"
check_eq "sign-csv body length" "$(wc -c <"$T/ssx.body")" \
    "$(wc -c <"$T/sti.body")"
check_eq "sign-csv JWS header" "$(part 1 "$T/ssx.body")" "$(part 1 "$T/sti.body")"
check_eq "sign-csv claims" "$(part 2 "$T/ssx.body")" "$(part 2 "$T/sti.body")"
check_eq "sign-csv parameters" "$(cut -d';' -f2- "$T/ssx.body")" \
    "$(cut -d';' -f2- "$T/sti.body")"
cp "$T/sti.body" "$T/sti-signed"
cp "$T/ssx.body" "$T/ssx-signed"

# Empty origid and x5u: a random UUID and the configured x5u.
ask sti "$STI" /v1/sign-csv POST "12025550100,12025550199,B,,"
ask ssx "$SSX" /v1/sign-csv POST "12025550100,12025550199,B,,"
check_eq "defaults: status" "$(cat "$T/ssx.status")" "$(cat "$T/sti.status")"
check_eq "defaults: body length" "$(wc -c <"$T/ssx.body")" \
    "$(wc -c <"$T/sti.body")"
check_eq "defaults: JWS header" "$(part 1 "$T/ssx.body")" "$(part 1 "$T/sti.body")"

same "too few fields" /v1/sign-csv POST "12025550100,12025550199,A"
same "empty body" /v1/sign-csv POST ""
same "GET without body" /v1/sign-csv GET ""

# --- check: each verifies what the other signed
same "check of sti's header" /v1/check POST "$(cat "$T/sti-signed")"
check_eq "sti's header passes secsipidx" "OK" "$(cat "$T/ssx.body")"
same "check of secsipidx's header" /v1/check POST "$(cat "$T/ssx-signed")"
check_eq "secsipidx's header passes sti" "OK" "$(cat "$T/sti.body")"
same "check with trailing newline" /v1/check POST "$(cat "$T/sti-signed")
"
TAMPERED=$(sed 's/\.\([A-Za-z0-9_-]\)\([A-Za-z0-9_-]*\);/.\2\1;/' "$T/sti-signed")
same "check of a tampered header" /v1/check POST "$TAMPERED"
check_eq "tampered header is 500" 500 "$(cat "$T/sti.status")"
same "check of garbage" /v1/check POST "not an identity header"
same "check of nothing" /v1/check POST ""

finish
