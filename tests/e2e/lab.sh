#!/bin/sh
# sti lab end to end in a temporary directory: up, status, test (twice),
# a second up that reuses the lab and restarts a stopped service, then
# down, after which no process of the lab may be alive.
. "$(dirname "$0")/lib.sh"

L=$T/lab

# Stops the lab even when a check fails half-way.
lab_cleanup() {
    sti lab down --dir "$L" >/dev/null 2>&1
    cleanup
}
trap lab_cleanup EXIT INT TERM

pids() { cat "$L"/run/*.pid 2>/dev/null | sort | tr '\n' ' '; }

check_status "help" 0 sti lab --help
check_status "no subcommand" 2 sti lab
check_status "unknown subcommand" 2 sti lab frobnicate
check_status "bad providers" 2 sti lab up --dir "$L" --providers 0
check_status "providers on status" 2 sti lab status --dir "$L" --providers 2
check_status "status without a lab" 1 sti lab status --dir "$T/none"

check_status "up" 0 sti lab up --dir "$L" --providers 2
check_contains "summary names sti serve" "/stir/v1/signing" "$(cat "$T/last.out")"
check_contains "summary says how to stop" "sti lab down" "$(cat "$T/last.out")"
for f in lab.env summary.txt trust/ca-roots.pem trust/crl.pem trust/tls.pem \
    sp/1001/chain.pem sp/1002/chain.pem sp/1001/x5u; do
    if [ -s "$L/$f" ]; then ok "file $f"; else fail "file $f missing"; fi
done
check_eq "password file mode" 600 "$(stat -c %a "$L/secrets/1001.password")"
check_eq "key file mode" 600 "$(stat -c %a "$L/sp/1001/cert.key")"
if grep -q "$(cat "$L/secrets/1001.password")" "$L"/run/*.log "$L/lab.env"; then
    fail "a password appears in a log or lab.env"
else
    ok "no password in logs or lab.env"
fi

# The environment file names the running services.
(
    . "$L/lab.env"
    curl -s -o /dev/null -w '%{http_code}' --cacert "$STI_LAB_TLS_CA_FILE" \
        "$STI_LAB_SP1_X5U" >"$T/x5u.code"
    curl -s -o /dev/null -w '%{http_code}' -X POST \
        "$STI_LAB_SERVE_URL/stir/v1/verification" -d '{}' >"$T/serve.code"
)
check_eq "x5u from lab.env serves the chain" 200 "$(cat "$T/x5u.code")"
check_eq "sti serve from lab.env answers" 400 "$(cat "$T/serve.code")"
check_eq "leaf chains to the approved root" "OK" \
    "$(openssl verify -CAfile "$L/trust/ca-roots.pem" \
        -untrusted "$L/ca/intermediate.pem" "$L/sp/1002/chain.pem" |
        sed 's/.*: //')"

serve_args=$(ps -o args= -p "$(cat "$L/run/serve.pid")")
check_contains "serve gets --x5u-ca-file" "--x5u-ca-file" "$serve_args"
check_contains "serve takes its anchors from the PA's CA list" \
    "--ca-list https://127.0.0.1:" "$serve_args"
check_contains "serve fetches the PA's CRL" "--crl https://127.0.0.1:" \
    "$serve_args"
check_contains "serve trusts the lab TLS for the CRL" "--crl-ca-file" \
    "$serve_args"
check_status "status" 0 sti lab status --dir "$L"
check_contains "status tree has provider 1002" "sp 1002" "$(cat "$T/last.out")"
check_contains "status shows the x5u" "x5u https://127.0.0.1:" "$(cat "$T/last.out")"
check_contains "status shows sti serve up" "serve  up" "$(cat "$T/last.out")"
check_status "status --json" 0 sti lab status --dir "$L" --json
check_contains "status JSON has the SPC" '"spc": "1001"' "$(cat "$T/last.out")"
check_contains "status JSON has services" '"state": "up"' "$(cat "$T/last.out")"

check_status "test" 0 sti lab test --dir "$L"
cp "$T/last.out" "$T/test1.out"
check_contains "test table" "as expected, 0 mismatched" "$(cat "$T/test1.out")"
check_eq "every step ok" "$(grep -c ' ok$' "$T/test1.out")" \
    "$(sed -n 's/^\([0-9]*\) steps:.*/\1/p' "$T/test1.out")"
check_contains "revocation caught" "certificate revoked at the PA" \
    "$(cat "$T/test1.out")"
serve_pid=$(cat "$L/run/serve.pid")
check_status "test again (JSON)" 0 sti lab test --dir "$L" --json
cp "$T/last.out" "$T/test2.json"
check_contains "second test passes" '"failed": 0' "$(cat "$T/test2.json")"
check_eq "no step failed the second time" "" \
    "$(jq -c '.steps[] | select(.passed == false) | [.name, .via, .actual,
        .detail]' "$T/test2.json")"
