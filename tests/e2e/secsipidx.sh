#!/bin/sh
# Interoperability with secsipidx, an independent STIR/SHAKEN
# implementation: headers that sti signs pass `secsipidx -check`, with and
# without certificate path validation, and headers that secsipidx signs
# pass `sti verify`.
. "$(dirname "$0")/lib.sh"
. "$STI_ROOT/tests/data/verify/pki.sh"

if ! command -v secsipidx >/dev/null 2>&1; then
    echo "secsipidx is not installed; scripts/deps.sh check installs it"
    exit 1
fi
P="$T/pki"
pki_make "$P" || { echo "cannot build the test PKI"; cat "$P/openssl.log"; exit 1; }
cr_start "$T/cr" "$P/chain.pem" || exit 1
V="--ca-file $P/root.pem --allow-any-port --x5u-ca-file $CR_CA"

# secsipidx reads the certificate from -fpubkey (PEM, leaf first) and
# needs -expire, since its default of 0 s rejects every PASSporT.
ssx_check() { # IDENTITY_FILE [options]
    f=$1
    shift
    secsipidx -check -fidentity "$f" -fpubkey "$P/chain.pem" -expire 60 "$@"
}

# Succeeds when secsipidx rejects the header, whatever its error code.
ssx_rejects() {
    ! ssx_check "$@"
}

for attest in A B C; do
    sti sign --key "$P/sp.key" --x5u "$X5U" --attest "$attest" \
        --orig 12025550100 --dest 12025550101 --dest 12025550102 \
        >"$T/id-$attest.txt"
    check_status "secsipidx accepts attest $attest" 0 ssx_check \
        "$T/id-$attest.txt"
done
check_status "secsipidx validates our chain" 0 ssx_check "$T/id-A.txt" \
    -cert-verify 5 -ca-file "$P/root.pem"
check_status "secsipidx rejects another root" 0 ssx_rejects "$T/id-A.txt" \
    -cert-verify 5 -ca-file "$P/other-root.pem"
sti sign --key "$P/sp.key" --x5u "$X5U" --attest A --orig 12025550100 \
    --dest 12025550101 --claims '{"rcd":{"nam":"Alice"}}' >"$T/id-rcd.txt"
check_status "secsipidx accepts rcd claims" 0 ssx_check "$T/id-rcd.txt"
sti sign --key "$P/sp.key" --x5u "$X5U" --attest A --orig 12025550100 \
    --dest 12025550101 --iat $(($(date +%s) - 300)) >"$T/id-old.txt"
check_status "secsipidx rejects our stale header" 0 ssx_rejects \
    "$T/id-old.txt"

for attest in A B C; do
    S=$(secsipidx -sign-full -o 12025550100 -d 12025550101 -a "$attest" \
        -x5u "$X5U" -k "$P/sp.key")
    check_status "sti verifies secsipidx attest $attest" 0 \
        sti verify $V --orig 12025550100 --dest 12025550101 "$S"
    check_contains "attestation $attest read" "attest=$attest" \
        "$(cat "$T/last.out")"
done
S=$(secsipidx -sign-full -o 12025550100 -d 12025550101 -a A -x5u "$X5U" \
    -k "$P/other.key")
check_status "sti rejects secsipidx signed with a wrong key" 1 \
    sti verify $V "$S"
check_contains "wrong key is 438" "438 Invalid Identity Header" \
    "$(cat "$T/last.out")"

finish
