#!/bin/sh
# sti sign and sti verify end to end: an openssl-made PKI, the chain
# served over HTTPS by sti-cr, keys with passphrases, INVITEs, the
# persistent x5u cache and the exit statuses.
. "$(dirname "$0")/lib.sh"
. "$STI_ROOT/tests/data/verify/pki.sh"

P="$T/pki"
pki_make "$P" || { echo "cannot build the test PKI"; cat "$P/openssl.log"; exit 1; }
cr_start "$T/cr" "$P/chain.pem" || exit 1
V="--ca-file $P/root.pem --allow-any-port --x5u-ca-file $CR_CA"
SIGN="--key $P/sp.key --x5u $X5U --attest A"

# --- usage
check_status "sign --help" 0 sti sign --help
check_status "verify --help" 0 sti verify --help
check_status "sign without --key" 2 sti sign --x5u "$X5U"
check_status "sign with a bad --identity" 2 sti sign $SIGN --identity drop
check_status "verify with two values" 2 sti verify a b
check_status "verify with a bad --freshness" 2 sti verify --freshness x a
check_status "verify without trust anchors" 2 sti verify --allow-any-port a
check_contains "anchor error names the options" "--ca-file FILE or --ca-dir" \
    "$(cat "$T/last.err")"
check_status "sign --ppt div without --div" 2 sti sign $SIGN --ppt div \
    --orig 12025550100 --dest 12025550101
check_contains "div error names --div" "--ppt div needs --div TN" \
    "$(cat "$T/last.err")"
check_status "sign --compact with ppt shaken" 2 sti sign $SIGN --compact \
    --orig 12025550100 --dest 12025550101
check_contains "compact error explains why" \
    "--compact cannot be used with --ppt shaken" "$(cat "$T/last.err")"
check_status "sign --compact with --claims" 2 sti sign $SIGN --ppt none \
    --compact --claims '{"a":1}' --orig 12025550100 --dest 12025550101
check_status "sign with attest D" 2 sti sign $SIGN --attest D \
    --orig 12025550100 --dest 12025550101
check_contains "attest error names the value" "'D'" "$(cat "$T/last.err")"
check_status "sign with a bad TN" 1 sti sign $SIGN --orig 12x --dest 1

# --- option values and combinations that would be ignored or misread
KX="--key $P/sp.key --x5u $X5U"
# Usage errors come before the header value is parsed.
H0=unused.header.value
TNS="--orig 12025550100 --dest 12025550101"
check_status "sign --ppt foo" 2 sti sign $SIGN --ppt foo $TNS
check_contains "ppt error lists the types" "use shaken, div or none" \
    "$(cat "$T/last.err")"
check_status "sign without --attest" 2 sti sign $KX $TNS
check_status "sign --attest with --ppt none" 2 sti sign $SIGN --ppt none $TNS
check_status "sign --div without --ppt div" 2 sti sign $SIGN --div 1 $TNS
check_status "sign --identity without --invite" 2 \
    sti sign $SIGN --identity keep $TNS
check_status "sign --origid not a UUID" 2 sti sign $SIGN --origid x $TNS
check_status "sign --profile xx" 2 sti sign $SIGN --profile xx $TNS
check_status "sign --pass on the command line" 2 \
    sti sign $SIGN --pass secret $TNS
for bad in 'https://a/b>;info=<https://evil/x' "$(printf 'https://a/b\r\nX: 1')" \
    'not a url' 'ftp://a/b' 'https:///b' "$(printf 'https://a/\001')" \
    'https://a/b c'; do
    check_status "sign rejects x5u $(printf %s "$bad" | tr -c '[:print:]' '?')" \
        2 sti sign --key "$P/sp.key" --x5u "$bad" --attest A $TNS
done
check_contains "x5u error names the value" "invalid x5u 'https://a/b c'" \
    "$(cat "$T/last.err")"
check_status "verify --profile xx" 2 sti verify $V --profile xx "$H0"
check_status "verify --orig not a number" 2 sti verify $V --orig abc "$H0"
check_contains "orig error names the value" "'abc'" "$(cat "$T/last.err")"
check_status "verify --file missing" 2 sti verify $V --file "$T/none.sip"
check_status "verify --freshness too large" 2 \
    sti verify $V --freshness 99999999999 "$H0"
check_contains "freshness error gives the range" "from 1 to 31622400" \
    "$(cat "$T/last.err")"

# --- bounded reads: a device or a huge file fails after 1 MiB
head -c 1100000 /dev/zero >"$T/huge"
check_status "verify input over 1 MiB" 2 sti verify $V --file "$T/huge"
check_contains "input limit named" "larger than 1048576 bytes" \
    "$(cat "$T/last.err")"
