#!/bin/sh
# sti-cr end to end: init, publish checks, HTTPS serving with conditional
# requests, the token API, atomic replace, CLI changes picked up by a
# running server, limits, restart and export.
. "$(dirname "$0")/lib.sh"

D="$T/cr"
DATA="$STI_ROOT/tests/data/repo"
CA="$D/tls-cert.pem"

# http_status METHOD URL [CURL_ARGS...]: prints the status code.
http_status() {
    m=$1
    u=$2
    shift 2
    : >"$T/body"
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --cacert "$CA" \
        --path-as-is -X "$m" "$@" "$u"
}

header() { tr -d '\r' <"$T/headers" | sed -n "s/^$1: //Ip" | tail -n 1; }

# --- usage and init
check_status "help exits 0" 0 sti-cr --help
check_status "unknown command is a usage error" 2 sti-cr frobnicate
check_status "serve without --dir is a usage error" 2 sti-cr serve
check_status "init" 0 sti-cr init --dir "$D"
check_eq "TLS key is private" 600 "$(stat -c %a "$D/tls-key.pem")"
check_status "second init keeps the existing config" 1 sti-cr init --dir "$D"
openssl x509 -in "$CA" -noout -ext subjectAltName >"$T/san" 2>&1
check_contains "TLS cert names 127.0.0.1" "IP Address:127.0.0.1" "$(cat "$T/san")"
check_status "init rejects bad host names" 2 \
    sti-cr init --dir "$T/crh" --hosts 'a b,,$$$'
check_contains "bad host named" "invalid host 'a b'" "$(cat "$T/last.err")"
check_status "init rejects an empty host entry" 2 \
    sti-cr init --dir "$T/crh" --hosts 'a,,b'
check_status "init rejects a missing TLS cert" 2 \
    sti-cr init --dir "$T/crh" --tls-cert /nonexist --tls-key "$D/tls-key.pem"
check_contains "missing TLS cert named" "/nonexist" "$(cat "$T/last.err")"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$T/other.key" 2>/dev/null
check_status "init rejects a key of another cert" 2 \
    sti-cr init --dir "$T/crh" --tls-cert "$CA" --tls-key "$T/other.key"
check_contains "mismatched key named" "other.key does not match" \
    "$(cat "$T/last.err")"
check_status "failed inits create nothing" 1 test -e "$T/crh"
(cd "$D" && sti-cr init --dir ../crrel --tls-cert tls-cert.pem \
    --tls-key tls-key.pem >/dev/null)
check_contains "relative TLS paths stored absolute" "tls_cert = /" \
    "$(cat "$T/crrel/sti-cr.conf")"
echo "max_conections = 5" >>"$T/crrel/sti-cr.conf"
check_status "unknown config key" 2 sti-cr list --dir "$T/crrel"
check_contains "unknown key named" "unknown key 'max_conections'" \
    "$(cat "$T/last.err")"

# --- publish checks
check_status "publish a good chain" 0 \
    sti-cr publish --dir "$D" "$DATA/good.pem" --name sp1
check_status "publish with text before the first certificate" 0 \
    sti-cr publish --dir "$D" "$DATA/leading-text.pem" --name lt
sti-cr remove --dir "$D" lt >/dev/null
check_status "remove an invalid name" 2 sti-cr remove --dir "$D" ../x
check_contains "invalid name explained" "invalid chain name '../x'" \
    "$(cat "$T/last.err")"
reject() {
    check_status "reject $1" 1 sti-cr publish --dir "$D" "$DATA/$1" --name bad
    check_contains "reason for $1" "$2" "$(cat "$T/last.err")"
}
reject reversed.pem "put the leaf first"
reject no-tnauth.pem "no TNAuthList"
reject ca-leaf.pem "is a CA"
reject wrong-issuer.pem "is not signed by certificate 2"
reject expired.pem "expired on"
reject with-key.pem "PRIVATE KEY"
reject garbage.pem "no PEM certificate"
reject truncated.pem "malformed"
reject leaf.der "binary, not PEM"
# A critical TNAuthList makes verifiers reject the chain (RFC 8226).
TNCRIT="$STI_ROOT/tests/data/lint/tnauth_critical/cert.pem"
check_status "reject a critical TNAuthList" 1 \
    sti-cr publish --dir "$D" "$TNCRIT" --name bad
