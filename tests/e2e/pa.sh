#!/bin/sh
# sti-pa end to end over real HTTPS on 127.0.0.1: login, SPC tokens, the CA
# list, revocation and CRL download with bad input on every endpoint; a
# certificate revoked through the PA fails `openssl verify -extended_crl`;
# a restart loses nothing; an access token expires.
. "$(dirname "$0")/lib.sh"

D=$T/pa
TK1234=MAigBhYEMTIzNA== # TNAuthList with SPC 1234
TK818H=MAigBhYEODE4SA== # TNAuthList with SPC 818H

# A CA root, an intermediate and two SHAKEN leaves made with the openssl
# CLI; the leaves name the PA as cRLIssuer of their distribution point.
make_pki() {
    cat >"$T/ext.cnf" <<EOF
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = crldp
[crldp]
fullname = URI:http://127.0.0.1/api/v1/crl
CRLissuer = dirName:pa_dn
[pa_dn]
C = US
O = Test PA
CN = SHAKEN PA ROOT
EOF
    for k in root inter leaf1 leaf2; do
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -out "$T/$k.key" 2>/dev/null
    done
    openssl req -new -x509 -key "$T/root.key" -subj "/C=US/O=Test CA/CN=SHAKEN ROOT" \
        -days 30 -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$T/root.pem"
    openssl req -new -key "$T/inter.key" -subj "/C=US/O=Test CA/CN=SHAKEN CA" |
        openssl x509 -req -CA "$T/root.pem" -CAkey "$T/root.key" \
            -CAcreateserial -days 30 -extfile "$T/ext.cnf" -extensions ca \
            -out "$T/inter.pem" 2>/dev/null
    for k in leaf1 leaf2; do
        openssl req -new -key "$T/$k.key" -subj "/C=US/O=Carrier/CN=SHAKEN 1234" |
            openssl x509 -req -CA "$T/inter.pem" -CAkey "$T/inter.key" \
                -CAcreateserial -days 30 -extfile "$T/ext.cnf" \
                -extensions leaf -out "$T/$k.pem" 2>/dev/null
    done
}

# api NAME METHOD PATH [CURL ARGS...]: runs one request; sets $CODE and
# leaves the body in $T/body.
api() {
    name=$1
    method=$2
    path=$3
    shift 3
    CODE=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$D/tls.crt" \
        -X "$method" "$@" "$URL$path")
}

# expect NAME CODE METHOD PATH [CURL ARGS...]: the request returns CODE
# with a JSON error body when CODE is 4xx.
expect() {
    ename=$1
    ecode=$2
    shift 2
    api "$ename" "$@"
    check_eq "$ename: status" "$ecode" "$CODE"
    case "$ecode" in
    4*) check_contains "$ename: error body" '"status":"error"' "$(cat "$T/body")" ;;
    esac
}

json_field() { # json_field NAME < body: a string member's value
    sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

start_pa() {
    start_service pa "$T/port" sti-pa serve --dir "$D" \
        --listen 127.0.0.1:0 --port-file "$T/port"
    URL="https://127.0.0.1:$PORT"
}

# Stops the servers and fails on sanitizer reports in their logs.
stop_pa() {
    stop_services
    if grep -q 'Sanitizer\|runtime error' "$T"/pa*.log; then
        fail "sanitizer report in the server log: $(grep -h -m3 'ERROR\|runtime error' "$T"/pa*.log)"
    else
        ok "server log clean"
    fi
}

login() { # login USER PASSWORD: prints the access token
    curl -s --cacert "$D/tls.crt" -X POST \
        -d "{\"username\":\"$1\",\"password\":\"$2\"}" \
        "$URL/api/v1/auth/login" | json_field accessToken
}

make_pki
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$T/account.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$T/other.key" 2>/dev/null
# The account key's fingerprint as ACME clients send it: SHA-256 of the
# SubjectPublicKeyInfo DER, uppercase hex with colons.
FP="SHA256 $(openssl pkey -in "$T/account.key" -pubout -outform DER |
    openssl dgst -sha256 -c | sed 's/.*= //' | tr a-f A-F)"
check_status "init under the CA root" 0 sti-pa init --dir "$D" \
    --org "Test PA" --root-cert "$T/root.pem" --root-key "$T/root.key"
