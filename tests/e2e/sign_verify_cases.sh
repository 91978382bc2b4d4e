#!/bin/sh
# Data-driven verification faults: each tests/data/verify/NAME/case file
# builds one Identity header (signed by sti sign, or by openssl over
# hand-written JSON), optionally mutates it, verifies it and asserts the
# exit status, SIP code and reason.  See tests/data/verify/README.
. "$(dirname "$0")/lib.sh"
. "$STI_ROOT/tests/data/verify/pki.sh"

P="$T/pki"
pki_make "$P" || { echo "cannot build the test PKI"; cat "$P/openssl.log"; exit 1; }
cr_start "$T/cr" "$P/chain.pem" || exit 1
# set_times: NOW and the dates built from it, taken again for each case,
# because a slow run (under the sanitizers) can last longer than the
# 5 s that iat may lie ahead of a SIP Date.
set_times() {
    NOW=$(date +%s)
    HTTP_DATE=$(LC_ALL=C date -u -d "@$NOW" '+%a, %d %b %Y %H:%M:%S GMT')
    OLD_DATE=$(LC_ALL=C date -u -d "@$((NOW - 120))" \
        '+%a, %d %b %Y %H:%M:%S GMT')
    FUTURE_DATE=$(LC_ALL=C date -u -d "@$((NOW + 120))" \
        '+%a, %d %b %Y %H:%M:%S GMT')
}

# subst TEXT: fills the @NAME@ placeholders of the case files.
subst() {
    printf %s "$1" | sed -e "s|@X5U@|$X5U|g" \
        -e "s|@X5U_BASE@|https://127.0.0.1:$PORT|g" \
        -e "s|@NOW@|$NOW|g" -e "s|@OLD@|$((NOW - 120))|g" \
        -e "s|@FUTURE@|$((NOW + 120))|g" -e "s|@DATE@|$HTTP_DATE|g" \
        -e "s|@OLD_DATE@|$OLD_DATE|g" -e "s|@FUTURE_DATE@|$FUTURE_DATE|g"
}

DEFAULT_HEADER='{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"@X5U@"}'
DEFAULT_PARAMS=';info=<@X5U@>;alg=ES256;ppt=shaken'
DEFAULT_SIGN='--orig 12025550100 --dest 12025550101 --attest A'

make_value() {
    if [ -n "$payload" ]; then
        jws=$(jws_sign "$P" "$(subst "${header:-$DEFAULT_HEADER}")" \
            "$(subst "$payload")" $der)
        value="$jws$(subst "${params:-$DEFAULT_PARAMS}")"
    else
        value=$(sti sign --key "$P/sp.key" --x5u "$(subst "${x5u:-@X5U@}")" \
            $(subst "${sign_args:-$DEFAULT_SIGN}"))
    fi
    if [ -n "$mutate" ]; then
        value=$(printf %s "$value" | sed "$mutate")
    fi
}

run_case() {
    dir=$1
    name=$(basename "$dir")
    desc='' sign_args='' x5u='' header='' payload='' der='' params=''
    mutate='' verify_args='' ca=root.pem strict='' sip='' want_exit=''
    want_code='' want_reason=''
    . "$dir/case"
    set_times
    make_value
    opts="--ca-file $P/$ca --x5u-ca-file $CR_CA --json"
    [ -z "$strict" ] && opts="$opts --allow-any-port"
    if [ -n "$sip" ]; then
        subst "$(cat "$dir/$sip")" | sed "s|@IDENTITY@|$value|" |
            sed 's/$/\r/' >"$T/$name.sip"
        sti verify $opts $(subst "$verify_args") --file "$T/$name.sip" \
            >"$T/out" 2>"$T/err"
    else
        sti verify $opts $(subst "$verify_args") "$value" >"$T/out" \
            2>"$T/err"
    fi
    got=$?
    out=$(cat "$T/out" "$T/err")
    check_eq "$name: exit ($desc)" "$want_exit" "$got"
    check_contains "$name: SIP code" "\"sip_code\":$want_code," "$out"
    check_contains "$name: reason" "$want_reason" "$out"
}

n=0
for dir in "$STI_ROOT"/tests/data/verify/*/; do
    [ -f "$dir/case" ] || continue
    run_case "${dir%/}"
    n=$((n + 1))
done
check_eq "cases found" yes "$([ "$n" -ge 20 ] && echo yes || echo no)"
finish
