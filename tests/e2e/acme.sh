#!/bin/sh
# End to end over HTTPS on 127.0.0.1: sti acme logs in to sti-pa, gets an
# SPC token, obtains a certificate from sti-ca serve, and sti-ca publishes
# the chain on sti-cr, whose x5u URL then serves it.
. "${STI_ROOT:-.}/tests/e2e/lib.sh"

PA_PASSWORD=e2e-acme-password
export PA_PASSWORD

# STI-PA with one provider and its API user.  Tokens live 400 days so the
# certificate's 365 days end before the token does.
sti-pa init --dir "$T/pa" --token-lifetime 34560000 >"$T/pa-init.out" 2>&1 ||
    { cat "$T/pa-init.out"; exit 1; }
sti-pa sp add --dir "$T/pa" --spc 1234 --name "Example Telecom" >/dev/null
sti-pa user add --dir "$T/pa" --spc 1234 --name alice \
    --password env:PA_PASSWORD >/dev/null
start_service pa "$T/pa.port" sti-pa serve --dir "$T/pa" \
    --listen 127.0.0.1:0 --port-file "$T/pa.port"
PA_URL="https://127.0.0.1:$PORT"

# STI-CR with an API token for the CA.
sti-cr init --dir "$T/cr" >/dev/null
sti-cr token add --dir "$T/cr" --name sti-ca >"$T/cr.token"
chmod 600 "$T/cr.token"
start_service cr "$T/cr.port" sti-cr serve --dir "$T/cr" \
    --listen 127.0.0.1:0 --port-file "$T/cr.port"
CR_URL="https://127.0.0.1:$PORT"

# STI-CA; serve makes its own TLS certificate for 127.0.0.1 on first start.
sti-ca init --dir "$T/ca" --org "Lab CA" \
    --crl-url http://127.0.0.1/sti-pa.crl \
    --crl-issuer-cert "$T/pa/pa.crt" >/dev/null
start_service ca "$T/ca.port" sti-ca serve --dir "$T/ca" \
    --listen 127.0.0.1:0 --port-file "$T/ca.port" \
    --token-authority "$T/pa/pa.crt" --token-authority-url "$PA_URL" \
    --cr "$CR_URL" --cr-token "file:$T/cr.token" \
    --cr-ca-file "$T/cr/tls-cert.pem"
CA_URL="https://127.0.0.1:$PORT"
DIRECTORY="$CA_URL/acme/directory"
cat "$T/pa/tls.crt" "$T/ca/tls.crt" >"$T/trust.pem"
check_eq "sti-ca serve TLS key mode" 600 "$(stat -c %a "$T/ca/tls.key")"

# newNonce returns a nonce to HEAD, marked so that no cache keeps it.
headers=$(curl -sS -I --cacert "$T/ca/tls.crt" "$CA_URL/acme/new-nonce")
check_contains "newNonce HEAD status" " 200" "$headers"
check_contains "newNonce Replay-Nonce" "eplay-" "$headers"
check_contains "newNonce no-store" "no-store" "$headers"
status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$T/ca/tls.crt" \
    "$CA_URL/acme/new-nonce")
check_eq "newNonce GET status" 204 "$status"

obtain() {
    sti acme --directory "$DIRECTORY" --pa "$PA_URL" --user alice \
        --password env:PA_PASSWORD --spc 1234 \
        --organization "Example Telecom" --account-key "$T/account.key" \
        --ca-file "$T/trust.pem" --timeout 30 "$@"
}

check_status "sti acme obtains a certificate" 0 \
    obtain --key "$T/sp.key" --chain "$T/sp.pem" --summary "$T/summary.json"
check_eq "certificate key mode" 600 "$(stat -c %a "$T/sp.key")"
check_eq "account key mode" 600 "$(stat -c %a "$T/account.key")"
check_eq "chain has leaf and intermediate" 2 \
    "$(grep -c 'BEGIN CERTIFICATE' "$T/sp.pem")"
check_status "certificate lints clean" 0 sti lint "$T/sp.pem"
subject=$(openssl x509 -in "$T/sp.pem" -noout -subject)
check_contains "leaf CN" "SHAKEN 1234" "$subject"
check_contains "leaf O from the CSR" "Example Telecom" "$subject"

