#!/bin/sh
# Builds a small SHAKEN PKI with the openssl command: a CA root, an
# intermediate and an SP end entity for SPC 1234 (TNAuthList, RFC 8226).
# Usage: mkpki.sh DIR.  Writes root.pem, ca.pem, sp.key, sp.pem and
# chain.pem (the SP certificate, then the intermediate) into DIR.
set -eu
d=$1
mkdir -p "$d"
cat >"$d/ext.cnf" <<'CNF'
[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = 2.16.840.1.114569.1.1.4
[sp]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = 2.16.840.1.114569.1.1.4
1.3.6.1.5.5.7.1.26 = DER:30:08:A0:06:16:04:31:32:33:34
CNF
for k in root ca sp; do
    openssl ecparam -name prime256v1 -genkey -noout -out "$d/$k.key" 2>/dev/null
done
chmod 600 "$d"/*.key
openssl req -new -x509 -key "$d/root.key" -days 30 -sha256 \
    -subj "/C=US/O=stilab test/CN=SHAKEN ROOT" -config "$d/ext.cnf" \
    -extensions root -out "$d/root.pem" 2>/dev/null
# sign KIND SUBJECT ISSUER: a certificate for KIND's key signed by ISSUER.
sign() {
    openssl req -new -key "$d/$1.key" -subj "$2" -config "$d/ext.cnf" \
        -out "$d/$1.csr" 2>/dev/null
    openssl x509 -req -in "$d/$1.csr" -CA "$d/$3.pem" -CAkey "$d/$3.key" \
        -CAcreateserial -days 20 -sha256 -extfile "$d/ext.cnf" \
        -extensions "$1" -out "$d/$1.pem" 2>/dev/null
}
sign ca "/C=US/O=stilab test/CN=SHAKEN Intermediate" root
sign sp "/C=US/O=stilab test/CN=SHAKEN 1234" ca
cat "$d/sp.pem" "$d/ca.pem" >"$d/chain.pem"