check_status "init twice fails" 1 sti-pa init --dir "$D"
check_status "help" 0 sti-pa --help
check_status "unknown command" 2 sti-pa frobnicate
check_status "sp add" 0 sti-pa sp add --dir "$D" --spc 1234 --name "Carrier A"
check_status "sp add delegation" 0 sti-pa sp add --dir "$D" --spc 818H \
    --name "Carrier B" --delegation
check_status "sp add 5678" 0 sti-pa sp add --dir "$D" --spc 5678 --name C
check_status "sp add bad SPC" 2 sti-pa sp add --dir "$D" --spc 12-4 --name X
check_status "sp disable" 0 sti-pa sp disable 5678 --dir "$D"
printf 'alice password\n' >"$T/alice.pw"
printf 'admin password\n' >"$T/admin.pw"
check_status "user add" 0 sti-pa user add --dir "$D" --spc 1234 \
    --name alice --password "file:$T/alice.pw"
check_status "user add for 5678" 0 sti-pa user add --dir "$D" --spc 5678 \
    --name carol --password "file:$T/alice.pw"
check_status "admin add" 0 sti-pa admin add --dir "$D" --name root \
    --password "file:$T/admin.pw"
check_status "password on argv rejected" 2 sti-pa user add --dir "$D" \
    --spc 1234 --name bob --password secret12
check_status "ca add" 0 sti-pa ca add "$T/root.pem" --dir "$D"
check_status "ca add leaf rejected" 1 sti-pa ca add "$T/leaf1.pem" --dir "$D"
check_status "CLI token" 0 sti-pa token --dir "$D" --spc 1234 \
    --fingerprint "$FP" --base-url https://pa.example
check_status "CLI token ca:true refused" 1 sti-pa token --dir "$D" \
    --spc 1234 --fingerprint "$FP" --ca --base-url https://pa.example
if grep -q "BEGIN PRIVATE KEY" "$D/pa.conf" || [ "$(stat -c %a "$D/pa.key")" != 600 ]; then
    fail "key file mode or config content"
else
    ok "key file is 0600"
fi

# Invalid option values exit 2 with a message that names the command, the
# value and the fix; init leaves nothing behind.
check_status "init bad base URL scheme" 2 sti-pa init --dir "$T/pb" \
    --base-url ftp://x
check_contains "bad base URL named" "sti-pa init: invalid base URL 'ftp://x'" \
    "$(cat "$T/last.err")"
check_status "init base URL with userinfo" 2 sti-pa init --dir "$T/pb" \
    --base-url 'https://u:p@x/?q#f'
check_status "init bad listen" 2 sti-pa init --dir "$T/pb" --listen nope
check_contains "bad listen named" "'nope'; use HOST:PORT" "$(cat "$T/last.err")"
check_contains "command help named" "Try 'sti-pa init --help'" \
    "$(cat "$T/last.err")"
check_status "init bad country" 2 sti-pa init --dir "$T/pb" --country usa
check_status "init empty org" 2 sti-pa init --dir "$T/pb" --org ''
check_status "init CN without SHAKEN" 2 sti-pa init --dir "$T/pb" --cn PA
if [ -e "$T/pb" ]; then fail "a failed init left $T/pb"; else ok "failed init leaves nothing"; fi
check_status "sp add non-UTF-8 name" 2 sti-pa sp add --dir "$D" --spc 7781 \
    --name "$(printf '\377\376')"
check_contains "bad name named" "sti-pa sp: cannot add the provider: invalid provider name" \
    "$(cat "$T/last.err")"
check_status "sp add ESC in name" 2 sti-pa sp add --dir "$D" --spc 7781 \
    --name "$(printf 'a\033[31m')"
check_status "user add non-UTF-8 name" 2 sti-pa user add --dir "$D" \
    --spc 1234 --name "$(printf '\377')" --password "file:$T/alice.pw"
check_status "sp list --json" 0 sti-pa sp list --dir "$D" --json
check_status "ca remove short prefix" 2 sti-pa ca remove 1234567 --dir "$D"
check_status "revoke bad serial" 2 sti-pa revoke --dir "$D" --issuer CN=X \
    --serial zz
check_status "revoke serial zero" 2 sti-pa revoke --dir "$D" --issuer CN=X \
    --serial 00
check_contains "serial zero named" "invalid serial '00'" "$(cat "$T/last.err")"
check_status "revoke bad issuer" 2 sti-pa revoke --dir "$D" \
    --issuer garbage --serial 01
check_status "revoke removeFromCRL" 2 sti-pa revoke --dir "$D" \
    --issuer CN=X --serial 01 --reason removeFromCRL
