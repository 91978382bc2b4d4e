#!/bin/sh
# sti serve end to end: a PKI made with openssl, the chain published by
# sti-cr over HTTP; signing and verification through the ATIS-1000082
# JSON API (pass, tampered 438, stale 403, bad bodies 400, 404, 405, 413),
# HTTPS, and the options.
. "$(dirname "$0")/lib.sh"

sh "$STI_ROOT/tests/data/serve/mkpki.sh" "$T/pki" || exit 1

# --- x5u repository
sti-cr init --dir "$T/cr" >/dev/null || exit 1
sti-cr publish --dir "$T/cr" "$T/pki/chain.pem" --name sp >/dev/null || exit 1
start_service cr "$T/cr.port" sti-cr serve --dir "$T/cr" --plain-http \
    --listen 127.0.0.1:0 --port-file "$T/cr.port"
X5U="http://127.0.0.1:$PORT/certs/sp.pem"

# --- usage
check_status "help exits 0" 0 sti serve --help
check_contains "help names the ATIS endpoint" "/stir/v1/signing" \
    "$(cat "$T/last.out")"
check_status "nothing to serve is a usage error" 2 sti serve
check_contains "nothing to serve explained" "nothing to serve" \
    "$(cat "$T/last.err")"
check_status "key without x5u" 2 sti serve --key "$T/pki/sp.key"
check_status "bad threads" 2 sti serve --key "$T/pki/sp.key" --x5u "$X5U" \
    --threads 0
check_contains "bad threads explained" "invalid --threads '0'" \
    "$(cat "$T/last.err")"
check_status "bad profile" 2 sti serve --ca-file "$T/pki/root.pem" \
    --profile de
check_status "stray argument" 2 sti serve --ca-file "$T/pki/root.pem" extra
check_status "crl-ca-file without crl" 2 sti serve \
    --ca-file "$T/pki/root.pem" --crl-ca-file "$T/pki/root.pem"
check_status "bad crl-refresh" 2 sti serve --ca-file "$T/pki/root.pem" \
    --crl-refresh -1
check_status "missing key file" 1 sti serve --key "$T/nokey.pem" --x5u "$X5U"
check_contains "missing key named" "$T/nokey.pem" "$(cat "$T/last.err")"
check_status "missing CA file" 1 sti serve --ca-file "$T/none.pem"
check_contains "missing CA file named" "$T/none.pem" "$(cat "$T/last.err")"
check_status "busy port" 1 sti serve --ca-file "$T/pki/root.pem" \
    --listen "127.0.0.1:$PORT"
check_contains "busy port named" \
    "on 127.0.0.1:$PORT: Address already in use" "$(cat "$T/last.err")"
check_status "listen address without a port" 2 sti serve \
    --ca-file "$T/pki/root.pem" --listen 127.0.0.1
check_contains "listen address explained" "invalid listen address" \
    "$(cat "$T/last.err")"

# --- the service, configured through a file and an encrypted key
openssl pkcs8 -topk8 -in "$T/pki/sp.key" -passout pass:s3cret -v2 aes-256-cbc \
    -out "$T/sp-enc.key" 2>/dev/null
echo s3cret >"$T/pass"
cat >"$T/serve.conf" <<EOF
# sti serve settings
key = $T/sp-enc.key
pass = file:$T/pass
x5u = $X5U
ca-file = $T/pki/root.pem
allow-http = yes
allow-any-port = yes
max-body = 4096
EOF
printf 'ca-file = %s\nallow-any-prot = yes\n' "$T/pki/root.pem" >"$T/typo.conf"
check_status "unknown config key" 2 sti serve --config "$T/typo.conf"
check_contains "unknown key and line named" \
    "typo.conf: line 2: unknown key 'allow-any-prot'" "$(cat "$T/last.err")"
printf 'ca-file = %s\nallow-any-port = maybe\n' "$T/pki/root.pem" \
    >"$T/flag.conf"
check_status "invalid config flag" 2 sti serve --config "$T/flag.conf"
start_service serve "$T/serve.port" sti serve --config "$T/serve.conf" \
    --listen 127.0.0.1:0 --port-file "$T/serve.port"