check_contains "reason for a critical TNAuthList" "e_tnauth_critical" \
    "$(cat "$T/last.err")"
check_status "reject a traversal name" 2 \
    sti-cr publish --dir "$D" "$DATA/good.pem" --name ../etc
check_contains "name rule explained" "invalid chain name" "$(cat "$T/last.err")"
check_eq "rejected chains are not listed" "sp1" \
    "$(sti-cr list --dir "$D" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"

# --- tokens
TOKEN=$(sti-cr token add --dir "$D" --name ci)
check_eq "token is 43 base64url characters" 43 "$(printf %s "$TOKEN" | wc -c)"
check_status "duplicate token name" 1 sti-cr token add --dir "$D" --name ci
check_contains "token list is a table" "ci " \
    "$(sti-cr token list --dir "$D" | sed -n 2p)"
check_contains "token list --json" '"ci"' \
    "$(sti-cr token list --dir "$D" --json)"
if grep -q "$TOKEN" "$D/repo.db"* 2>/dev/null; then
    fail "the token is stored in clear"
else
    ok "only the token hash is stored"
fi

# --- serve over HTTPS
start_service cr "$T/port" sti-cr serve --dir "$D" --listen 127.0.0.1:0 \
    --port-file "$T/port" --sync-ms 100
PID=$(echo $service_pids | awk '{print $NF}')
U="https://127.0.0.1:$PORT"

check_eq "GET chain" 200 "$(http_status GET "$U/certs/sp1.pem")"
if cmp -s "$T/body" "$DATA/good.pem"; then ok "body is the chain, leaf first"
else fail "body differs from good.pem"; fi
check_eq "content type" "application/pem-certificate-chain" \
    "$(header Content-Type)"
check_eq "cache control" "public, max-age=86400" "$(header Cache-Control)"
ETAG=$(header ETag)
LASTMOD=$(header Last-Modified)
check_contains "strong ETag" '"' "$ETAG"
check_contains "Last-Modified is a GMT date" "GMT" "$LASTMOD"

check_eq "HEAD chain" 200 "$(http_status HEAD "$U/certs/sp1.pem" -I)"
check_eq "HEAD content length" "$(wc -c <"$DATA/good.pem" | tr -d ' ')" \
    "$(header Content-Length)"

check_eq "If-None-Match hit" 304 \
    "$(http_status GET "$U/certs/sp1.pem" -H "If-None-Match: $ETAG")"
check_eq "304 has no body" 0 "$(wc -c <"$T/body" | tr -d ' ')"
check_eq "304 keeps the ETag" "$ETAG" "$(header ETag)"
check_eq "If-None-Match weak hit" 304 \
    "$(http_status GET "$U/certs/sp1.pem" -H "If-None-Match: \"x\", W/$ETAG")"
check_eq "If-None-Match star" 304 \
    "$(http_status GET "$U/certs/sp1.pem" -H "If-None-Match: *")"
check_eq "If-None-Match miss" 200 \
    "$(http_status GET "$U/certs/sp1.pem" -H 'If-None-Match: "other"')"
check_eq "If-Modified-Since same time" 304 \
    "$(http_status GET "$U/certs/sp1.pem" -H "If-Modified-Since: $LASTMOD")"
check_eq "If-Modified-Since earlier" 200 \
    "$(http_status GET "$U/certs/sp1.pem" \
        -H "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT")"
check_eq "If-None-Match wins over If-Modified-Since" 200 \
    "$(http_status GET "$U/certs/sp1.pem" -H 'If-None-Match: "other"' \
        -H "If-Modified-Since: $LASTMOD")"
# RFC 9110 section 5.6.7: the two obsolete date forms count too.
RFC850=$(LC_ALL=C date -u -d "$LASTMOD" '+%A, %d-%b-%y %H:%M:%S GMT')
ASCTIME=$(LC_ALL=C date -u -d "$LASTMOD" '+%a %b %e %H:%M:%S %Y')
check_eq "If-Modified-Since in rfc850-date form" 304 \
    "$(http_status GET "$U/certs/sp1.pem" -H "If-Modified-Since: $RFC850")"
