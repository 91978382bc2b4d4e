#!/bin/sh
# sti-ca offline: init, issue (SP, CSR, SCA, delegate), revoke and list;
# the issued chains pass openssl x509, asn1parse and verify and lint clean;
# bad input gets the documented exit codes and messages.
. tests/e2e/lib.sh

CA=$T/ca

# first_cert FILE OUT: the first PEM certificate of a chain.
first_cert() {
    awk '/BEGIN CERT/{n++} n==1{print} /END CERT/ && n==1{exit}' "$1" >"$2"
}

# check_openssl_accepts NAME CHAIN UNTRUSTED: x509 -text, asn1parse and
# verify against the CA root accept the chain's leaf.
check_openssl_accepts() {
    first_cert "$2" "$T/leaf-$1.pem"
    text=$(openssl x509 -in "$T/leaf-$1.pem" -noout -text 2>&1)
    check_contains "$1: x509 shows the TNAuthList" "1.3.6.1.5.5.7.1.26:" "$text"
    case "$text" in
    *"1.3.6.1.5.5.7.1.26: critical"*) fail "$1: TNAuthList is critical" ;;
    *) ok "$1: TNAuthList is not critical" ;;
    esac
    check_status "$1: asn1parse" 0 openssl asn1parse -in "$T/leaf-$1.pem"
    out=$(openssl verify -CAfile "$CA/root.pem" -untrusted "$3" \
        "$T/leaf-$1.pem" 2>&1)
    check_eq "$1: openssl verify" "$T/leaf-$1.pem: OK" "$out"
    cat "$2" "$CA/root.pem" >"$T/full-$1.pem"
    out=$(sti lint "$T/full-$1.pem")
    check_eq "$1: lints clean" "clean: $(grep -c 'BEGIN CERT' \
        "$T/full-$1.pem") certificates, no findings" "$out"
}

# init
check_status "init" 0 sti-ca init --dir "$CA" --org "stilab e2e" \
    --crl-url http://127.0.0.1/crl.pem
check_eq "root key mode" 600 "$(stat -c %a "$CA/root.key")"
check_eq "intermediate key mode" 600 "$(stat -c %a "$CA/intermediate.key")"
check_contains "config names the profile" "profile = us" "$(cat "$CA/ca.conf")"
check_status "init refuses an existing CA" 1 sti-ca init --dir "$CA"
check_contains "existing CA message" "already holds a CA" "$(cat "$T/last.err")"
# An unknown key in ca.conf is a usage error that names it.
cp "$CA/ca.conf" "$T/ca.conf.saved"
echo "bogus = 2" >>"$CA/ca.conf"
check_status "unknown config key" 2 sti-ca list --dir "$CA"
check_contains "unknown key named" "unknown key 'bogus'" "$(cat "$T/last.err")"
cp "$T/ca.conf.saved" "$CA/ca.conf"
check_status "init without --dir" 2 sti-ca init
check_status "init with unknown profile" 2 sti-ca init --dir "$T/x" \
    --profile de
check_contains "unknown profile message" "unknown profile 'de'" \
    "$(cat "$T/last.err")"
check_status "CA root and intermediate lint clean" 0 sti lint "$CA/root.pem"

# SP certificate with a new key
check_status "issue SP" 0 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/sp.key" --spc 1234 --out "$T/sp.pem"
check_eq "new key mode" 600 "$(stat -c %a "$T/sp.key")"
check_eq "chain has leaf and intermediate" 2 "$(grep -c 'BEGIN CERT' "$T/sp.pem")"
check_openssl_accepts sp "$T/sp.pem" "$CA/intermediate.pem"
sp_serial=$(openssl x509 -in "$T/leaf-sp.pem" -noout -serial | cut -d= -f2)

# From a CSR made by openssl, with the TNAuthList requested in it
openssl ecparam -name prime256v1 -genkey -noout -out "$T/csr.key" 2>/dev/null
openssl req -new -key "$T/csr.key" -subj "/C=US/O=Provider/CN=SHAKEN 818H" \
    -addext "1.3.6.1.5.5.7.1.26=DER:30:08:A0:06:16:04:38:31:38:48" \
    -out "$T/req.pem" 2>/dev/null
check_status "issue from CSR" 0 sti-ca issue --dir "$CA" --csr "$T/req.pem" \
    --out "$T/csr-chain.pem"
check_openssl_accepts csr "$T/csr-chain.pem" "$CA/intermediate.pem"
check_contains "CSR organization kept" "O = Provider" \
    "$(openssl x509 -in "$T/leaf-csr.pem" -noout -subject)"
