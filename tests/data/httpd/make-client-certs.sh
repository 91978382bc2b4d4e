#!/bin/sh
# Writes test certificates for TLS client authentication into OUTDIR
# (default: this directory), each with its key as NAME.key.
#   client-ca.pem, other-ca.pem  two CAs
#   client.pem, client2.pem      valid client certificates of client-ca
#   other.pem                    a client certificate of other-ca
#   server.pem                   a serverAuth-only certificate of client-ca
#   expired.pem                  a client certificate of client-ca, valid
#                                only in 2020
# Usage: make-client-certs.sh [OUTDIR]
set -eu

out=${1:-$(dirname "$0")}
mkdir -p "$out"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

cat >"$w/ext.cnf" <<CNF
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[client]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
CNF

key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$out/$1.key" 2>/dev/null
    chmod 600 "$out/$1.key"
}

# ca NAME CN: a self-signed CA certificate.
ca() {
    key "$1"
    openssl req -new -x509 -key "$out/$1.key" -subj "/O=stilab test/CN=$2" \
        -days 36500 -extensions ca -config "$w/ext.cnf" -out "$out/$1.pem"
}

# client NAME CA CN [SECTION]: a certificate issued by CA, with the
# extensions of SECTION (default client).
client() {
    key "$1"
    openssl req -new -key "$out/$1.key" -subj "/O=stilab test/CN=$3" \
        -out "$w/$1.csr"
    openssl x509 -req -in "$w/$1.csr" -CA "$out/$2.pem" -CAkey "$out/$2.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 36500 \
        -extfile "$w/ext.cnf" -extensions "${4:-client}" -out "$out/$1.pem" \
        2>/dev/null
}

ca client-ca "Client CA"
ca other-ca "Other CA"
client client client-ca "publisher one"
client client2 client-ca "publisher two"
client other other-ca "publisher of another CA"
client server client-ca "a server" server

# An expired certificate: openssl ca takes explicit dates.
key expired
openssl req -new -key "$out/expired.key" -subj "/O=stilab test/CN=expired" \
    -out "$w/expired.csr"
mkdir "$w/db"
: >"$w/db/index.txt"
cat >"$w/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $w/db/index.txt
new_certs_dir = $w/db
serial = $w/db/serial
default_md = sha256
policy = any
[any]
commonName = supplied
CNF
openssl rand -hex 8 >"$w/db/serial"
openssl ca -batch -config "$w/ca.cnf" -cert "$out/client-ca.pem" \
    -keyfile "$out/client-ca.key" -startdate 20200101000000Z \
    -enddate 20210101000000Z -extfile "$w/ext.cnf" -extensions client \
    -in "$w/expired.csr" -out "$w/expired.full" 2>/dev/null
openssl x509 -in "$w/expired.full" -out "$out/expired.pem"