check_eq "If-Modified-Since in asctime-date form" 304 \
    "$(http_status GET "$U/certs/sp1.pem" -H "If-Modified-Since: $ASCTIME")"
check_eq "If-None-Match over two field lines" 304 \
    "$(http_status GET "$U/certs/sp1.pem" -H 'If-None-Match: "nomatch"' \
        -H "If-None-Match: $ETAG")"
check_eq "HTTP/1.1 without Host" 400 \
    "$(http_status GET "$U/certs/sp1.pem" -H 'Host:')"
check_eq "two different Content-Length values" 400 \
    "$(http_status PUT "$U/api/v1/chains/sp9" -H 'Content-Length: 3' \
        -H 'Content-Length: 4' --data-binary abcd)"
check_eq "invalid If-Modified-Since is ignored" 200 \
    "$(http_status GET "$U/certs/sp1.pem" -H "If-Modified-Since: yesterday")"

for p in /certs/nope.pem / /certs/ /certs /certs/sp1 /certs/sp1.pem.bak \
    /certs/../sti-cr.conf /certs/..%2fsti-cr.conf /certs/%2e%2e/repo.db \
    /certs/..%2Ftls-key.pem /tls-key.pem /repo.db /certs//sp1.pem \
    "/certs/sp1.pem%00" /api /api/v1; do
    check_eq "404 for $p" 404 "$(http_status GET "$U$p")"
done
check_eq "query strings do not change the lookup" 200 \
    "$(http_status GET "$U/certs/sp1.pem?x=1")"
for m in POST PUT DELETE OPTIONS PATCH; do
    check_eq "405 for $m on a chain" 405 "$(http_status $m "$U/certs/sp1.pem")"
    check_eq "Allow for $m" "GET, HEAD" "$(header Allow)"
done

# Two requests on one connection: curl reports the reuse.
curl -sv --cacert "$CA" -o /dev/null -o /dev/null "$U/certs/sp1.pem" \
    "$U/certs/sp1.pem" 2>"$T/keepalive"
check_contains "keep-alive" "Re-using existing connection" \
    "$(cat "$T/keepalive")"
check_status "plain HTTP to the HTTPS port fails" 1 \
    sh -c "curl -sf http://127.0.0.1:$PORT/certs/sp1.pem >/dev/null || exit 1"

# --- the API
A="$U/api/v1/chains"
AUTH="Authorization: Bearer $TOKEN"
check_eq "API without token" 401 "$(http_status GET "$A")"
check_contains "WWW-Authenticate" "Bearer" "$(header WWW-Authenticate)"
check_eq "API with Basic credentials" 401 \
    "$(http_status GET "$A" -H "Authorization: Basic dXNlcjpwYXNz")"
check_eq "Basic credentials get no error code" 'Bearer realm="sti-cr"' \
    "$(header WWW-Authenticate)"
check_eq "API with a wrong token" 401 \
    "$(http_status GET "$A" -H "Authorization: Bearer x$TOKEN")"
check_eq "publish with a wrong token" 401 \
    "$(http_status PUT "$A/sp2" -H "Authorization: Bearer nope" \
        --data-binary @"$DATA/good2.pem")"
# With Expect: 100-continue, a client without a valid token gets 401
# instead of 100 Continue, so it never uploads the body.
check_eq "expect without token" 401 \
    "$(http_status PUT "$A/sp2" -H 'Expect: 100-continue' \
        --data-binary @"$DATA/good2.pem")"
if grep -q "^HTTP/1.1 100" "$T/headers"; then
    fail "100 Continue sent before the token check"
else ok "no 100 Continue without a token"; fi
check_eq "expect with a token" 201 \
    "$(http_status PUT "$A/sp2" -H 'Expect: 100-continue' -H "$AUTH" \
        --data-binary @"$DATA/good2.pem")"