check_status "CSR with other SPC" 1 sti-ca issue --dir "$CA" \
    --csr "$T/req.pem" --spc 1234
check_contains "CSR mismatch message" "different TNAuthList" \
    "$(cat "$T/last.err")"

# SCA and delegate.  The pause makes the SCA's default lifetime reach past
# the intermediate's end, which sti-ca must shorten.
sleep 1
check_status "issue SCA" 0 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/sca.key" --sca --range 12025550100+100 --out "$T/sca.pem"
check_openssl_accepts sca "$T/sca.pem" "$CA/intermediate.pem"
check_status "issue delegate" 0 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/del.key" --tn 12025550142 --issuer-cert "$T/sca.pem" \
    --issuer-key "$T/sca.key" --out "$T/del.pem"
check_eq "delegate chain length" 3 "$(grep -c 'BEGIN CERT' "$T/del.pem")"
check_openssl_accepts delegate "$T/del.pem" "$T/sca.pem"
check_status "delegate outside the SCA" 1 sti-ca issue --dir "$CA" \
    --new-key --key-out "$T/del2.key" --tn 19995550100 \
    --issuer-cert "$T/sca.pem" --issuer-key "$T/sca.key"
check_eq "no key left behind" no "$([ -e "$T/del2.key" ] && echo yes || echo no)"
check_status "delegate without SCA" 2 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/del3.key" --tn 12025550142
check_contains "delegate without SCA message" "--issuer-cert" \
    "$(cat "$T/last.err")"

# Profiles and validity
check_status "fr profile" 0 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/fr.key" --spc 5678 --profile fr --out "$T/fr.pem"
check_contains "fr policy OID" "1.2.250.1.695" \
    "$(openssl x509 -in "$T/fr.pem" -noout -text)"
check_status "fr lints clean" 0 sti lint --profile fr "$T/fr.pem"
check_status "fr over one year" 1 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/fr2.key" --spc 5678 --profile fr --days 400

# Bad input
check_status "bad SPC" 2 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/bad.key" --spc 12ab
check_contains "bad SPC message" "'12ab'" "$(cat "$T/last.err")"
check_status "unknown profile" 2 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/bad.key" --spc 1234 --profile xx
check_status "missing CSR" 1 sti-ca issue --dir "$CA" --csr "$T/none.pem"
check_contains "missing CSR message" "$T/none.pem" "$(cat "$T/last.err")"
echo "not a CSR" >"$T/garbage.pem"
check_status "garbage CSR" 1 sti-ca issue --dir "$CA" --csr "$T/garbage.pem"
check_contains "garbage CSR message" "garbage.pem" "$(cat "$T/last.err")"
check_status "unwritable --out" 1 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/unw.key" --spc 1234 --out "$T/none/x.pem"
check_contains "unwritable --out message" "$T/none" "$(cat "$T/last.err")"
check_eq "nothing issued for unwritable --out" no \
    "$([ -e "$T/unw.key" ] && echo yes || echo no)"
check_status "--new-key without --key-out" 2 sti-ca issue --dir "$CA" \
    --new-key --spc 1234
check_status "not a CA directory" 1 sti-ca issue --dir "$T" --new-key \
    --key-out "$T/k" --spc 1234
check_contains "not a CA message" "sti-ca init" "$(cat "$T/last.err")"
check_status "unknown command" 2 sti-ca frobnicate
for c in init issue revoke list serve; do
    check_status "$c --help" 0 sti-ca "$c" --help
done
check_status "sti-ca --help" 0 sti-ca --help
check_contains "sti-ca --help lists commands" \
    "  revoke  mark a certificate revoked" "$(cat "$T/last.out")"
check_status "sti-ca without command" 2 sti-ca
check_contains "usage on stderr" "usage: sti-ca COMMAND" "$(cat "$T/last.err")"
check_contains "sti-ca --version" "sti-ca " "$(sti-ca --version)"

# Encrypted keys
PW=correct-horse
WRONG=battery-staple
export PW WRONG
check_status "init encrypted" 0 sti-ca init --dir "$T/enc" --pass env:PW
check_eq "key is encrypted" "-----BEGIN ENCRYPTED PRIVATE KEY-----" \
    "$(head -n 1 "$T/enc/intermediate.key")"
check_status "issue without passphrase" 2 sti-ca issue --dir "$T/enc" \
    --new-key --key-out "$T/e1.key" --spc 1234
check_contains "missing passphrase message" "--pass" "$(cat "$T/last.err")"
check_status "wrong passphrase" 1 sti-ca issue --dir "$T/enc" --pass env:WRONG \
    --new-key --key-out "$T/e2.key" --spc 1234