URL="http://127.0.0.1:$PORT"

# post PATH BODY: POSTs BODY, leaves the body in $T/body and prints the
# status code.
post() {
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' --data-binary "$2" "$URL$1"
}

json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$T/body"; }

sign_body() {
    printf '{"signingRequest":{"attest":"A","orig":{"tn":"%s"},"dest":{"tn":["%s"]},"iat":%s,"origid":"00000000-0000-4000-8000-%012d"}}' \
        "$1" "$2" "$3" "$3"
}

verify_body() {
    printf '{"verificationRequest":{"from":{"tn":"%s"},"to":{"tn":["%s"]},"time":%s,"identity":"%s"}}' \
        "$1" "$2" "$(date +%s)" "$3"
}

NOW=$(date +%s)
check_eq "sign" 200 "$(post /stir/v1/signing "$(sign_body 12025550100 12025550199 "$NOW")")"
IDENTITY=$(json_field identity)
check_contains "identity names the x5u" ";info=<$X5U>;alg=ES256;ppt=shaken" \
    "$IDENTITY"
check_contains "JSON content type" "application/json" "$(cat "$T/headers")"

check_eq "verify" 200 "$(post /stir/v1/verification "$(verify_body 12025550100 12025550199 "$IDENTITY")")"
check_eq "verstat passed" TN-Validation-Passed "$(json_field verstat)"
check_eq "attest reported" A "$(json_field attest)"

# Flip one signature character: the header no longer verifies.
SIG=${IDENTITY%%;*}
SIG=${SIG##*.}
case "$SIG" in A*) BAD=B${SIG#A} ;; *) BAD=A${SIG#?} ;; esac
TAMPERED=$(printf %s "$IDENTITY" | sed "s/$SIG/$BAD/")
check_eq "verify tampered" 200 "$(post /stir/v1/verification "$(verify_body 12025550100 12025550199 "$TAMPERED")")"
check_eq "tampered verstat" TN-Validation-Failed "$(json_field verstat)"
check_contains "tampered reason code" '"reasoncode":438' "$(cat "$T/body")"
check_eq "tampered reason text" "Invalid Identity Header" "$(json_field reasontext)"

check_eq "verify other caller" 200 "$(post /stir/v1/verification "$(verify_body 12025550111 12025550199 "$IDENTITY")")"
check_contains "other caller fails with 438" '"reasoncode":438' "$(cat "$T/body")"

post /stir/v1/signing "$(sign_body 12025550100 12025550199 $((NOW - 3600)))" >/dev/null
STALE=$(json_field identity)
check_eq "verify stale" 200 "$(post /stir/v1/verification "$(verify_body 12025550100 12025550199 "$STALE")")"
check_contains "stale reason code" '"reasoncode":403' "$(cat "$T/body")"
check_eq "stale reason text" "Stale Date" "$(json_field reasontext)"

# The request's "time" is the call's Date, which iat must be close to.
check_eq "verify at an old call time" 200 "$(post /stir/v1/verification \
    "$(verify_body 12025550100 12025550199 "$IDENTITY" | sed 's/"time":[0-9]*/"time":1000/')")"
check_contains "old call time gives 403" '"reasoncode":403' "$(cat "$T/body")"
check_contains "old call time named" "the call's time 1000" "$(cat "$T/body")"
check_contains "log names the bound port" \
    "listening on http://127.0.0.1:$(cat "$T/serve.port");" "$(cat "$T/serve.log")"
check_contains "one worker per online CPU by default" \
    "verification on, worker threads $(getconf _NPROCESSORS_ONLN)" \
    "$(cat "$T/serve.log")"
check_contains "responses batched by default" "batching on" \
    "$(cat "$T/serve.log")"

# --- bad requests
check_eq "malformed JSON" 400 "$(post /stir/v1/signing '{"signingRequest":')"
check_contains "malformed JSON explained" "invalid JSON" "$(cat "$T/body")"
check_eq "wrong type" 400 "$(post /stir/v1/signing '{"signingRequest":{"attest":"A","orig":{"tn":12},"dest":{"tn":["1"]}}}')"
check_contains "wrong type explained" "signingRequest.orig.tn must be a string" \
    "$(cat "$T/body")"
check_eq "missing field" 400 "$(post /stir/v1/verification '{"verificationRequest":{"to":{"tn":["1"]}}}')"
check_contains "missing field explained" "verificationRequest.from is missing" \
    "$(cat "$T/body")"
check_eq "unknown path" 404 "$(post /stir/v2/signing '{}')"
check_contains "404 body" '"status":"error"' "$(cat "$T/body")"
check_eq "GET on signing" 405 \
    "$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$URL/stir/v1/signing")"