check_contains "100 Continue with a token" "HTTP/1.1 100" "$(cat "$T/headers")"
check_eq "API delete" 200 "$(http_status DELETE "$A/sp2" -H "$AUTH")"
check_eq "API publish" 201 \
    "$(http_status PUT "$A/sp2" -H "$AUTH" --data-binary @"$DATA/good2.pem")"
check_eq "Location of the new chain" "$U/certs/sp2.pem" "$(header Location)"
check_eq "API replace" 200 \
    "$(http_status PUT "$A/sp2" -H "$AUTH" --data-binary @"$DATA/good.pem")"
check_contains "replace is reported" '"replaced":true' "$(cat "$T/body")"
check_eq "replaced chain served" 200 "$(http_status GET "$U/certs/sp2.pem")"
if cmp -s "$T/body" "$DATA/good.pem"; then ok "new content after replace"
else fail "old content after replace"; fi
check_eq "API rejects a bad chain" 422 \
    "$(http_status PUT "$A/sp2" -H "$AUTH" --data-binary @"$DATA/reversed.pem")"
check_contains "API reason" "leaf first" "$(cat "$T/body")"
check_eq "API rejects a key" 400 \
    "$(http_status PUT "$A/sp2" -H "$AUTH" --data-binary @"$DATA/with-key.pem")"
check_eq "API rejects a critical TNAuthList" 422 \
    "$(http_status PUT "$A/sp2" -H "$AUTH" --data-binary @"$TNCRIT")"
check_contains "API critical TNAuthList reason" "critical" "$(cat "$T/body")"
printf -- '-----BEGIN CERTIFICATE\357----\n' >"$T/nonutf8"
check_eq "API non-UTF-8 label" 400 \
    "$(http_status PUT "$A/sp2" -H "$AUTH" --data-binary @"$T/nonutf8")"
check_contains "non-UTF-8 bytes escaped" '\\xef' "$(cat "$T/body")"
check_eq "failed replace keeps the chain" 200 \
    "$(http_status GET "$U/certs/sp2.pem")"

