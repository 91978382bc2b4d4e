#!/bin/sh
# sti lint and sti inspect on the crafted certificates of tests/data/lint,
# on PEM, DER and standard input, with their exit codes.
. tests/e2e/lib.sh

D=tests/data/lint
AT=$(($(cat "$D/at") + 60))

# Every crafted case reports its expected rules, and exits 1 when one of
# them is an error (e_), 0 otherwise; the clean case prints no finding.
for dir in "$D"/*/; do
    name=$(basename "$dir")
    [ -f "$dir/expected" ] || continue
    out=$(sti lint --at "$AT" "$dir/cert.pem")
    status=$?
    want=0
    grep -q '^e_' "$dir/expected" && want=1
    if [ -s "$dir/expected" ]; then
        check_eq "$name: exit status" "$want" "$status"
        while read -r rule; do
            check_contains "$name: reports $rule" " $rule: " "$out"
        done <"$dir/expected"
    else
        check_eq "$name: exit status" 0 "$status"
        check_eq "$name: output" "clean: 3 certificates, no findings" "$out"
    fi
done

# JSON, standard input and DER
json=$(sti lint --json --at "$AT" "$D/tnauth_critical/cert.pem")
check_contains "lint JSON rule" '"rule": "e_tnauth_critical"' "$json"
check_contains "lint JSON counts" '"errors": 1' "$json"
out=$(sti lint --at "$AT" - <"$D/key_rsa/cert.pem")
check_contains "lint reads stdin" "e_key_not_p256" "$out"
openssl x509 -in "$D/key_p384/cert.pem" -outform DER -out "$T/p384.der"
out=$(sti lint --at "$AT" "$T/p384.der")
check_contains "lint reads DER" "cert 0: error e_key_not_p256:" "$out"
out=$(sti lint --at "$AT" "$T/p384.der")
check_contains "lone leaf gets a notice" "notice n_chain_no_root" "$out"
check_status "expired chain warns only" 0 sti lint \
    --at $((AT + 400 * 86400)) "$D/clean/cert.pem"
check_contains "expired warning" "w_expired" "$(cat "$T/last.out")"

# lint usage and input errors
check_status "lint without file" 2 sti lint
check_status "lint bad option" 2 sti lint --bogus "$D/clean/cert.pem"
check_status "lint unknown profile" 2 sti lint --profile xx "$D/clean/cert.pem"
check_status "lint bad --at" 2 sti lint --at yesterday "$D/clean/cert.pem"
check_status "lint missing file" 1 sti lint "$T/none.pem"
check_contains "missing file message" "$T/none.pem" "$(cat "$T/last.err")"
echo "garbage" >"$T/garbage"
check_status "lint garbage" 1 sti lint "$T/garbage"
check_status "lint --help" 0 sti lint --help

# inspect: chain, DER, CSR, TNAuthList
out=$(sti inspect "$D/clean/cert.pem")
check_contains "inspect chain" "count: 3" "$out"
check_contains "inspect TNAuthList" "spec: spc:1234" "$out"
out=$(sti inspect --json "$T/p384.der")
check_contains "inspect DER JSON" '"public_key": "EC secp384r1"' "$out"
out=$(sti inspect "$D/tnauth_truncated/cert.pem")
check_contains "inspect truncated TNAuthList" "error: " "$out"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/k.pem" 2>/dev/null
openssl req -new -key "$T/k.pem" -subj "/C=US/O=P/CN=SHAKEN 818H" \
    -addext "1.3.6.1.5.5.7.1.26=DER:30:08:A0:06:16:04:38:31:38:48" \
    -out "$T/req.pem" 2>/dev/null
out=$(sti inspect --json "$T/req.pem")
check_contains "inspect CSR" '"type": "csr"' "$out"
check_contains "inspect CSR TNAuthList" '"spec": "spc:818H"' "$out"
check_contains "inspect CSR signature" '"signature_valid": true' "$out"
out=$(echo MAigBhYEODE4SA== | sti inspect -)
check_contains "inspect base64 TNAuthList" "value: 818H" "$out"
printf '\060\010\240\006\026\004\061\062\063\064' >"$T/tn.der"
out=$(sti inspect --json "$T/tn.der")
check_contains "inspect raw TNAuthList" '"type": "tnauthlist"' "$out"
out=$(sti lint --at "$AT" "$D/tnauth_truncated/cert.pem")
check_contains "malformed TNAuthList message" \
    "e_tnauth_malformed: TNAuthList DER is malformed or truncated" "$out"
case "$out" in
*"DER is malformed: "*) fail "malformed TNAuthList message repeats" ;;
*) ok "malformed TNAuthList message said once" ;;
esac

# inspect describes every crafted case in both forms, and exits 0 or 1 on
# each truncation of a chain, never crashing.
for dir in "$D"/*/; do
    name=$(basename "$dir")
    check_status "inspect $name" 0 sti inspect "$dir/cert.pem"
    check_status "inspect --json $name" 0 sti inspect --json "$dir/cert.pem"
done
size=$(wc -c <"$D/two_policies/cert.pem")
bad=""
for n in 1 20 27 28 64 65 100 300 $((size / 3)) $((size / 2)) \
    $((size - 40)) $((size - 30)) $((size - 1)); do
    head -c "$n" "$D/two_policies/cert.pem" >"$T/cut.pem"
    sti inspect "$T/cut.pem" >/dev/null 2>&1
    status=$?
    [ "$status" -le 1 ] || bad="$bad $n:$status"
    openssl x509 -in "$D/two_policies/cert.pem" -outform DER 2>/dev/null |
        head -c "$n" >"$T/cut.der"
    sti inspect --json "$T/cut.der" >/dev/null 2>&1
    status=$?
    [ "$status" -le 1 ] || bad="$bad der$n:$status"
done
check_eq "inspect truncated inputs" "" "$bad"

check_status "inspect garbage" 1 sti inspect "$T/garbage"
check_contains "inspect garbage message" "not a certificate" \
    "$(cat "$T/last.err")"
check_status "inspect without file" 2 sti inspect
check_status "inspect --help" 0 sti inspect --help

# The sti command table: usage, unknown commands, option messages.
check_status "sti --help" 0 sti --help
check_contains "sti --help lists commands" \
    "  inspect  describe certificates" "$(cat "$T/last.out")"
check_contains "sti --help names the man page" "see sti(1)" \
    "$(cat "$T/last.out")"
check_status "sti unknown command" 2 sti frobnicate
check_contains "unknown command message" "sti: unknown command 'frobnicate'" \
    "$(cat "$T/last.err")"
check_status "sti acme bad option" 2 sti acme --bogus
check_contains "bad option names the command" \
    "sti acme: unrecognized option '--bogus'" "$(cat "$T/last.err")"

finish