# Every scenario that LAB.md promises appears, for each verifier.
for via in "sti verify" "sti serve"; do
    for name in "stale iat (1 h old)" "future iat (1 h ahead)" \
        "tampered claims (orig changed)" "tampered signature" \
        "unreachable x5u" "certificate from an unapproved CA" \
        "delegate, orig in its TNs" "delegate, orig not in its TNs" \
        "certificate revoked at the PA"; do
        check_eq "step '$name' via $via" 1 "$(jq --arg n "$name" \
            --arg v "$via" '[.steps[] | select(.name == $n and .via == $v)]
            | length' "$T/test2.json")"
    done
done
if [ -x /usr/bin/secsipidx ]; then
    check_eq "tampered signature via secsipidx" fail "$(jq -r \
        '.steps[] | select(.name == "tampered signature" and
        .via == "secsipidx") | .actual' "$T/test2.json")"
fi
check_eq "no detail with trailing space" 0 \
    "$(jq '[.steps[] | select(.detail != null and
        (.detail | test(" $")))] | length' "$T/test2.json")"
check_eq "serve reloaded, not restarted" "$serve_pid" "$(cat "$L/run/serve.pid")"
check_contains "serve logs the CRL reload" \
    "reloaded the trust anchors and CRL" "$(cat "$L/run/serve.log")"
check_status "status after test" 0 sti lab status --dir "$L"
check_contains "providers stay valid" "not revoked" "$(cat "$T/last.out")"
if grep -q REVOKED "$T/last.out"; then
    fail "a provider certificate was revoked: $(cat "$T/last.out")"
else
    ok "no provider revoked"
fi

# A second up reuses everything and restarts what stopped.
before=$(pids)
cr_pid=$(cat "$L/run/cr.pid")
kill -TERM "$cr_pid"
i=0
while kill -0 "$cr_pid" 2>/dev/null &&
    ! ps -o stat= -p "$cr_pid" | grep -q Z && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_status "status with cr down" 1 sti lab status --dir "$L"
check_contains "status shows cr down" "down" "$(cat "$T/last.out")"
serial1=$(openssl x509 -in "$L/sp/1001/chain.pem" -noout -serial)
check_status "second up adds a provider" 0 sti lab up --dir "$L" --providers 3
check_eq "certificate reused" "$serial1" \
    "$(openssl x509 -in "$L/sp/1001/chain.pem" -noout -serial)"
check_eq "pa kept its pid" "$(cat "$L/run/pa.pid")" \
    "$(echo "$before" | tr ' ' '\n' | grep -x "$(cat "$L/run/pa.pid")")"
check_eq "cr restarted with a new pid" "" \
    "$(grep -x "$cr_pid" "$L/run/cr.pid")"
check_eq "every service has a pid again" 4 "$(pids | tr ' ' '\n' | grep -c .)"
check_contains "provider 1003 in lab.env" "STI_LAB_SP3_X5U='https://" \
    "$(cat "$L/lab.env")"
check_status "fewer providers keeps them" 0 sti lab up --dir "$L" --providers 1
check_contains "provider 1003 kept" "STI_LAB_PROVIDERS=3" "$(cat "$L/lab.env")"
check_status "test after restart" 0 sti lab test --dir "$L"

# down stops every process it started.
after=$(pids)
check_status "down" 0 sti lab down --dir "$L"
check_contains "down names the services" "stopped pa" "$(cat "$T/last.out")"
# A stopped service may linger as a zombie until init reaps it; only a
# process in another state counts as alive.
alive=""
for p in $before $after; do
    state=$(ps -o stat= -p "$p" 2>/dev/null)
    case "$state" in "" | Z*) ;; *) alive="$alive $p($state)" ;; esac
done
check_eq "no lab process alive after down" "" "$alive"
check_eq "pid files removed" "" "$(ls "$L"/run/*.pid 2>/dev/null)"
if grep -q 'Sanitizer\|runtime error' "$L"/run/*.log; then
    fail "sanitizer report in a service log: $(grep -h -m3 'ERROR\|runtime error' "$L"/run/*.log)"
else
    ok "service logs clean"
fi
check_status "down twice" 0 sti lab down --dir "$L"
check_status "test when down" 1 sti lab test --dir "$L"

finish
