#!/bin/sh
# sti-cr end to end: the publishing API with client certificates
# (serve --client-ca, sti-cr client) next to bearer tokens.
. "$(dirname "$0")/lib.sh"

D="$T/cr"
DATA="$STI_ROOT/tests/data/repo"
P="$T/pki"
CA="$D/tls-cert.pem"

# http_status METHOD URL [CURL_ARGS...]: prints the status code.
http_status() {
    m=$1
    u=$2
    shift 2
    : >"$T/body"
    curl -s -o "$T/body" -w '%{http_code}' --cacert "$CA" -X "$m" "$@" "$u"
}

# as NAME: curl options that present the client certificate NAME.
as() { echo "--cert $P/$1.pem --key $P/$1.key"; }

sha256_of() {
    openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -c1-64
}

sh "$STI_ROOT/tests/data/httpd/make-client-certs.sh" "$P"
sti-cr init --dir "$D" >/dev/null
sti-cr publish --dir "$D" "$DATA/good.pem" --name sp1 >/dev/null
TOKEN=$(sti-cr token add --dir "$D" --name ci)

# --- sti-cr client
check_status "client --help" 0 sti-cr client --help
check_status "client add needs --cert" 2 sti-cr client add --dir "$D"
check_status "client add rejects a bad name" 2 \
    sti-cr client add --dir "$D" --cert "$P/client.pem" --name ../x
check_status "client add" 0 \
    sti-cr client add --dir "$D" --cert "$P/client.pem" --name pub1
check_contains "client add names the client" "registered client pub1" \
    "$(cat "$T/last.out")"
check_status "client add twice" 1 \
    sti-cr client add --dir "$D" --cert "$P/client.pem" --name pub9
check_contains "duplicate certificate explained" "registered already" \
    "$(cat "$T/last.err")"
check_status "client add rejects an expired certificate" 1 \
    sti-cr client add --dir "$D" --cert "$P/expired.pem"
check_contains "expiry named" "expired on 2021-01-01" "$(cat "$T/last.err")"
check_status "client add rejects a key" 1 \
    sti-cr client add --dir "$D" --cert "$P/client.key"
SHA=$(sha256_of "$P/client.pem")
check_contains "client list shows the SHA-256" "$SHA" \
    "$(sti-cr client list --dir "$D" | grep '^pub1 ')"
check_eq "client list --json" "pub1 $SHA" \
    "$(sti-cr client list --dir "$D" --json |
        jq -r '.clients[0] | .name + " " + .sha256')"
check_status "serve rejects --client-ca with --plain-http" 2 \
    sti-cr serve --dir "$D" --plain-http --client-ca "$P/client-ca.pem"
check_status "serve names a missing client CA" 1 \
    sti-cr serve --dir "$D" --listen 127.0.0.1:0 --client-ca "$T/nope.pem"
check_contains "missing client CA named" "$T/nope.pem" "$(cat "$T/last.err")"

# --- serve with --client-ca
start_service cr "$T/port" sti-cr serve --dir "$D" --listen 127.0.0.1:0 \
    --port-file "$T/port" --client-ca "$P/client-ca.pem" --sync-ms 100
U="https://127.0.0.1:$PORT"
A="$U/api/v1/chains"

# shellcheck disable=SC2046
check_eq "registered certificate publishes" 201 \
    "$(http_status PUT "$A/sp2" $(as client) --data-binary @"$DATA/good2.pem")"
# shellcheck disable=SC2046
check_eq "registered certificate lists" 200 "$(http_status GET "$A" $(as client))"
check_contains "list has sp2" '"name": "sp2"' "$(cat "$T/body")"
# shellcheck disable=SC2046
check_eq "unregistered certificate" 403 \
    "$(http_status PUT "$A/sp3" $(as client2) --data-binary @"$DATA/good.pem")"
check_contains "403 names the certificate" "$(sha256_of "$P/client2.pem")" \
    "$(cat "$T/body")"
check_contains "403 is a JSON error" '"status":"error"' "$(cat "$T/body")"
# shellcheck disable=SC2046
check_eq "certificate of another CA" 401 \
    "$(http_status PUT "$A/sp3" $(as other) --data-binary @"$DATA/good.pem")"
