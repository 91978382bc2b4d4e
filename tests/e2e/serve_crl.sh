#!/bin/sh
# sti serve with the PA's CRL at a URL: a certificate revoked at sti-pa
# fails verification after the --crl-refresh timer fetches the CRL again,
# and, with the timer off, after SIGHUP.  The PKI is made with the openssl
# command line.  Its leaves name the PA as the cRLIssuer of their
# distribution point, because the PA's CRL is an indirect CRL.
. "$(dirname "$0")/lib.sh"

D=$T/pa

make_pki() {
    cat >"$T/ext.cnf" <<EOC
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 2.16.840.1.114569.1.1.4
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 2.16.840.1.114569.1.1.4
crlDistributionPoints = crldp
1.3.6.1.5.5.7.1.26 = DER:30:08:A0:06:16:04:31:32:33:34
[crldp]
fullname = URI:http://127.0.0.1/api/v1/crl
CRLissuer = dirName:pa_dn
[pa_dn]
C = US
O = Test PA
CN = SHAKEN PA ROOT
EOC
    for k in root inter leaf1 leaf2; do
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -out "$T/$k.key" 2>/dev/null || return 1
    done
    openssl req -new -x509 -key "$T/root.key" \
        -subj "/C=US/O=Test CA/CN=SHAKEN ROOT" -days 30 \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$T/root.pem" || return 1
    openssl req -new -key "$T/inter.key" -subj "/C=US/O=Test CA/CN=SHAKEN CA" |
        openssl x509 -req -CA "$T/root.pem" -CAkey "$T/root.key" \
            -CAcreateserial -days 30 -extfile "$T/ext.cnf" -extensions ca \
            -out "$T/inter.pem" 2>/dev/null || return 1
    for k in leaf1 leaf2; do
        openssl req -new -key "$T/$k.key" \
            -subj "/C=US/O=Carrier/CN=SHAKEN 1234" |
            openssl x509 -req -CA "$T/inter.pem" -CAkey "$T/inter.key" \
                -CAcreateserial -days 30 -extfile "$T/ext.cnf" \
                -extensions leaf -out "$T/$k.pem" 2>/dev/null || return 1
        cat "$T/$k.pem" "$T/inter.pem" >"$T/$k-chain.pem"
    done
}

# verify IDENTITY: sends a verification request to sti serve at $URL and
# prints the response body.
verify() {
    curl -s -X POST -H 'Content-Type: application/json' --data-binary \
        "{\"verificationRequest\":{\"from\":{\"tn\":\"12025550100\"},\"to\":{\"tn\":[\"12025550101\"]},\"identity\":\"$1\"}}" \
        "$URL/stir/v1/verification"
}

sign() { # sign KEY X5U: prints a fresh Identity header value
    sti sign --key "$1" --x5u "$2" --orig 12025550100 --dest 12025550101 \
        --attest A
}

# wait_revoked IDENTITY: verifies every 0.2 s for 10 s at most until the
# result names a revocation.  The last response is left in $T/body.
wait_revoked() {
    i=0
    while [ $i -lt 50 ]; do
        verify "$1" >"$T/body"
        grep -q revoked "$T/body" && return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}

make_pki || { echo "cannot build the test PKI"; exit 1; }
check_status "pa init" 0 sti-pa init --dir "$D" --org "Test PA" \
    --root-cert "$T/root.pem" --root-key "$T/root.key"
start_service pa "$T/pa.port" sti-pa serve --dir "$D" \
    --listen 127.0.0.1:0 --port-file "$T/pa.port"
CRL_URL="https://127.0.0.1:$PORT/api/v1/crl"

sti-cr init --dir "$T/cr" >/dev/null 2>&1 || exit 1
for k in leaf1 leaf2; do
    sti-cr publish --dir "$T/cr" "$T/$k-chain.pem" --name "$k" >/dev/null ||
        exit 1
done
start_service cr "$T/cr.port" sti-cr serve --dir "$T/cr" \
    --listen 127.0.0.1:0 --port-file "$T/cr.port" --no-access-log