check_contains "wrong passphrase message" "passphrase" "$(cat "$T/last.err")"
check_status "right passphrase" 0 sti-ca issue --dir "$T/enc" --pass env:PW \
    --new-key --key-out "$T/e3.key" --spc 1234 --out "$T/e3.pem"

# list and revoke
list=$(sti-ca list --dir "$CA" --json)
check_contains "list has the SP serial" "\"serial\": \"$sp_serial\"" "$list"
check_eq "list has every certificate" 7 \
    "$(printf '%s\n' "$list" | grep -c '"serial"')"
check_status "revoke" 0 sti-ca revoke --dir "$CA" "$sp_serial" \
    --reason keyCompromise
check_contains "list shows the reason" '"reason": "keyCompromise"' \
    "$(sti-ca list --dir "$CA" --json)"
check_contains "table shows revoked" "revoked" "$(sti-ca list --dir "$CA")"
check_status "revoke twice" 1 sti-ca revoke --dir "$CA" "$sp_serial"
check_contains "revoke twice message" "already revoked" "$(cat "$T/last.err")"
check_status "revoke unknown serial" 1 sti-ca revoke --dir "$CA" 0123
check_status "revoke bad reason" 2 sti-ca revoke --dir "$CA" "$sp_serial" \
    --reason because
check_status "revoke without serial" 2 sti-ca revoke --dir "$CA"
check_status "revoke non-hex serial" 2 sti-ca revoke --dir "$CA" 12xy
check_contains "non-hex serial message" "'12xy'" "$(cat "$T/last.err")"

# Invalid option values exit 2 with a message naming the value and the fix.
check_status "list bad option" 2 sti-ca list --dir "$CA" --bogus
check_contains "bad option names the subcommand" \
    "sti-ca list: unrecognized option '--bogus'" "$(cat "$T/last.err")"
check_status "init empty --dir" 2 sti-ca init --dir ''
check_contains "empty --dir message" "--dir is empty" "$(cat "$T/last.err")"
check_status "init non-UTF-8 --org" 2 sti-ca init --dir "$T/u8" \
    --org "$(printf 'Bad\377Org')"
check_contains "non-UTF-8 --org message" "byte 4 (0xFF) is not UTF-8" \
    "$(cat "$T/last.err")"
check_status "init passphrase on argv" 2 sti-ca init --dir "$T/pw" \
    --pass hunter2
check_contains "passphrase source message" "file:PATH, env:VAR or fd:N" \
    "$(cat "$T/last.err")"
case "$(cat "$T/last.err")" in
*hunter2*) fail "passphrase message echoes the passphrase" ;;
*) ok "passphrase message hides the passphrase" ;;
esac
check_status "issue --key-pass on argv" 2 sti-ca issue --dir "$CA" \
    --new-key --key-out "$T/kp.key" --spc 1234 --key-pass hunter2
check_status "init --days over --root-days" 2 sti-ca init \
    --dir "$T/rd" --root-days 1 --days 2
check_contains "days message" \
    "give --days 1 or fewer, or --root-days 2 or more" "$(cat "$T/last.err")"
check_status "init short root" 0 sti-ca init --dir "$T/rd" --root-days 1
check_eq "intermediate ends with a short root" \
    "$(openssl x509 -in "$T/rd/root.pem" -noout -enddate)" \
    "$(openssl x509 -in "$T/rd/intermediate.pem" -noout -enddate)"
org64=$(printf '%064d' 0 | tr 0 o)
check_status "init --org of 64 bytes" 0 sti-ca init --dir "$T/o64" \
    --org "$org64"
check_status "init --org of 65 bytes" 2 sti-ca init --dir "$T/o65" \
    --org "${org64}o"
check_contains "long --org message" "has 65 bytes; give 1 to 64" \
    "$(cat "$T/last.err")"
check_status "init --crl-url without host" 2 sti-ca init --dir "$T/cu" \
    --crl-url http://
check_contains "CRL URL message" "with a host" "$(cat "$T/last.err")"
check_status "init --crl-url with a space" 2 sti-ca init --dir "$T/cu" \
    --crl-url 'http://a b/crl'
check_status "issue empty --cn" 2 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/cn.key" --spc 1234 --cn ''
check_status "issue bad --country" 2 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/cn.key" --spc 1234 --country usa
check_contains "issue country message" "'usa'" "$(cat "$T/last.err")"

# A failed init removes what it created, and only that.
check_status "init with a missing CRL issuer" 1 sti-ca init --dir "$T/c14" \
    --crl-issuer-cert "$T/none.pem"