check_status "verify stdin over 1 MiB" 2 sh -c "sti verify $V <'$T/huge'"
check_status "sign key over 1 MiB" 1 sti sign --key "$T/huge" --x5u "$X5U" \
    --attest A $TNS
check_contains "key limit named" "larger than 1048576 bytes" \
    "$(cat "$T/last.err")"
check_status "sign INVITE over 1 MiB" 1 sti sign $SIGN --invite "$T/huge"

# --- a key file from `openssl ecparam -genkey`, EC PARAMETERS block first
openssl ecparam -name prime256v1 -genkey -out "$T/params.key" 2>/dev/null
check_eq "openssl wrote the parameters first" "-----BEGIN EC PARAMETERS-----" \
    "$(head -n 1 "$T/params.key")"
check_status "sign with an EC PARAMETERS key file" 0 \
    sti sign --key "$T/params.key" --x5u "$X5U" --attest A $TNS

# --- CRLs made with `openssl ca`: an empty one, and one revoking the leaf
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index\ncrlnumber = %s/crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n' \
    "$P" "$P" >"$P/ca.cnf"
: >"$P/index"
echo 01 >"$P/crlnumber"
CA_ARGS="-config $P/ca.cnf -keyfile $P/inter.key -cert $P/inter.pem"
openssl ca $CA_ARGS -gencrl -out "$P/empty-crl.pem" 2>>"$P/openssl.log"
openssl ca $CA_ARGS -revoke "$P/sp.pem" 2>>"$P/openssl.log"
openssl ca $CA_ARGS -gencrl -out "$P/crl.pem" 2>>"$P/openssl.log"
printf 'garbage\n' >"$P/bad-crl.pem"

# --- sign and verify a header value
H=$(sti sign $SIGN --orig "+1 202-555-0100" --dest 12025550101)
check_contains "header carries info and ppt" \
    ";info=<$X5U>;alg=ES256;ppt=shaken" "$H"
check_status "verify the header" 0 sti verify $V "$H"
printf 'Identity: %s\r\n\t;info=%s\n' "${H%%;info=*}" "${H#*;info=}" \
    >"$T/folded.txt"
check_status "verify a folded header in a values file" 0 \
    sti verify $V --file "$T/folded.txt"
check_contains "text result" "pass: TN-Validation-Passed attest=A orig=12025550100 spc=1234" \
    "$(cat "$T/last.out")"
check_status "verify --json" 0 sti verify $V --json "$H"
check_contains "JSON pass" '"pass":true' "$(cat "$T/last.out")"
check_contains "JSON serial" "\"cert_serial\":\"$(openssl x509 -in "$P/sp.pem" -noout -serial | sed 's/serial=//')\"" \
    "$(cat "$T/last.out")"
check_status "verify against another root" 1 \
    sti verify --ca-file "$P/other-root.pem" --allow-any-port \
    --x5u-ca-file "$CR_CA" "$H"
check_contains "untrusted is 437" "437 Unsupported Credential" \
    "$(cat "$T/last.out")"
check_status "strict port policy" 1 sti verify --ca-file "$P/root.pem" \
    --x5u-ca-file "$CR_CA" "$H"
check_contains "port rule named" "only 443 and 8443" "$(cat "$T/last.out")"
mkdir "$T/anchors"
cp "$P/root.pem" "$T/anchors/"
check_status "anchors from a directory" 0 sti verify --ca-dir "$T/anchors" \
    --allow-any-port --x5u-ca-file "$CR_CA" "$H"
check_status "the same root in --ca-file and --ca-dir" 0 sti verify \
    --ca-file "$P/root.pem" --ca-dir "$T/anchors" --allow-any-port \
    --x5u-ca-file "$CR_CA" "$H"
check_status "verify with a missing CA file" 3 \
    sti verify --ca-file "$T/none.pem" "$H"

check_status "verify with an empty CRL" 0 sti verify $V \
    --crl "$P/empty-crl.pem" --crl-signer "$P/inter.pem" "$H"
check_status "verify with the leaf revoked" 1 sti verify $V \
    --crl "$P/crl.pem" --crl-signer "$P/inter.pem" "$H"
check_contains "revocation is 437" "437 Unsupported Credential: the certificate chain from $X5U is revoked" \
    "$(cat "$T/last.out")"
check_status "an unreadable CRL cannot check" 3 sti verify $V \
    --crl "$P/bad-crl.pem" --crl-signer "$P/inter.pem" "$H"
check_contains "CRL error names the file" "bad-crl.pem" "$(cat "$T/last.err")"
check_status "a CRL whose signer is not given cannot check" 3 \
    sti verify $V --crl "$P/empty-crl.pem" "$H"