summary=$(cat "$T/summary.json")
x5u=$(sed -n 's/.*"x5u": *"\([^"]*\)".*/\1/p' "$T/summary.json")
check_contains "summary names the x5u" "$CR_URL/certs/1234-" "$x5u"
curl -sS --cacert "$T/cr/tls-cert.pem" -D "$T/x5u.headers" \
    -o "$T/x5u.pem" "$x5u"
check_contains "x5u content type" "application/pem-certificate-chain" \
    "$(cat "$T/x5u.headers")"
check_eq "x5u serves the leaf" \
    "$(openssl x509 -in "$T/sp.pem" -noout -fingerprint -sha256)" \
    "$(openssl x509 -in "$T/x5u.pem" -noout -fingerprint -sha256)"
check_eq "x5u serves the whole chain" 2 \
    "$(grep -c 'BEGIN CERTIFICATE' "$T/x5u.pem")"
check_status "sti-ca list shows the certificate" 0 sti-ca list --dir "$T/ca"
check_contains "castore records the SP certificate" "1234" \
    "$(cat "$T/last.out")"

# A second run reuses the account key and so the account.
account=$(sed -n 's/.*"account": *"\([^"]*\)".*/\1/p' "$T/summary.json")
check_contains "summary names the account" "/acme/acct/" "$account"
if [ -n "${account##*/}" ]; then ok "account id present"; else
    fail "account URL '$account' has no id"; fi
check_status "second run with the same account" 0 \
    obtain --key "$T/sp2.key" --chain "$T/sp2.pem" --summary "$T/summary2.json"
check_contains "same account URL" "$account" "$(cat "$T/summary2.json")"

# SIGTERM stops the CA cleanly, and a restart keeps the account.
ca_pid=${service_pids##* }
kill -TERM "$ca_pid"
wait "$ca_pid"
check_eq "sti-ca serve exits 0 on SIGTERM" 0 "$?"
service_pids=${service_pids% *}
start_service ca2 "$T/ca.port" sti-ca serve --dir "$T/ca" \
    --listen 127.0.0.1:0 --port-file "$T/ca.port" \
    --token-authority "$T/pa/pa.crt" --token-authority-url "$PA_URL" \
    --cr "$CR_URL" --cr-token "file:$T/cr.token" \
    --cr-ca-file "$T/cr/tls-cert.pem"
DIRECTORY="https://127.0.0.1:$PORT/acme/directory"
check_status "third run after a CA restart" 0 \
    obtain --key "$T/sp3.key" --chain "$T/sp3.pem" --summary "$T/summary3.json"
check_contains "account survives the restart" "/acme/acct/${account##*/}" \
    "$(cat "$T/summary3.json")"

# Failures come with an exit code and a message that names the cause.
check_status "existing --key is a usage error" 2 \
    obtain --key "$T/sp.key" --chain "$T/sp6.pem"
check_contains "existing --key message" "exists" "$(cat "$T/last.err")"
echo wrong-password >"$T/wrong.pw"
check_status "wrong STI-PA password fails" 1 \
    obtain --key "$T/sp4.key" --chain "$T/sp4.pem" --password "file:$T/wrong.pw"
check_contains "wrong password message" "SPC token" "$(cat "$T/last.err")"
check_status "untrusted CA TLS fails" 1 \
    sti acme --directory "$DIRECTORY" --token env:PA_PASSWORD --spc 1234 \
    --organization "Example Telecom" --account-key "$T/account.key" \
    --key "$T/sp5.key" --chain "$T/sp5.pem" --timeout 5
check_status "missing options are a usage error" 2 sti acme --spc 1234
check_status "sti acme --help" 0 sti acme --help
check_status "sti-ca serve --help" 0 sti-ca serve --help
check_status "sti-ca serve without authority" 2 \
    sti-ca serve --dir "$T/ca" --http
echo MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY >"$T/eab.key"
check_status "sti-ca serve --add-eab" 0 \
    sti-ca serve --dir "$T/ca" --add-eab lab-1 --hmac-key "file:$T/eab.key"
check_status "the same EAB key id twice fails" 1 \
    sti-ca serve --dir "$T/ca" --add-eab lab-1 --hmac-key "file:$T/eab.key"
check_contains "duplicate EAB message" "exists" "$(cat "$T/last.err")"

finish