X5U_BASE="https://127.0.0.1:$PORT/certs"

# --- the PA's signed CA list as the source of trust anchors
CALIST_URL="https://127.0.0.1:$(cat "$T/pa.port")/api/v1/ca-list"
V0=$(sign "$T/leaf1.key" "$X5U_BASE/leaf1.pem")
LIST_ARGS="--x5u-ca-file $T/cr/tls-cert.pem --allow-any-port
    --orig 12025550100 --dest 12025550101"
# A signed list without roots trusts nothing: the PA has approved no CA.
check_status "verify: a CA list without roots" 1 sti verify $LIST_ARGS \
    --ca-list "$CALIST_URL" --pa-cert "$D/pa.crt" --crl-ca-file "$D/tls.crt" \
    "$V0"
check_contains "verify: no anchors from an empty list" "no trust anchors" \
    "$(cat "$T/last.out")"
check_status "pa approves the root" 0 sti-pa ca add "$T/root.pem" --dir "$D"
check_status "verify: anchors from the CA list URL" 0 sti verify $LIST_ARGS \
    --ca-list "$CALIST_URL" --pa-cert "$D/pa.crt" --crl-ca-file "$D/tls.crt" \
    "$V0"
check_status "verify: the PA certificate also checks the CRL" 0 sti verify \
    $LIST_ARGS --ca-list "$CALIST_URL" --pa-cert "$D/pa.crt" \
    --crl "$CRL_URL" --crl-ca-file "$D/tls.crt" "$V0"
curl -s --cacert "$D/tls.crt" -o "$T/calist.json" "$CALIST_URL"
check_status "verify: anchors from a CA list file" 0 sti verify $LIST_ARGS \
    --ca-list "$T/calist.json" --pa-cert "$D/pa.crt" "$V0"
check_status "verify: CA list signed by another key" 3 sti verify $LIST_ARGS \
    --ca-list "$T/calist.json" --pa-cert "$T/root.pem" "$V0"
check_contains "verify: the bad CA list is named" "CA list $T/calist.json" \
    "$(cat "$T/last.err")"
# The PA's header and signature around another valid payload.
FORGED=$(printf '{"expires":4102444800,"issued":1,"roots":[],"version":9}' |
    base64 -w0 | tr '+/' '-_' | tr -d '=')
sed "s/\"caList\":\"\([^.]*\)\.[^.]*\./\"caList\":\"\1.$FORGED./" \
    "$T/calist.json" >"$T/calist-changed.json"
check_status "verify: changed CA list payload" 3 sti verify $LIST_ARGS \
    --ca-list "$T/calist-changed.json" --pa-cert "$D/pa.crt" "$V0"
check_contains "verify: the changed payload fails the signature" \
    "not signed by the PA" "$(cat "$T/last.err")"
check_status "verify: CA list URL without its TLS trust" 3 sti verify \
    $LIST_ARGS --ca-list "$CALIST_URL" --pa-cert "$D/pa.crt" "$V0"
check_contains "verify: the CA list URL is named" "$CALIST_URL" \
    "$(cat "$T/last.err")"
check_status "verify: --ca-list without --pa-cert" 2 sti verify $LIST_ARGS \
    --ca-list "$T/calist.json" "$V0"
check_status "verify: --pa-cert without --ca-list" 2 sti verify $LIST_ARGS \
    --ca-file "$T/root.pem" --pa-cert "$D/pa.crt" "$V0"
check_status "serve: --ca-list without --pa-cert" 2 sti serve \
    --ca-list "$CALIST_URL" --listen 127.0.0.1:0
start_service list "$T/list.port" sti serve --ca-list "$CALIST_URL" \
    --pa-cert "$D/pa.crt" --crl-ca-file "$D/tls.crt" \
    --x5u-ca-file "$T/cr/tls-cert.pem" --allow-any-port \
    --listen 127.0.0.1:0 --no-access-log --port-file "$T/list.port"
LIST_PID=$!
URL="http://127.0.0.1:$PORT"
check_contains "serve: anchors from the CA list URL" "TN-Validation-Passed" \
    "$(verify "$V0")"