check_contains "405 Allow header" "Allow: POST" "$(tr -d '\r' <"$T/headers")"
head -c 5000 /dev/zero | tr '\0' 'x' >"$T/big"
check_eq "body over --max-body" 413 "$(post /stir/v1/signing "@$T/big")"
check_eq "413 over the limit" 413 "$(curl -s -o "$T/body" -w '%{http_code}' \
    --data-binary "@$T/big" "$URL/stir/v1/signing")"
check_contains "one log line per request" \
    "access: 127.0.0.1 POST /stir/v1/verification 200" "$(cat "$T/serve.log")"
if grep -q s3cret "$T/serve.log"; then
    fail "the log shows the key passphrase"
else
    ok "the log keeps the passphrase out"
fi

# --- connection limits: with --per-ip 1, a second connection from the
# same address is closed without a response, and the log records it.
check_status "bad per-ip" 2 sti serve --ca-file "$T/pki/root.pem" --per-ip -1
check_status "bad max-connections" 2 sti serve --ca-file "$T/pki/root.pem" \
    --max-connections 0
check_status "bad timeout" 2 sti serve --ca-file "$T/pki/root.pem" \
    --timeout 0
start_service limits "$T/limits.port" sti serve --ca-file "$T/pki/root.pem" \
    --per-ip 1 --max-connections 50 --timeout 20 --no-batch \
    --listen 127.0.0.1:0 --port-file "$T/limits.port"