json=$(awk 'BEGIN{printf "{\"name\":\"sp3\",\"chain\":\""} {printf "%s\\n", $0}
    END{printf "\"}"}' "$DATA/good2.pem")
check_eq "API publish as JSON" 201 \
    "$(http_status POST "$A" -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary "$json")"
check_contains "API success body" '"status":"success"' "$(cat "$T/body")"
check_eq "JSON published chain served" 200 "$(http_status GET "$U/certs/sp3.pem")"
check_eq "API bad JSON" 400 \
    "$(http_status POST "$A" -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary '{"name":')"
check_contains "bad JSON explained" "invalid JSON" "$(cat "$T/body")"
check_eq "API JSON without chain" 400 \
    "$(http_status POST "$A" -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary '{"name":"x"}')"
check_eq "API duplicate JSON keys" 400 \
    "$(http_status POST "$A" -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary "$(printf %s "$json" | sed 's/"name":"sp3"/"name":"sp9","name":"sp9"/')")"
check_contains "duplicate key named" "duplicate" "$(cat "$T/body")"
check_eq "API bad name" 400 \
    "$(http_status POST "$A" -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary '{"name":"../x","chain":"x"}')"
check_eq "API traversal path" 400 \
    "$(http_status PUT "$A/..%2Fx" -H "$AUTH" --data-binary @"$DATA/good.pem")"
check_contains "PUT states the naming rule" "invalid chain name '..%2Fx'; use" \
    "$(cat "$T/body")"
check_eq "PUT of an invalid name needs a token" 401 \
    "$(http_status PUT "$A/.hidden" --data-binary @"$DATA/good.pem")"
check_eq "GET of an invalid name" 404 "$(http_status GET "$A/.hidden" -H "$AUTH")"
check_eq "PUT body naming another chain" 400 \
    "$(http_status PUT "$A/sp4" -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary '{"name":"other","chain":"x"}')"
check_contains "name mismatch explained" "differs from the name 'sp4'" \
    "$(cat "$T/body")"
check_eq "API list" 200 "$(http_status GET "$A" -H "$AUTH")"
check_contains "list has sp3" '"name":"sp3"' "$(tr -d ' \n' <"$T/body")"
check_contains "list has the URL" "\"url\":\"$U/certs/sp1.pem\"" \
    "$(tr -d ' \n' <"$T/body")"
check_eq "API info" 200 "$(http_status GET "$A/sp3" -H "$AUTH")"
check_contains "API info has the times" "\"modified\":\"" \
    "$(cat "$T/body")"
check_eq "API delete with a wrong token" 401 \
    "$(http_status DELETE "$A/sp3" -H "Authorization: Bearer nope")"
check_eq "chain kept after a rejected delete" 200 \
    "$(http_status GET "$U/certs/sp3.pem")"
check_eq "API delete" 200 "$(http_status DELETE "$A/sp3" -H "$AUTH")"
check_eq "deleted chain is gone" 404 "$(http_status GET "$U/certs/sp3.pem")"
check_eq "API delete again" 404 "$(http_status DELETE "$A/sp3" -H "$AUTH")"
check_eq "API 405" 405 "$(http_status PATCH "$A" -H "$AUTH")"
check_eq "API 405 Allow" "GET, HEAD, POST" "$(header Allow)"

head -c 70000 /dev/zero | tr '\0' 'A' >"$T/big"
check_eq "oversized body" 413 \
    "$(http_status PUT "$A/big" -H "$AUTH" --data-binary @"$T/big")"
check_eq "server alive after 413" 200 "$(http_status GET "$U/certs/sp1.pem")"

# --- atomic replace: readers see one chain or the other, never a mix
(
    for i in 1 2 3 4 5 6 7 8 9 10; do
        curl -s -o /dev/null --cacert "$CA" -X PUT -H "$AUTH" \
            --data-binary @"$DATA/good2.pem" "$A/sp2"
        curl -s -o /dev/null --cacert "$CA" -X PUT -H "$AUTH" \
            --data-binary @"$DATA/good.pem" "$A/sp2"
    done
) &
writer=$!
urls=""
i=0
while [ $i -lt 150 ]; do urls="$urls $U/certs/sp2.pem"; i=$((i + 1)); done
# shellcheck disable=SC2086
curl -s --cacert "$CA" -w "==END==\n" $urls >"$T/bodies"
wait $writer
mixed=$(awk -v a="$DATA/good.pem" -v b="$DATA/good2.pem" '
    BEGIN { while ((getline l < a) > 0) A = A l "\n"
            while ((getline l < b) > 0) B = B l "\n" }
    /==END==$/ { sub(/==END==$/, ""); body = body $0
                 if (body != A && body != B) bad++
                 n++; body = ""; next }
    { body = body $0 "\n" }
    END { print n ":" bad + 0 }' "$T/bodies")
check_eq "150 reads during 20 replaces, none mixed" "150:0" "$mixed"

# --- CLI changes reach the running server
check_status "CLI publish while serving" 0 \
    sti-cr publish --dir "$D" "$DATA/good2.pem" --name cli1
i=0
while [ "$(http_status GET "$U/certs/cli1.pem")" != 200 ] && [ $i -lt 30 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_eq "server picked up the CLI publish" 200 \
    "$(http_status GET "$U/certs/cli1.pem")"
check_status "CLI remove while serving" 0 sti-cr remove --dir "$D" cli1
i=0
while [ "$(http_status GET "$U/certs/cli1.pem")" != 404 ] && [ $i -lt 30 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_eq "server picked up the CLI remove" 404 \
    "$(http_status GET "$U/certs/cli1.pem")"
check_status "remove an unknown chain" 1 sti-cr remove --dir "$D" cli1

# --- clean stop and restart
kill -TERM "$PID"
wait "$PID"
check_eq "SIGTERM exit status" 0 "$?"
service_pids=""
check_contains "stop is logged" "stopping" "$(cat "$T/cr.log")"
check_contains "clean stop is logged" "stopped" "$(tail -n 1 "$T/cr.log")"
check_contains "start log names the bound port" \
    "on https://127.0.0.1:$PORT" "$(cat "$T/cr.log")"
check_contains "access log line" "GET /certs/sp1.pem 200 1478 bytes" \
    "$(cat "$T/cr.log")"
start_service cr2 "$T/port2" sti-cr serve --dir "$D" --listen 127.0.0.1:0 \
    --port-file "$T/port2"
U="https://127.0.0.1:$PORT"
check_eq "sp1 after restart" 200 "$(http_status GET "$U/certs/sp1.pem")"
check_eq "same ETag after restart" "$ETAG" "$(header ETag)"
check_eq "sp2 after restart" 200 "$(http_status GET "$U/certs/sp2.pem")"
check_eq "token works after restart" 200 \
    "$(http_status GET "$U/api/v1/chains" -H "$AUTH")"
stop_services

# --- plain HTTP only on request
start_service cr3 "$T/port3" sti-cr serve --dir "$D" --listen 127.0.0.1:0 \
    --port-file "$T/port3" --plain-http --max-age 172800 --no-api \
    --request-timeout 1
check_eq "plain HTTP with --plain-http" 200 \
    "$(http_status GET "http://127.0.0.1:$PORT/certs/sp1.pem")"
check_eq "--max-age" "public, max-age=172800" "$(header Cache-Control)"
check_eq "--no-api" 404 \
    "$(http_status GET "http://127.0.0.1:$PORT/api/v1/chains" -H "$AUTH")"
# A 3000-byte body at 500 bytes per second needs 6 s.  The server closes
# the connection after 1 s, and curl notices at its next write.
head -c 3000 /dev/zero | tr '\0' 'A' >"$T/slow"
check_status "--request-timeout cuts a slow upload" 1 sh -c \
    "curl -s -o /dev/null --max-time 8 --limit-rate 500 -X PUT \
        --data-binary @$T/slow http://127.0.0.1:$PORT/certs/x.pem || exit 1"
check_contains "request deadline logged" \
    "did not send a complete request within 1 s" "$(cat "$T/cr3.log")"
stop_services

# --- list and export
check_status "serve rejects port 70000" 2 \
    sti-cr serve --dir "$D" --listen 127.0.0.1:70000
check_contains "bad listen named" "'127.0.0.1:70000'" "$(cat "$T/last.err")"
check_contains "list counts certificates" " 2 certs " \
    "$(sti-cr list --dir "$D" | grep '^sp1 ')"
check_contains "list --json" '"name": "sp2"' "$(sti-cr list --dir "$D" --json)"
check_status "export" 0 sti-cr export --dir "$D" "$T/out"
if cmp -s "$T/out/certs/sp1.pem" "$DATA/good.pem"; then ok "exported chain"
else fail "exported chain differs"; fi
check_contains "nginx snippet type" "application/pem-certificate-chain" \
    "$(cat "$T/out/nginx-sti-cr.conf")"
# A chain removed since the last export loses its file; other files stay.
echo keep >"$T/out/certs/notes.txt"
sti-cr remove --dir "$D" sp2 >/dev/null
check_status "export after a removal" 0 sti-cr export --dir "$D" "$T/out"
check_contains "export names the removed file" \
    "removed $T/out/certs/sp2.pem, which is no longer published" \
    "$(cat "$T/last.out")"
if [ -e "$T/out/certs/sp2.pem" ]; then fail "removed chain still exported"
else ok "removed chain no longer exported"; fi
if [ -e "$T/out/certs/notes.txt" ] && [ -e "$T/out/certs/sp1.pem" ]; then
    ok "export keeps other files"
else fail "export deleted a file it should keep"; fi
if command -v nginx >/dev/null 2>&1; then
    mkdir -p "$T/ng"
    cat >"$T/ng/nginx.conf" <<EOF
error_log $T/ng/error.log;
pid $T/ng/nginx.pid;
events {}
http {
    access_log off;
    server { listen 127.0.0.1:1; include $T/out/nginx-sti-cr.conf; }
}
EOF
    check_status "nginx accepts the snippet" 0 \
        nginx -e "$T/ng/error.log" -p "$T/ng" -c "$T/ng/nginx.conf" -t
fi

finish
