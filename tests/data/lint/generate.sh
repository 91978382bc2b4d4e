#!/bin/sh
# Regenerates the crafted certificates of this folder with the openssl
# command line.  Each case folder holds cert.pem (leaf, intermediate, root)
# and "expected": the error and warning rules that sti lint must report,
# one per line, nothing else.  "at" holds the time (seconds since 1970) at
# which the cases are linted, so that they never expire.
# Usage: sh tests/data/lint/generate.sh   (from the repository root)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# DER of TNAuthLists (RFC 8226 section 9, explicit tags).
SPC_1234=30:08:A0:06:16:04:31:32:33:34
SPC_LOWER=30:08:A0:06:16:04:31:32:61:62
TWO_SPCS=30:10:A0:06:16:04:31:32:33:34:A0:06:16:04:35:36:37:38
SPC_AND_TN=30:17:A0:06:16:04:31:32:33:34:A2:0D:16:0B:31:32:30:32:35:35:35:30:31:30:30
TRUNCATED=30:08:A0:06:16:04:31:32:33

cat >base.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermediate]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 2.16.840.1.114569.1.1.4
crlDistributionPoints = crldp
[crldp]
fullname = URI:http://127.0.0.1/crl.pem
CRLissuer = dirName:crl_issuer
[crldp_no_issuer]
fullname = URI:http://127.0.0.1/crl.pem
[crl_issuer]
C = US
O = stilab lint
CN = SHAKEN PA
CNF

serial() {
    echo "0x$(openssl rand -hex 16)"
}

openssl ecparam -name prime256v1 -genkey -noout -out root.key
openssl req -new -x509 -config base.cnf -extensions root -key root.key \
    -subj "/C=US/O=stilab lint/CN=stilab lint SHAKEN ROOT" -days 7300 \
    -sha256 -set_serial "$(serial)" -out root.pem
openssl ecparam -name prime256v1 -genkey -noout -out inter.key
openssl req -new -config base.cnf -key inter.key \
    -subj "/C=US/O=stilab lint/CN=stilab lint SHAKEN Intermediate CA" \
    -out inter.csr
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key \
    -set_serial "$(serial)" -days 3650 -sha256 -extfile base.cnf \
    -extensions intermediate -out inter.pem

# leaf NAME KEYTYPE EXTENSIONS EXPECTED_RULES...
# Issues a leaf with KEYTYPE (p256, p384 or rsa) whose [leaf] extension
# section is exactly EXTENSIONS, and writes NAME/cert.pem and
# NAME/expected.  SUBJECT, SERIAL, DIGEST and DAYS, when set, replace the
# leaf's subject, serial, signature digest and validity.
leaf() {
    name=$1
    keyspec=$2
    exts=$3
    shift 3
    case "$keyspec" in
    p256) openssl ecparam -name prime256v1 -genkey -noout -out leaf.key ;;
    p384) openssl ecparam -name secp384r1 -genkey -noout -out leaf.key ;;
    rsa) openssl genrsa -out leaf.key 2048 2>/dev/null ;;
    esac
    { cat base.cnf; printf '[leaf]\n%s\n' "$exts"; } >leaf.cnf
    openssl req -new -config base.cnf -key leaf.key \
        -subj "${SUBJECT:-/C=US/O=stilab lint/CN=SHAKEN 1234}" -out leaf.csr
    openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key \
        -set_serial "${SERIAL:-$(serial)}" -days "${DAYS:-365}" \
        "-${DIGEST:-sha256}" -extfile leaf.cnf -extensions leaf -out leaf.pem
    mkdir -p "$here/$name"
    cat leaf.pem inter.pem root.pem >"$here/$name/cert.pem"
    : >"$here/$name/expected"
    for rule in "$@"; do
        echo "$rule" >>"$here/$name/expected"
    done
}

BC='basicConstraints = critical, CA:FALSE'
KU='keyUsage = critical, digitalSignature'
KEYIDS='subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always'
POLICY='certificatePolicies = 2.16.840.1.114569.1.1.4'
CRLDP='crlDistributionPoints = crldp'
TNAUTH="1.3.6.1.5.5.7.1.26 = DER:$SPC_1234"
COMMON="$BC
$KU
$KEYIDS"