mkfifo "$T/hold"
# curl sends a chunked body read from the FIFO, so its connection stays
# open until the FIFO closes.
curl -s -o /dev/null -T - "http://127.0.0.1:$PORT/v1/check" <"$T/hold" &
holder=$!
exec 4>"$T/hold"
sleep 0.5
check_eq "second connection closed" 000 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/check")"
exec 4>&-
wait "$holder"
i=0
while ! grep -q "connection limit reached" "$T/limits.log" && [ $i -lt 30 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_contains "per-ip rejection logged" \
    "connection limit reached: closed 1 new connection without a response" \
    "$(cat "$T/limits.log")"
check_contains "limits named" "limits 50 in total and 1 per client address" \
    "$(cat "$T/limits.log")"
check_contains "--no-batch logged" "batching off" "$(cat "$T/limits.log")"
check_eq "answer without batching" 500 "$(curl -s -o "$T/body" \
    -w '%{http_code}' --data-binary x "http://127.0.0.1:$PORT/v1/check")"
check_eq "failure body without batching" FAILED "$(cat "$T/body")"

# --- HTTPS for the service and for x5u, with the repository's TLS
# certificate; the x5u server's certificate is trusted through --x5u-ca-file.
start_service crtls "$T/crtls.port" sti-cr serve --dir "$T/cr" \
    --listen 127.0.0.1:0 --port-file "$T/crtls.port"
X5U_TLS="https://127.0.0.1:$PORT/certs/sp.pem"
check_eq "sign with an https x5u" 200 "$(curl -s -o "$T/body" -w '%{http_code}' \
    --data-binary "12025550100,12025550199,A,,$X5U_TLS" "$URL/v1/sign-csv")"
IDENTITY_TLS=$(tr -d '\n' <"$T/body")
start_service tls "$T/tls.port" sti serve --ca-file "$T/pki/root.pem" \
    --allow-http --allow-any-port --tls-cert "$T/cr/tls-cert.pem" \
    --tls-key "$T/cr/tls-key.pem" --x5u-ca-file "$T/cr/tls-cert.pem" \
    --listen 127.0.0.1:0 --port-file "$T/tls.port" --threads 1
check_eq "verify over HTTPS" 200 "$(curl -s -o "$T/body" -w '%{http_code}' \
    --cacert "$T/cr/tls-cert.pem" \
    --data-binary "$(verify_body 12025550100 12025550199 "$IDENTITY")" \
    "https://127.0.0.1:$PORT/stir/v1/verification")"
check_eq "HTTPS verstat" TN-Validation-Passed "$(json_field verstat)"
check_eq "verify an https x5u" 200 "$(curl -s -o "$T/body" -w '%{http_code}' \
    --cacert "$T/cr/tls-cert.pem" \
    --data-binary "$(verify_body 12025550100 12025550199 "$IDENTITY_TLS")" \
    "https://127.0.0.1:$PORT/stir/v1/verification")"
check_eq "https x5u verstat" TN-Validation-Passed "$(json_field verstat)"
check_eq "/v1/check without x5u trust" 500 "$(curl -s -o "$T/body" \
    -w '%{http_code}' --data-binary "$IDENTITY_TLS" "$URL/v1/check")"
check_eq "signing off without a key" 503 "$(curl -s -o "$T/body" -w '%{http_code}' \
    --cacert "$T/cr/tls-cert.pem" --data-binary "$(sign_body 1 2 "$NOW")" \
    "https://127.0.0.1:$PORT/stir/v1/signing")"

# --- SIGHUP reloads the trust anchors; the service keeps serving.
pid=$(echo $service_pids | awk '{print $NF}')
kill -HUP "$pid"
i=0
while ! grep -q "reloaded the trust anchors" "$T/tls.log" && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_contains "SIGHUP reload logged" "reloaded the trust anchors" \
    "$(cat "$T/tls.log")"
check_eq "no CRL named without --crl" 0 \
    "$(grep -c "reloaded the trust anchors and CRL" "$T/tls.log")"
check_eq "verify after SIGHUP" 200 "$(curl -s -o "$T/body" -w '%{http_code}' \
    --cacert "$T/cr/tls-cert.pem" \
    --data-binary "$(verify_body 12025550100 12025550199 "$IDENTITY")" \
    "https://127.0.0.1:$PORT/stir/v1/verification")"
check_eq "verstat after SIGHUP" TN-Validation-Passed "$(json_field verstat)"

# --- SIGTERM stops the service after the requests in progress.  A stopped
# sti-cr is a slow x5u server: the kernel accepts the connection but
# nothing responds, so the check waits for the 4 s fetch timeout.
start_service slowcr "$T/slowcr.port" sti-cr serve --dir "$T/cr" \
    --plain-http --listen 127.0.0.1:0 --port-file "$T/slowcr.port"
slow_pid=$(echo $service_pids | awk '{print $NF}')
curl -s -o "$T/body" --data-binary \
    "12025550100,12025550199,A,,http://127.0.0.1:$PORT/certs/sp.pem" \
    "$URL/v1/sign-csv"
SLOW_IDENTITY=$(tr -d '\n' <"$T/body")
kill -STOP "$slow_pid"
curl -s -o "$T/slow.body" -w '%{http_code}' --cacert "$T/cr/tls-cert.pem" \
    --data-binary "$SLOW_IDENTITY" \
    "https://127.0.0.1:$(cat "$T/tls.port")/v1/check" >"$T/slow.code" &
curl_pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
check_eq "SIGTERM exit status" 0 "$?"
wait "$curl_pid"
kill -CONT "$slow_pid"
check_eq "request in progress answered" 500 "$(cat "$T/slow.code")"
check_eq "request in progress body" FAILED "$(head -n 1 "$T/slow.body")"
check_contains "stop logged" "stopping" "$(cat "$T/tls.log")"
check_contains "stopped logged" "sti serve: stopped" "$(cat "$T/tls.log")"
service_pids=$(echo $service_pids | awk '{$(NF-1)=""; print}')

finish