check_contains "signer error names the CA file" \
    "no certificate in $P/root.pem signed the CRL" "$(cat "$T/last.err")"

# --- JSON and compact output of sti sign
J=$(sti sign $SIGN --orig 12025550100 --dest 12025550101 --json --origid \
    123e4567-e89b-42d3-a456-426614174000 --iat 1700000000)
check_contains "sign --json payload" '"origid":"123e4567-e89b-42d3-a456-426614174000"' "$J"
check_contains "sign --json iat" '"iat":1700000000' "$J"
F=$(sti sign $SIGN --profile fr --orig "+33 1 23 45 67 89" \
    --dest "01 98 76 54 32" --json)
check_contains "fr profile keeps 33" '"orig":{"tn":"33123456789"}' "$F"
check_contains "fr profile completes 0X" '"dest":{"tn":["33198765432"]}' "$F"
C=$(sti sign --key "$P/sp.key" --x5u "$X5U" --ppt none --orig 12025550100 \
    --dest 12025550101 --compact)
check_eq "compact form starts with .." ".." "$(printf %s "$C" | cut -c1-2)"

# --- encrypted key with the passphrase from the environment
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$P/sp.key" -out "$T/enc.key" \
    -passout pass:s3cret 2>/dev/null
KEYPASS=s3cret
export KEYPASS
check_status "sign with an encrypted key" 0 sti sign --key "$T/enc.key" \
    --pass env:KEYPASS --x5u "$X5U" --attest B --orig 12025550100 \
    --dest 12025550101
KEYPASS=wrong
check_status "wrong passphrase fails" 1 sti sign --key "$T/enc.key" \
    --pass env:KEYPASS --x5u "$X5U" --attest B --orig 1 --dest 1

# --- INVITE in, INVITE out, verified from stdin
invite() { # FROM TO [EXTRA_HEADER]
    printf 'INVITE sip:%s@127.0.0.1 SIP/2.0\r\n' "$2"
    printf 'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK74bf9\r\n'
    printf 'From: <sip:%s@127.0.0.1;user=phone>;tag=9fxced76sl\r\n' "$1"
    printf 'To: <sip:%s@127.0.0.1;user=phone>\r\n' "$2"
    printf 'Call-ID: 3848276298220188511@127.0.0.1\r\nCSeq: 1 INVITE\r\n'
    [ -n "${3:-}" ] && printf '%s\r\n' "$3"
    printf 'Content-Length: 0\r\n\r\n'
}
invite 12025550100 12025550101 "Identity: old.old.old;info=<https://a/b>" \
    >"$T/invite.sip"
sti sign --key "$P/sp.key" --x5u "$X5U" --attest A --invite "$T/invite.sip" \
    >"$T/signed.sip"
check_eq "replace leaves one Identity header" 1 \
    "$(grep -ci '^identity:' "$T/signed.sip")"
sti sign --key "$P/sp.key" --x5u "$X5U" --attest A --identity keep \
    --invite "$T/invite.sip" >"$T/kept.sip"
check_eq "keep leaves two Identity headers" 2 \
    "$(grep -ci '^identity:' "$T/kept.sip")"
check_status "verify the signed INVITE on stdin" 0 \
    sh -c "sti verify $V <'$T/signed.sip'"
check_status "verify the signed INVITE with --file" 0 \
    sti verify $V --file "$T/signed.sip"
sed 's/^From: <sip:12025550100/From: <sip:12025550199/' "$T/signed.sip" \
    >"$T/spoofed.sip"
check_status "changed From is invalid" 1 sti verify $V --file "$T/spoofed.sip"
check_contains "orig mismatch is 438" "438 Invalid Identity Header" \
    "$(cat "$T/last.out")"
invite 12025550100 12025550101 >"$T/bare.sip"
check_status "INVITE without Identity" 3 sti verify $V --file "$T/bare.sip"
check_contains "no header is 428" "428 Use Identity Header" \
    "$(cat "$T/last.out")"

# --- parties without numbers: orig and dest as URIs
U=$(sti sign $SIGN --orig-uri sip:alice@example.com \
    --dest-uri sip:bob@example.com --dest-uri sip:carol@example.com --json)
check_contains "sign --dest-uri fills dest.uri" \
    '"dest":{"uri":["sip:bob@example.com","sip:carol@example.com"]}' "$U"
check_status "sign rejects a --dest-uri that is no URI" 2 sti sign $SIGN \
    --orig-uri sip:alice@example.com --dest-uri 'not a uri'
check_contains "the bad --dest-uri is named" "invalid --dest-uri 'not a uri'" \
    "$(cat "$T/last.err")"