kill -HUP "$LIST_PID"
i=0
while [ $i -lt 50 ] &&
    ! grep -q "reloaded the trust anchors" "$T/list.log"; do
    sleep 0.1
    i=$((i + 1))
done
check_contains "serve: SIGHUP fetches the CA list again" \
    "reloaded the trust anchors" "$(cat "$T/list.log")"
check_contains "serve: still passes after the reload" "TN-Validation-Passed" \
    "$(verify "$V0")"

serve_args="--ca-file $T/root.pem --crl $CRL_URL --crl-ca-file $D/tls.crt
    --crl-signer $D/pa.crt --x5u-ca-file $T/cr/tls-cert.pem --allow-any-port
    --listen 127.0.0.1:0 --no-access-log"

# --- the timer: --crl-refresh 1 fetches the CRL every second
start_service timer "$T/timer.port" sti serve $serve_args \
    --port-file "$T/timer.port" --crl-refresh 1
URL="http://127.0.0.1:$PORT"
V1=$(sign "$T/leaf1.key" "$X5U_BASE/leaf1.pem")
check_contains "leaf 1 passes before revocation" "TN-Validation-Passed" \
    "$(verify "$V1")"
check_status "revoke leaf 1 at the PA" 0 sti-pa revoke --dir "$D" \
    --cert "$T/leaf1.pem" --reason keyCompromise
if wait_revoked "$V1"; then
    ok "the timer brings the revocation in"
else
    fail "leaf 1 still verifies after the refresh: $(cat "$T/body")"
fi
check_contains "revocation is 437" '"reasoncode":437' "$(cat "$T/body")"
check_contains "timer reload logged" "reloaded the CRL" "$(cat "$T/timer.log")"

# --- SIGHUP: with the timer off the CRL changes only on SIGHUP
start_service hup "$T/hup.port" sti serve $serve_args \
    --port-file "$T/hup.port" --crl-refresh 0
HUP_PID=$!
URL="http://127.0.0.1:$PORT"
V2=$(sign "$T/leaf2.key" "$X5U_BASE/leaf2.pem")
check_contains "leaf 2 passes before revocation" "TN-Validation-Passed" \
    "$(verify "$V2")"
check_status "revoke leaf 2 at the PA" 0 sti-pa revoke --dir "$D" \
    --cert "$T/leaf2.pem" --reason keyCompromise
sleep 1.5
check_contains "no refresh without the timer" "TN-Validation-Passed" \
    "$(verify "$V2")"
kill -HUP "$HUP_PID"
if wait_revoked "$V2"; then
    ok "SIGHUP brings the revocation in"
else
    fail "leaf 2 still verifies after SIGHUP: $(cat "$T/body")"
fi
check_contains "SIGHUP reload logged" "reloaded the trust anchors and CRL" \
    "$(cat "$T/hup.log")"

# --- sti verify reads the same CRL URL, trusting the PA's TLS certificate
VERIFY="--ca-file $T/root.pem --crl $CRL_URL --crl-signer $D/pa.crt
    --x5u-ca-file $T/cr/tls-cert.pem --allow-any-port"
check_status "verify: https CRL without --crl-ca-file" 3 sti verify $VERIFY \
    "$V2"
check_contains "verify: CRL fetch error names the URL" "$CRL_URL" \
    "$(cat "$T/last.err")"
check_status "verify: --crl-ca-file trusts the PA" 1 sti verify $VERIFY \
    --crl-ca-file "$D/tls.crt" "$V2"
check_contains "verify: CRL from the URL revokes leaf 2" "revoked" \
    "$(cat "$T/last.out")"
check_status "verify: --crl-ca-file without a CRL URL" 2 sti verify \
    --ca-file "$T/root.pem" --crl-ca-file "$D/tls.crt" "$V2"

stop_services
if grep -q 'Sanitizer\|runtime error' "$T"/timer.log "$T"/hup.log \
    "$T"/list.log; then
    fail "sanitizer report in a sti serve log"
else
    ok "sti serve logs clean"
fi
finish