leaf clean p256 "$COMMON
$POLICY
$CRLDP
$TNAUTH"
leaf tnauth_critical p256 "$COMMON
$POLICY
$CRLDP
1.3.6.1.5.5.7.1.26 = critical, DER:$SPC_1234" e_tnauth_critical
leaf spc_lowercase p256 "$COMMON
$POLICY
$CRLDP
1.3.6.1.5.5.7.1.26 = DER:$SPC_LOWER" e_tnauth_spc_invalid
leaf two_spcs p256 "$COMMON
$POLICY
$CRLDP
1.3.6.1.5.5.7.1.26 = DER:$TWO_SPCS" e_tnauth_spc_count
leaf tn_in_end_entity p256 "$COMMON
$POLICY
$CRLDP
1.3.6.1.5.5.7.1.26 = DER:$SPC_AND_TN" e_tnauth_ee_tn_entry
leaf no_policy p256 "$COMMON
$CRLDP
$TNAUTH" e_policy_missing
leaf policy_obsolete p256 "$COMMON
certificatePolicies = 2.16.840.1.114569.1.1.1
$CRLDP
$TNAUTH" e_policy_obsolete
leaf two_policies p256 "$COMMON
certificatePolicies = 2.16.840.1.114569.1.1.4, 2.16.840.1.114569.1.1.3
$CRLDP
$TNAUTH" e_policy_count
leaf no_crldp p256 "$COMMON
$POLICY
$TNAUTH" e_crldp_missing
leaf crldp_no_crl_issuer p256 "$COMMON
$POLICY
crlDistributionPoints = crldp_no_issuer
$TNAUTH" e_crldp_crl_issuer_missing
leaf aia_present p256 "$COMMON
$POLICY
$CRLDP
$TNAUTH
authorityInfoAccess = caIssuers;URI:http://127.0.0.1/ca.pem" e_ext_aia
leaf issuer_alt_name p256 "$COMMON
$POLICY
$CRLDP
$TNAUTH
issuerAltName = URI:http://127.0.0.1/" e_ext_issuer_alt_name
leaf tnauth_truncated p256 "$COMMON
$POLICY
$CRLDP
1.3.6.1.5.5.7.1.26 = DER:$TRUNCATED" e_tnauth_malformed
leaf tnauth_missing p256 "$COMMON
$POLICY
$CRLDP" e_tnauth_missing
leaf key_p384 p384 "$COMMON
$POLICY
$CRLDP
$TNAUTH" e_key_not_p256
leaf key_rsa rsa "$COMMON
$POLICY
$CRLDP
$TNAUTH" e_key_not_p256
leaf basic_constraints_not_critical p256 "basicConstraints = CA:FALSE
$KU
$KEYIDS
$POLICY
$CRLDP
$TNAUTH" e_basic_constraints_not_critical
leaf key_usage_key_encipherment p256 "$BC
keyUsage = critical, digitalSignature, keyEncipherment
$KEYIDS
$POLICY
$CRLDP
$TNAUTH" e_key_usage_ee
leaf extended_key_usage p256 "$COMMON
$POLICY
$CRLDP
$TNAUTH
extendedKeyUsage = clientAuth" e_ext_not_allowed

ALL="$COMMON
$POLICY
$CRLDP
$TNAUTH"
SERIAL=0x0102 leaf serial_short p256 "$ALL" e_serial_too_short
DIGEST=sha384 leaf signature_sha384 p256 "$ALL" e_signature_algorithm
SUBJECT="/C=US/CN=SHAKEN 1234" leaf subject_no_org p256 "$ALL" \
    e_subject_o_missing
SUBJECT="/C=us/O=stilab lint/CN=SHAKEN 1234" leaf country_lowercase p256 \
    "$ALL" e_subject_c_invalid
SUBJECT="/C=US/O=stilab lint/CN=Provider 1234" leaf cn_without_shaken p256 \
    "$ALL" e_subject_cn_shaken
SUBJECT="/C=US/O=stilab lint/CN=SHAKEN 9999" leaf cn_other_spc p256 \
    "$ALL" w_subject_cn_spc
DAYS=1200 leaf lifetime_too_long p256 "$ALL" e_validity_too_long

date +%s >"$here/at"
