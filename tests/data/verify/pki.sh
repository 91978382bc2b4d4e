# Builds a SHAKEN test PKI with the openssl command line, independent of
# libsti's own issuance: a CA root, an intermediate, and an SP leaf whose
# TNAuthList is SPC 1234 (DER 30 08 A0 06 16 04 31 32 33 34).  A second
# root signs nothing, to test untrusted anchors.
# Usage: pki_make DIR; it leaves root.pem, other-root.pem, inter.pem,
# sp.key (PKCS#8), sp.pem (leaf), chain.pem (leaf then intermediate).

pki_req() { # DIR KEY SUBJECT OUT [openssl req options...]
    d=$1 key=$2 subj=$3 out=$4
    shift 4
    openssl req -config "$d/req.cnf" -new -x509 -key "$key" -subj "$subj" \
        -out "$out" -days 365 -set_serial "0x$(openssl rand -hex 16)" \
        -sha256 "$@" 2>>"$d/openssl.log"
}

pki_make() {
    d=$1
    mkdir -p "$d"
    printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$d/req.cnf"
    for k in root other inter sp; do
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -out "$d/$k.key" 2>>"$d/openssl.log" || return 1
    done
    ca_ext="-addext basicConstraints=critical,CA:TRUE
        -addext keyUsage=critical,keyCertSign,cRLSign"
    pki_req "$d" "$d/root.key" "/C=US/O=Test/CN=Test SHAKEN ROOT" \
        "$d/root.pem" $ca_ext || return 1
    pki_req "$d" "$d/other.key" "/C=US/O=Other/CN=Other SHAKEN ROOT" \
        "$d/other-root.pem" $ca_ext || return 1
    pki_req "$d" "$d/inter.key" "/C=US/O=Test/CN=Test SHAKEN Intermediate" \
        "$d/inter.pem" -CA "$d/root.pem" -CAkey "$d/root.key" $ca_ext \
        -addext certificatePolicies=2.16.840.1.114569.1.1.4 \
        -addext crlDistributionPoints=URI:http://127.0.0.1/crl || return 1
    pki_req "$d" "$d/sp.key" "/C=US/O=Test/CN=SHAKEN 1234" "$d/sp.pem" \
        -CA "$d/inter.pem" -CAkey "$d/inter.key" \
        -addext basicConstraints=critical,CA:FALSE \
        -addext keyUsage=critical,digitalSignature \
        -addext certificatePolicies=2.16.840.1.114569.1.1.4 \
        -addext crlDistributionPoints=URI:http://127.0.0.1/crl \
        -addext 1.3.6.1.5.5.7.1.26=DER:30:08:A0:06:16:04:31:32:33:34 ||
        return 1
    cat "$d/sp.pem" "$d/inter.pem" >"$d/chain.pem"
}

# jws_sign DIR HEADER_JSON PAYLOAD_JSON [der]: prints a compact JWS signed
# with sp.key exactly over the given texts; "der" keeps the DER signature
# instead of converting it to the raw R||S form.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jws_sign() {
    d=$1
    h=$(printf %s "$2" | b64url)
    p=$(printf %s "$3" | b64url)
    printf %s "$h.$p" | openssl dgst -sha256 -sign "$d/sp.key" -out "$d/sig.der"
    if [ "${4:-}" = der ]; then
        s=$(b64url <"$d/sig.der")
    else
        # The two INTEGERs of ECDSA-Sig-Value, left-padded to 32 bytes.
        s=$(openssl asn1parse -inform DER -in "$d/sig.der" |
            sed -n 's/.*INTEGER *:\([0-9A-F]*\)$/\1/p' |
            awk '{ while (length($0) < 64) $0 = "0" $0; printf "%s", $0 }')
        # Hex to bytes through printf octal escapes (no xxd needed).
        s=$(printf "$(printf %s "$s" | awk '
            function v(c) { return index("0123456789ABCDEF", c) - 1 }
            { for (i = 1; i < length($0); i += 2)
                printf "\\%03o", v(substr($0, i, 1)) * 16 + v(substr($0, i + 1, 1)) }')" |
            b64url)
    fi
    printf '%s.%s.%s' "$h" "$p" "$s"
}

# cr_start DIR CHAIN: publishes CHAIN as "sp" in a new sti-cr under DIR
# and serves it over HTTPS on a free port.  It sets X5U, and CR_CA to the
# server's TLS certificate.  It needs tests/e2e/lib.sh.
cr_start() {
    sti-cr init --dir "$1" >/dev/null 2>&1 || return 1
    sti-cr publish --dir "$1" "$2" --name sp >/dev/null || return 1
    start_service cr "$1/port" sti-cr serve --dir "$1" \
        --listen 127.0.0.1:0 --port-file "$1/port" --no-access-log
    X5U="https://127.0.0.1:$PORT/certs/sp.pem"
    CR_CA="$1/tls-cert.pem"
}