check_contains "removeFromCRL named" "removeFromCRL, which only delta CRLs" \
    "$(cat "$T/last.err")"
check_status "serve bad listen" 2 sti-pa serve --dir "$D" --listen bogus
check_status "token bad base URL" 2 sti-pa token --dir "$D" --spc 1234 \
    --fingerprint "$FP" --base-url 'https://x/?q'
check_status "token without base URL" 2 sti-pa token --dir "$D" --spc 1234 \
    --fingerprint "$FP"
check_contains "--base-url suggested" "--base-url" "$(cat "$T/last.err")"
LOWER_FP="SHa256 $(printf %s "$FP" | cut -c8- | tr A-F a-f)"
check_status "CLI token mixed-case fingerprint" 0 sti-pa token --dir "$D" \
    --spc 1234 --fingerprint "$LOWER_FP" --base-url https://pa.example \
    --out "$T/mixed.jwt"
check_status "mixed-case token verifies" 0 sti-pa token --verify \
    "$T/mixed.jwt" --pa-cert "$D/pa.crt" --account-key "$T/account.key"
check_contains "fingerprint normalised" "fingerprint $FP" "$(cat "$T/last.out")"

start_pa

# The PA certificate, at the URL that tokens name.
expect "pa.crt" 200 GET /pa.crt
check_eq "pa.crt body" "$(cat "$D/pa.crt")" "$(cat "$T/body")"
expect "unknown path" 404 GET /nothing
expect "wrong method" 405 DELETE /api/v1/crl
check_eq "405 lists HEAD" "Allow: GET, HEAD" "$(curl -s -D - -o /dev/null \
    --cacert "$D/tls.crt" -X DELETE "$URL/api/v1/crl" | tr -d '\r' |
    grep -i '^allow:')"
for p in /api/v1/crl /api/v1/ca-list /pa.crt; do
    check_eq "HEAD $p" 200 "$(curl -s -I -o /dev/null -w '%{http_code}' \
        --cacert "$D/tls.crt" "$URL$p")"
done

# Login.
expect "login" 200 POST /api/v1/auth/login \
    -d '{"username":"alice","password":"alice password"}'
TOKEN=$(json_field accessToken <"$T/body")
check_contains "login expiresAt" '"expiresAt":"' "$(cat "$T/body")"
check_contains "login expires_in" '"expires_in":3600' "$(cat "$T/body")"
expect "login wrong password" 401 POST /api/v1/auth/login \
    -d '{"username":"alice","password":"wrong password"}'
cp "$T/body" "$T/wrong.body"
expect "login unknown user" 401 POST /api/v1/auth/login \
    -d '{"username":"nobody","password":"wrong password"}'
check_eq "same answer for unknown users" "$(cat "$T/wrong.body")" "$(cat "$T/body")"
expect "login malformed JSON" 400 POST /api/v1/auth/login -d '{"username":'
check_contains "malformed JSON named" "malformed JSON" "$(cat "$T/body")"
expect "login wrong types" 400 POST /api/v1/auth/login \
    -d '{"username":1,"password":"x"}'
check_contains "wrong type named" "username" "$(cat "$T/body")"
expect "login not an object" 400 POST /api/v1/auth/login -d '[1,2]'
expect "login empty body" 400 POST /api/v1/auth/login
head -c 100000 /dev/zero | tr '\0' 'a' >"$T/big"
expect "login oversized body" 413 POST /api/v1/auth/login \
    --data-binary "@$T/big"
expect "login GET" 405 GET /api/v1/auth/login