check_eq "failed init leaves no directory" no \
    "$([ -e "$T/c14" ] && echo yes || echo no)"
mkdir "$T/keep"
echo data >"$T/keep/own.txt"
check_status "init in a directory with a file" 1 sti-ca init \
    --dir "$T/keep" --crl-issuer-cert "$T/none.pem"
check_eq "failed init keeps the directory's own files" "own.txt" \
    "$(ls "$T/keep")"

# --out never replaces a chain, and a refused --out writes no key.
cp "$T/sp.pem" "$T/sp-before.pem"
check_status "issue over an existing --out" 1 sti-ca issue --dir "$CA" \
    --new-key --key-out "$T/sp-new.key" --spc 1234 --out "$T/sp.pem"
check_contains "existing --out message" "already exists" "$(cat "$T/last.err")"
check_status "existing chain unchanged" 0 cmp "$T/sp.pem" "$T/sp-before.pem"
check_eq "no key for a refused --out" no \
    "$([ -e "$T/sp-new.key" ] && echo yes || echo no)"
check_status "--key-out and --out the same" 2 sti-ca issue --dir "$CA" \
    --new-key --key-out "$T/same.pem" --spc 1234 --out "$T/same.pem"

# TN lists: no empty entries, and counts that fit the start's length.
check_status "empty --tn entry" 2 sti-ca issue --dir "$CA" --new-key \
    --key-out "$T/tn.key" --sca --spc 1234 --tn '12,,13'
check_contains "empty entry message" "entry 2 is empty" "$(cat "$T/last.err")"
check_status "oversized --range count" 2 sti-ca issue --dir "$CA" \
    --new-key --key-out "$T/tn.key" --sca --spc 1234 \
    --range 100+99999999999999999999
check_contains "oversized count message" \
    "COUNT 99999999999999999999 is too large" "$(cat "$T/last.err")"
check_contains "oversized count limit" "holds at most 900" \
    "$(cat "$T/last.err")"
check_eq "no key for a bad --tn" no \
    "$([ -e "$T/tn.key" ] && echo yes || echo no)"

# A CSR's subject O gets the same limit as --org.
o60=$(printf '%060d' 0 | tr 0 p)
openssl req -new -key "$T/csr.key" -subj "/C=US/O=$o60/CN=SHAKEN 818H" \
    -out "$T/o60.csr" 2>/dev/null
check_status "CSR with a 60-byte O" 0 sti-ca issue --dir "$CA" \
    --csr "$T/o60.csr" --spc 818H --out "$T/o60.pem"
check_contains "60-byte O kept" "O = $o60" \
    "$(openssl x509 -in "$T/o60.pem" -noout -subject)"
e40=$(printf '%040d' 0 | sed 's/0/\xc3\xa9/g')
openssl req -new -utf8 -key "$T/csr.key" -subj "/C=US/O=$e40/CN=SHAKEN 818H" \
    -out "$T/e40.csr" 2>/dev/null
check_status "CSR with an 80-byte O" 1 sti-ca issue --dir "$CA" \
    --csr "$T/e40.csr" --spc 818H --out "$T/e40.pem"
check_contains "80-byte O message" "has 80 bytes" "$(cat "$T/last.err")"
check_status "CSR O replaced by --org" 0 sti-ca issue --dir "$CA" \
    --csr "$T/e40.csr" --spc 818H --org Short --out "$T/e40.pem"
openssl req -new -utf8 -key "$T/csr.key" \
    -subj "/C=US/O=Caf$(printf '\303\251'), Inc./CN=SHAKEN 818H" \
    -out "$T/utf.csr" 2>/dev/null
check_status "CSR with an escaped O" 0 sti-ca issue --dir "$CA" \
    --csr "$T/utf.csr" --spc 818H --out "$T/utf.pem"
check_contains "escaped O kept" "O=Caf$(printf '\303\251')\\, Inc." \
    "$(sti inspect "$T/utf.pem")"

# The root is a trust anchor, which no CRL revokes.
root_serial=$(openssl x509 -in "$CA/root.pem" -noout -serial | cut -d= -f2)
check_status "revoke the root" 1 sti-ca revoke --dir "$CA" "$root_serial"
check_contains "revoke root message" "trust anchor" "$(cat "$T/last.err")"
check_contains "root stays valid" "ca-root         valid" \
    "$(sti-ca list --dir "$CA")"
check_status "revoke a 200-digit serial" 2 sti-ca revoke --dir "$CA" \
    "$(printf '%0200d' 0 | tr 0 7)"
check_contains "long serial message" "at most 40" "$(cat "$T/last.err")"

finish
