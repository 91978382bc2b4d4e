#!/bin/sh
# HTTPS responses of the shared server leave in one TLS record each, with
# headers and body together, and none waits on a TCP cork.  openssl s_client -msg prints the header of
# every record it receives, so two pipelined GETs of a 1478-byte chain
# must show two records longer than the body.
. "$(dirname "$0")/lib.sh"

D="$T/cr"
BODY=1478 # bytes of tests/data/repo/good.pem

check_status "init" 0 sti-cr init --dir "$D"
cp "$STI_ROOT/tests/data/repo/good.pem" "$T/sp.pem"
check_status "publish" 0 sti-cr publish --dir "$D" "$T/sp.pem"
start_service cr "$T/cr.port" sti-cr serve --dir "$D" --threads 1 \
    --listen 127.0.0.1:0 --port-file "$T/cr.port"

# get_twice: two pipelined GETs on one connection, the second closing it.
get_twice() {
    printf 'GET /certs/sp.pem HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
    printf 'GET /certs/sp.pem HTTP/1.1\r\nHost: 127.0.0.1\r\n'
    printf 'Connection: close\r\n\r\n'
}
get_twice | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" \
    -CAfile "$D/tls-cert.pem" -quiet -msg -ign_eof >"$T/msg" 2>&1

check_eq "both pipelined requests answered" 2 \
    "$(grep -a -c '^HTTP/1.1 200' "$T/msg")"
check_eq "both bodies complete" 4 \
    "$(grep -a -c -- '-----END CERTIFICATE-----' "$T/msg")"
# Each received record header is printed as "17 03 03 HH LL" on the line
# after "<<< ... RecordHeader"; 17 is application data (RFC 8446 5.1).
grep -a -A1 '^<<< .*RecordHeader' "$T/msg" |
    awk '$1 == "17" { print $4 $5 }' |
    while read -r hex; do printf '%d\n' "0x$hex"; done >"$T/lengths"
# A record with the headers and the body is longer than the body plus
# 100 bytes of headers.  A body sent alone is at most 17 bytes longer.
check_eq "each response is one record with headers and body" 2 \
    "$(awk -v b=$BODY '$1 > b + 100' "$T/lengths" | wc -l | tr -d ' ')"

# A small response (404) before and after a chain on one connection: no
# response may wait for the kernel's 200 ms TCP_CORK timer.
U="https://127.0.0.1:$PORT/certs"
curl -s --cacert "$D/tls-cert.pem" -o /dev/null -o /dev/null -o /dev/null \
    -o /dev/null -w '%{http_code} %{num_connects} %{time_starttransfer}\n' \
    "$U/none.pem" "$U/sp.pem" "$U/none.pem" "$U/sp.pem" >"$T/times"
check_eq "statuses on one connection" "404 1 200 0 404 0 200 0" \
    "$(awk '{ out = out (NR > 1 ? " " : "") $1 " " $2 } END { print out }' \
        "$T/times")"
check_eq "no response waits for the cork timer" "" \
    "$(awk '$3 >= 0.15 { print NR ": " $3 " s" }' "$T/times")"

# A client that pipelines requests and reads nothing for 3 s fills the
# socket buffers.  The server then closes the connection with one warning
# (not one per request), and the access log marks the responses that it
# could not send.
awk 'BEGIN { for (i = 0; i < 40000; i++)
    printf "GET /certs/none.pem HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" }' \
    >"$T/pipelined"
(cat "$T/pipelined"; sleep 4) | timeout 20 openssl s_client \
    -connect "127.0.0.1:$PORT" -CAfile "$D/tls-cert.pem" -quiet 2>/dev/null |
    (sleep 3; cat >/dev/null)

stop_services
check_eq "server logged every chain request" 4 \
    "$(grep -c 'GET /certs/sp.pem 200' "$T/cr.log")"
check_eq "one warning for the lazy reader" 1 \
    "$(grep -c 'sending the response failed' "$T/cr.log")"
if grep -q 'none.pem 404 .*closed before the response was sent' "$T/cr.log"
then
    ok "access log marks the responses not sent"
else
    fail "access log marks the responses not sent"
fi
finish