check_status "sign rejects an --orig-uri with a space" 2 sti sign $SIGN \
    --orig-uri 'sip:alice @example.com' --dest-uri sip:bob@example.com
sed -e 's/sip:12025550100@127.0.0.1;user=phone/sip:alice@example.com/' \
    -e 's/sip:12025550101@127.0.0.1;user=phone/sip:carol@example.com/' \
    "$T/bare.sip" >"$T/uri.sip"
check_status "sign a URI INVITE without options" 1 sti sign $SIGN \
    --invite "$T/uri.sip"
check_contains "URI INVITE error names the options" \
    "give --orig or --orig-uri" "$(cat "$T/last.err")"
check_status "sign a URI INVITE with URI options" 0 sti sign $SIGN \
    --orig-uri sip:alice@example.com --dest-uri sip:carol@example.com \
    --invite "$T/uri.sip"
cp "$T/last.out" "$T/uri-signed.sip"
check_status "verify the URI INVITE" 0 sti verify $V --file "$T/uri-signed.sip"
check_status "dest-uri that To lacks is invalid" 1 sti verify $V \
    "$(sti sign $SIGN --orig-uri sip:alice@example.com \
        --dest-uri sip:bob@example.com)" --orig-uri sip:alice@example.com \
    --dest-uri sip:carol@example.com
check_contains "dest uri mismatch is 438" "438 Invalid Identity Header" \
    "$(cat "$T/last.out")"
check_status "--json with --invite" 2 sti sign $SIGN --json \
    --invite "$T/bare.sip"

# --- compact form through an INVITE: iat from Date, or Date from iat
sti sign $KX --ppt none --compact --invite "$T/bare.sip" >"$T/compact.sip"
check_eq "compact signing adds a Date" 1 "$(grep -c '^Date: ' "$T/compact.sip")"
check_status "compact INVITE without Date verifies" 0 \
    sti verify $V --file "$T/compact.sip"
# The test PKI is seconds old, so Date is now rather than in the past.
NOW=$(date +%s)
DATED=$(LC_ALL=C date -u -d "@$NOW" '+%a, %d %b %Y %H:%M:%S GMT')
invite 12025550100 12025550101 "Date: $DATED" >"$T/dated.sip"
sti sign $KX --ppt none --compact --invite "$T/dated.sip" >"$T/compact2.sip"
check_status "compact INVITE with Date verifies" 0 \
    sti verify $V --json --file "$T/compact2.sip"
check_contains "iat comes from Date" "\"iat\":$NOW," \
    "$(cat "$T/last.out")"
check_status "compact --iat that differs from Date" 2 sti sign $KX \
    --ppt none --compact --iat "$((NOW - 1))" --invite "$T/dated.sip"
sti sign $SIGN --invite "$T/dated.sip" >"$T/full.sip"
check_status "full form takes iat from Date too" 0 \
    sti verify $V --json --file "$T/full.sip"
check_contains "full form iat is Date" "\"iat\":$NOW," \
    "$(cat "$T/last.out")"
OLD_DATE=$(LC_ALL=C date -u -d "@$((NOW - 3600))" '+%a, %d %b %Y %H:%M:%S GMT')
invite 12025550100 12025550101 "Date: $OLD_DATE" >"$T/olddate.sip"
check_status "sign an INVITE with an hour-old Date" 1 \
    sti sign $SIGN --invite "$T/olddate.sip"
check_contains "stale Date error gives the window" \
    "outside the 60 s freshness window" "$(cat "$T/last.err")"
check_status "--iat signs an old INVITE anyway" 0 \
    sti sign $SIGN --iat "$NOW" --invite "$T/olddate.sip"
invite 12025550100 12025550101 "Date: yesterday" >"$T/baddate.sip"
check_status "sign an INVITE with an invalid Date" 1 \
    sti sign $SIGN --invite "$T/baddate.sip"
check_contains "Date error names the value" "'yesterday'" \
    "$(cat "$T/last.err")"

printf 'Identity: %s\n' "$H" >"$T/values.txt"
check_status "header values from a file" 0 sti verify $V --file "$T/values.txt"

# --- the SQLite cache survives the repository going away
check_status "fill the cache" 0 sti verify $V --cache "$T/x5u.db" --json "$H"
check_contains "first run fetches" '"cache_hit":false' "$(cat "$T/last.out")"
stop_services
check_status "verify from the cache" 0 sti verify $V --cache "$T/x5u.db" \
    --json "$H"
check_contains "second run hits the cache" '"cache_hit":true' \
    "$(cat "$T/last.out")"
check_status "without the cache it cannot check" 3 sti verify $V "$H"
check_contains "fetch failure is 436" "436 Bad Identity Info" \
    "$(cat "$T/last.out")"

finish