check_contains "another CA explained" "unable to get local issuer" \
    "$(cat "$T/body")"
# shellcheck disable=SC2046
check_eq "expired certificate" 401 \
    "$(http_status DELETE "$A/sp2" $(as expired))"
check_contains "expiry explained" "certificate has expired" "$(cat "$T/body")"
# shellcheck disable=SC2046
check_eq "certificate for servers only" 401 \
    "$(http_status GET "$A" $(as server))"
check_contains "purpose explained" "unsuitable certificate purpose" \
    "$(cat "$T/body")"
check_eq "chain kept after rejected requests" 200 \
    "$(http_status GET "$U/certs/sp2.pem")"
check_eq "no certificate and no token" 401 \
    "$(http_status PUT "$A/sp3" --data-binary @"$DATA/good.pem")"
check_contains "missing credentials explained" "Authorization: Bearer" \
    "$(cat "$T/body")"
check_eq "token still works" 201 \
    "$(http_status PUT "$A/sp3" -H "Authorization: Bearer $TOKEN" \
        --data-binary @"$DATA/good.pem")"
# shellcheck disable=SC2046
check_eq "wrong token beside an unregistered certificate" 401 \
    "$(http_status GET "$A" $(as client2) -H "Authorization: Bearer nope")"
# shellcheck disable=SC2046
check_eq "GET of a chain with a rejected certificate" 200 \
    "$(http_status GET "$U/certs/sp1.pem" $(as other))"
check_eq "GET of a chain without a certificate" 200 \
    "$(http_status GET "$U/certs/sp1.pem")"

# Removal takes effect at the next request: the store is read per request.
check_status "client remove" 0 sti-cr client remove --dir "$D" pub1
# shellcheck disable=SC2046
check_eq "removed certificate" 403 \
    "$(http_status DELETE "$A/sp2" $(as client))"
check_status "client add client2" 0 \
    sti-cr client add --dir "$D" --cert "$P/client2.pem"
check_contains "default name from the SHA-256" \
    "cert-$(sha256_of "$P/client2.pem" | cut -c1-16)" "$(cat "$T/last.out")"
# shellcheck disable=SC2046
check_eq "newly registered certificate deletes" 200 \
    "$(http_status DELETE "$A/sp2" $(as client2))"
check_status "client remove by SHA-256" 0 \
    sti-cr client remove --dir "$D" "$(sha256_of "$P/client2.pem")"
check_status "client remove unknown" 1 sti-cr client remove --dir "$D" pub1
check_eq "client list is empty" 0 \
    "$(sti-cr client list --dir "$D" --json | jq '.clients | length')"
stop_services

LOG=$(cat "$T/cr.log")
check_contains "access log line of the certificate publish" \
    "PUT /api/v1/chains/sp2 201 " "$LOG"
check_contains "certificate auth logged" "auth=cert:pub1" "$LOG"
check_contains "token auth logged" "auth=token:ci" "$LOG"
check_contains "unregistered certificate logged" "auth=cert-unregistered" "$LOG"
check_contains "invalid certificate logged" "auth=cert-invalid" "$LOG"
case "$LOG" in
*"$TOKEN"*) fail "the token appears in the log" ;;
*) ok "the token stays out of the log" ;;
esac

# --- without --client-ca the server ignores client certificates
sti-cr client add --dir "$D" --cert "$P/client.pem" --name pub1 >/dev/null
start_service cr2 "$T/port2" sti-cr serve --dir "$D" --listen 127.0.0.1:0 \
    --port-file "$T/port2"
# shellcheck disable=SC2046
check_eq "certificate ignored without --client-ca" 401 \
    "$(http_status GET "https://127.0.0.1:$PORT/api/v1/chains" $(as client))"
stop_services

# --- client_ca in sti-cr.conf, relative to the directory
cp "$P/client-ca.pem" "$D/client-ca.pem"
echo "client_ca = client-ca.pem" >>"$D/sti-cr.conf"
start_service cr3 "$T/port3" sti-cr serve --dir "$D" --listen 127.0.0.1:0 \
    --port-file "$T/port3"
# shellcheck disable=SC2046
check_eq "client_ca from sti-cr.conf" 200 \
    "$(http_status GET "https://127.0.0.1:$PORT/api/v1/chains" $(as client))"
stop_services

finish
