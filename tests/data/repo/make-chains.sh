#!/bin/sh
# Regenerates the certificate chains used by the sti-cr tests with the
# openssl command line tool.  The outputs are committed, so the tests never
# run this; rerun it only to change the fixtures.  TNAuthList (RFC 8226,
# OID 1.3.6.1.5.5.7.1.26) is written as raw DER: SPC "1234" is
# 30 08 A0 06 16 04 31 32 33 34 and SPC "5678" is 30 08 A0 06 16 04 35 36 37 38.
set -eu
cd "$(dirname "$0")"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

cat >"$w/ext.cnf" <<'CNF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf1234]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
1.3.6.1.5.5.7.1.26 = DER:30:08:A0:06:16:04:31:32:33:34
[leaf5678]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
1.3.6.1.5.5.7.1.26 = DER:30:08:A0:06:16:04:35:36:37:38
[plain]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w/$1.key" 2>/dev/null; }
# cert NAME SUBJECT ISSUER SECTION [DAYS]
cert() {
    key "$1"
    openssl req -new -key "$w/$1.key" -subj "$2" -out "$w/$1.csr"
    if [ "$3" = self ]; then
        openssl x509 -req -in "$w/$1.csr" -signkey "$w/$1.key" -days 36500 \
            -extfile "$w/ext.cnf" -extensions "$4" -out "$w/$1.pem" 2>/dev/null
    else
        openssl x509 -req -in "$w/$1.csr" -CA "$w/$3.pem" -CAkey "$w/$3.key" \
            -CAcreateserial -days "${5:-36500}" -extfile "$w/ext.cnf" \
            -extensions "$4" -out "$w/$1.pem" 2>/dev/null
    fi
}

cert root "/C=US/O=stilab test/CN=SHAKEN Test ROOT" self root
cert inter "/C=US/O=stilab test/CN=SHAKEN Test Intermediate" root inter
cert other "/C=US/O=stilab test/CN=SHAKEN Other Intermediate" root inter
cert leaf1 "/C=US/O=stilab test/CN=SHAKEN 1234" inter leaf1234
cert leaf2 "/C=US/O=stilab test/CN=SHAKEN 5678" inter leaf5678
cert plain "/C=US/O=stilab test/CN=SHAKEN 9999" inter plain

# An expired leaf: openssl ca takes explicit dates.
mkdir -p "$w/ca"
: >"$w/ca/index.txt"
echo 01 >"$w/ca/serial"
cat >"$w/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $w/ca/index.txt
serial = $w/ca/serial
new_certs_dir = $w/ca
default_md = sha256
policy = any
[any]
commonName = supplied
CNF
key expired
openssl req -new -key "$w/expired.key" -subj "/C=US/O=stilab test/CN=SHAKEN 1234" \
    -out "$w/expired.csr"
openssl ca -batch -config "$w/ca.cnf" -cert "$w/inter.pem" -keyfile "$w/inter.key" \
    -startdate 20200101000000Z -enddate 20210101000000Z -extfile "$w/ext.cnf" \
    -extensions leaf1234 -in "$w/expired.csr" -out "$w/expired.full" 2>/dev/null
openssl x509 -in "$w/expired.full" -out "$w/expired.pem"

cp "$w/root.pem" root.pem
cat "$w/leaf1.pem" "$w/inter.pem" >good.pem
cat "$w/leaf2.pem" "$w/inter.pem" >good2.pem
# As 'openssl x509 -subject -issuer' prints it: text before each block.
for c in leaf1 inter; do
    openssl x509 -in "$w/$c.pem" -subject -issuer
done >leading-text.pem
cat "$w/inter.pem" "$w/leaf1.pem" >reversed.pem
cat "$w/plain.pem" "$w/inter.pem" >no-tnauth.pem
cat "$w/inter.pem" "$w/root.pem" >ca-leaf.pem
cat "$w/leaf1.pem" "$w/other.pem" >wrong-issuer.pem
cat "$w/expired.pem" "$w/inter.pem" >expired.pem
cat "$w/leaf1.pem" "$w/inter.pem" "$w/leaf1.key" >with-key.pem
openssl x509 -in "$w/leaf1.pem" -outform DER -out leaf.der
printf 'this is not a certificate\n' >garbage.pem
# A PEM block whose base64 was cut short.
head -c 300 "$w/leaf1.pem" >truncated.pem
printf '\n-----END CERTIFICATE-----\n' >>truncated.pem