# SPC tokens.
AUTH="Authorization: Bearer $TOKEN"
ATC="{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"$TK1234\",\"ca\":false,\"fingerprint\":\"$FP\"}}"
expect "token" 200 POST /api/v1/account/1234/token -H "$AUTH" -d "$ATC"
check_contains "token status" '"status":"success"' "$(cat "$T/body")"
check_contains "token crl" "\"crl\":\"$URL/api/v1/crl\"" "$(cat "$T/body")"
JWT=$(json_field token <"$T/body")
PAYLOAD=$(printf %s "$JWT" | cut -d. -f2 | tr '_-' '/+')
while [ $((${#PAYLOAD} % 4)) -ne 0 ]; do PAYLOAD="$PAYLOAD="; done
PAYLOAD=$(printf %s "$PAYLOAD" | base64 -d)
HEADER=$(printf %s "$JWT" | cut -d. -f1 | tr '_-' '/+')
while [ $((${#HEADER} % 4)) -ne 0 ]; do HEADER="$HEADER="; done
HEADER=$(printf %s "$HEADER" | base64 -d)
check_eq "token header" "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"x5u\":\"$URL/pa.crt\"}" "$HEADER"
check_contains "token atc" "{\"atc\":{\"ca\":false,\"fingerprint\":\"$FP\",\"tktype\":\"TNAuthList\",\"tkvalue\":\"$TK1234\"},\"exp\":" "$PAYLOAD"
check_contains "token jti" '"jti":"' "$PAYLOAD"
printf '%s\n' "$JWT" >"$T/token.jwt"
check_status "libsti verifies the token" 0 sti-pa token --verify "$T/token.jwt" \
    --pa-cert "$D/pa.crt" --spc 1234 --account-key "$T/account.key" \
    --x5u "$URL/pa.crt"
check_contains "verified claims" "spc 1234" "$(cat "$T/last.out")"
check_status "token for another account key" 1 sti-pa token --verify \
    "$T/token.jwt" --pa-cert "$D/pa.crt" --account-key "$T/other.key"
check_status "token from another signer" 1 sti-pa token --verify \
    "$T/token.jwt" --pa-cert "$T/root.pem"
check_status "token for another SPC" 1 sti-pa token --verify "$T/token.jwt" \
    --pa-cert "$D/pa.crt" --spc 818H
expect "token without access token" 401 POST /api/v1/account/1234/token -d "$ATC"
expect "token bad access token" 401 POST /api/v1/account/1234/token \
    -H "Authorization: Bearer bogus" -d "$ATC"
expect "token unknown SPC" 404 POST /api/v1/account/9999/token -H "$AUTH" -d "$ATC"
expect "token SPC of another provider" 403 POST /api/v1/account/818H/token \
    -H "$AUTH" -d "$ATC"
expect "token malformed JSON" 400 POST /api/v1/account/1234/token -H "$AUTH" \
    -d '{"atc":'
expect "token atc missing" 400 POST /api/v1/account/1234/token -H "$AUTH" -d '{}'
expect "token ca wrong type" 400 POST /api/v1/account/1234/token -H "$AUTH" \
    -d "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"$TK1234\",\"ca\":\"no\",\"fingerprint\":\"$FP\"}}"
check_contains "ca type named" "atc.ca" "$(cat "$T/body")"
expect "token tkvalue wrong type" 400 POST /api/v1/account/1234/token -H "$AUTH" \
    -d "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":5,\"ca\":false,\"fingerprint\":\"$FP\"}}"
expect "token tkvalue not base64" 400 POST /api/v1/account/1234/token -H "$AUTH" \
    -d "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"***\",\"ca\":false,\"fingerprint\":\"$FP\"}}"
expect "token tkvalue other SPC" 403 POST /api/v1/account/1234/token -H "$AUTH" \
    -d "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"$TK818H\",\"ca\":false,\"fingerprint\":\"$FP\"}}"
expect "token bad fingerprint" 400 POST /api/v1/account/1234/token -H "$AUTH" \
    -d "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"$TK1234\",\"ca\":false,\"fingerprint\":\"SHA256 12\"}}"
expect "token ca:true without delegation" 403 POST /api/v1/account/1234/token \
    -H "$AUTH" \
    -d "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"$TK1234\",\"ca\":true,\"fingerprint\":\"$FP\"}}"
expect "token oversized body" 413 POST /api/v1/account/1234/token -H "$AUTH" \
    --data-binary "@$T/big"
expect "token GET" 405 GET /api/v1/account/1234/token
CAROL=$(login carol "alice password")
expect "token disabled provider" 403 POST /api/v1/account/5678/token \
    -H "Authorization: Bearer $CAROL" \
    -d "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"MAigBhYENTY3OA==\",\"ca\":false,\"fingerprint\":\"$FP\"}}"
check_contains "disabled named" "disabled" "$(cat "$T/body")"

# The CA list.
expect "ca-list" 200 GET /api/v1/ca-list
cp "$T/body" "$T/calist.json"
check_status "ca-list verifies" 0 sti-pa calist --verify "$T/calist.json" \
    --pa-cert "$D/pa.crt" --out "$T/roots.pem"
check_contains "ca-list version" "version 1, 1 roots" "$(cat "$T/last.out")"
check_eq "ca-list root" "$(openssl x509 -in "$T/root.pem" -outform DER | sha256sum)" \
    "$(openssl x509 -in "$T/roots.pem" -outform DER | sha256sum)"
check_status "ca-list wrong signer" 1 sti-pa calist --verify "$T/calist.json" \
    --pa-cert "$T/root.pem"
expect "ca-list POST" 405 POST /api/v1/ca-list -d '{}'

# Revocation and the CRL.
expect "crl" 200 GET /api/v1/crl
cp "$T/body" "$T/crl0.der"
N0=$(openssl crl -inform DER -in "$T/crl0.der" -noout -crlnumber | sed 's/.*=0x//')
CT=$(curl -s -o /dev/null -w '%{content_type}' --cacert "$D/tls.crt" "$URL/api/v1/crl")
check_eq "crl content type" "application/pkix-crl" "$CT"
ADMIN=$(login root "admin password")
LEAF1=$(awk '{printf "%s\\n", $0}' "$T/leaf1.pem")
expect "revoke as provider user" 403 POST /api/v1/revocations -H "$AUTH" \
    -d "{\"certificate\":\"$LEAF1\"}"
expect "revoke without access token" 401 POST /api/v1/revocations \
    -d "{\"certificate\":\"$LEAF1\"}"
expect "revoke malformed JSON" 400 POST /api/v1/revocations \
    -H "Authorization: Bearer $ADMIN" -d '{"certificate":'
expect "revoke wrong types" 400 POST /api/v1/revocations \
    -H "Authorization: Bearer $ADMIN" -d '{"issuer":5,"serial":"01"}'
expect "revoke bad serial" 400 POST /api/v1/revocations \
    -H "Authorization: Bearer $ADMIN" -d '{"issuer":"CN=X","serial":"zz"}'
expect "revoke bad reason" 400 POST /api/v1/revocations \
    -H "Authorization: Bearer $ADMIN" \
    -d "{\"certificate\":\"$LEAF1\",\"reason\":\"bored\"}"
expect "revoke oversized body" 413 POST /api/v1/revocations \
    -H "Authorization: Bearer $ADMIN" --data-binary "@$T/big"
expect "revoke certificate" 201 POST /api/v1/revocations \
    -H "Authorization: Bearer $ADMIN" \
    -d "{\"certificate\":\"$LEAF1\",\"reason\":\"keyCompromise\"}"
expect "revoke twice" 409 POST /api/v1/revocations \
    -H "Authorization: Bearer $ADMIN" -d "{\"certificate\":\"$LEAF1\"}"
expect "revoke by issuer and serial" 201 POST /api/v1/revocations \
    -H "Authorization: Bearer $ADMIN" \
    -d '{"issuer":"CN=Other CA,O=Other,C=US","serial":"0A:1B"}'
expect "crl PEM by query" 200 GET "/api/v1/crl?format=pem"
cp "$T/body" "$T/crl.pem"
check_contains "crl is PEM" "BEGIN X509 CRL" "$(cat "$T/crl.pem")"
expect "crl PEM by Accept" 200 GET /api/v1/crl -H "Accept: application/x-pem-file"
check_contains "Accept gives PEM" "BEGIN X509 CRL" "$(cat "$T/body")"
expect "crl bad format" 400 GET "/api/v1/crl?format=xml"
N1=$(openssl crl -in "$T/crl.pem" -noout -crlnumber | sed 's/.*=0x//')
check_eq "CRL number grew by two" "$((0x$N0 + 2))" "$((0x$N1))"
check_contains "crl nextUpdate" "nextUpdate=" \
    "$(openssl crl -in "$T/crl.pem" -noout -nextupdate)"
cat "$T/inter.pem" "$D/pa.crt" >"$T/untrusted.pem"
check_status "revoked leaf fails openssl verify" 2 openssl verify -crl_check \
    -extended_crl -CAfile "$T/root.pem" -untrusted "$T/untrusted.pem" \
    -CRLfile "$T/crl.pem" "$T/leaf1.pem"
check_contains "openssl says revoked" "certificate revoked" \
    "$(cat "$T/last.out" "$T/last.err")"
check_status "good leaf passes openssl verify" 0 openssl verify -crl_check \
    -extended_crl -CAfile "$T/root.pem" -untrusted "$T/untrusted.pem" \
    -CRLfile "$T/crl.pem" "$T/leaf2.pem"

# Revocation from the CLI by issuer and serial; the server serves the
# new CRL at once.
SERIAL2=$(openssl x509 -in "$T/leaf2.pem" -noout -serial | sed 's/.*=//')
ISSUER2=$(openssl x509 -in "$T/leaf2.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')
check_status "CLI revoke" 0 sti-pa revoke --dir "$D" --issuer "$ISSUER2" \
    --serial "$SERIAL2" --reason superseded
check_status "CLI revoke usage" 2 sti-pa revoke --dir "$D" --serial 01
expect "crl after CLI revoke" 200 GET "/api/v1/crl?format=pem"
cp "$T/body" "$T/crl2.pem"
check_status "leaf2 now fails openssl verify" 2 openssl verify -crl_check \
    -extended_crl -CAfile "$T/root.pem" -untrusted "$T/untrusted.pem" \
    -CRLfile "$T/crl2.pem" "$T/leaf2.pem"

# Ten token requests at once: the store serialises them and records
# every jti.
i=0
pids=""
while [ $i -lt 10 ]; do
    curl -s -m 20 -o /dev/null -w '%{http_code}\n' --cacert "$D/tls.crt" \
        -H "$AUTH" -d "$ATC" "$URL/api/v1/account/1234/token" \
        >"$T/par.$i" &
    pids="$pids $!"
    i=$((i + 1))
done
for pid in $pids; do wait "$pid"; done
check_eq "parallel token requests" "10" "$(cat "$T"/par.* | grep -c '^200$')"

# Repeated failed logins are slowed down.
for i in 1 2 3 4 5; do
    api "failed login $i" POST /api/v1/auth/login \
        -d '{"username":"alice","password":"not it at all"}'
done
expect "sixth failed login throttled" 429 POST /api/v1/auth/login \
    -d '{"username":"alice","password":"alice password"}'

# A restart loses nothing; a 1 s access token lifetime expires.
stop_pa
# An unknown key in pa.conf is a usage error that names it and its line.
cp "$D/pa.conf" "$T/pa.conf.saved"
echo "frobnicate = 1" >>"$D/pa.conf"
check_status "unknown config key" 2 sti-pa sp list --dir "$D"
check_contains "unknown key named" "line $(wc -l <"$D/pa.conf"): unknown key 'frobnicate'" \
    "$(cat "$T/last.err")"
cp "$T/pa.conf.saved" "$D/pa.conf"
sed -i 's/^access_token_lifetime = .*/access_token_lifetime = 1/' "$D/pa.conf"
start_pa
check_status "sp list after restart" 0 sti-pa sp list --dir "$D"
check_contains "providers persist" "818H" "$(cat "$T/last.out")"
check_contains "token count persists" "1     13  Carrier A" "$(cat "$T/last.out")"
expect "ca-list after restart" 200 GET /api/v1/ca-list
cp "$T/body" "$T/calist2.json"
check_status "ca-list verifies after restart" 0 sti-pa calist --verify \
    "$T/calist2.json" --pa-cert "$D/pa.crt"
check_contains "CA list persists" "version 1, 1 roots" "$(cat "$T/last.out")"
expect "crl after restart" 200 GET "/api/v1/crl?format=pem"
check_eq "CRL persists" "$(openssl crl -in "$T/crl2.pem" -noout -crlnumber)" \
    "$(openssl crl -in "$T/body" -noout -crlnumber)"
expect "access token survives restart" 200 POST /api/v1/account/1234/token \
    -H "$AUTH" -d "$ATC"
check_status "ca remove by file" 0 sti-pa ca remove "$T/root.pem" --dir "$D"
check_status "ca add again" 0 sti-pa ca add "$T/root.pem" --dir "$D"
expect "ca-list after changes" 200 GET /api/v1/ca-list
cp "$T/body" "$T/calist3.json"
check_status "changed ca-list verifies" 0 sti-pa calist --verify \
    "$T/calist3.json" --pa-cert "$D/pa.crt"
check_contains "CA list version grows" "version 3, 1 roots" "$(cat "$T/last.out")"
SHORT=$(login root "admin password")
sleep 2
expect "expired access token" 401 POST /api/v1/revocations \
    -H "Authorization: Bearer $SHORT" -d '{"issuer":"CN=X","serial":"01"}'
check_contains "expiry named" "expired" "$(cat "$T/body")"
stop_pa

# Plain HTTP only when asked.
start_service pa-http "$T/port2" sti-pa serve --dir "$D" --http \
    --listen 127.0.0.1:0 --port-file "$T/port2"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/pa.crt")
check_eq "plain HTTP with --http" 200 "$CODE"
stop_pa

finish
