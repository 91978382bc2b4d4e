# Shared helpers for the end-to-end scripts; source it first.
# Provides: $T (a temporary directory removed on exit), $STI_BIN, check_*,
# start_service/stop_services, and a summary with finish.
set -u

: "${STI_BIN:?run through tests/run.sh or set STI_BIN}"
: "${STI_ROOT:=$(pwd)}"
T=$(mktemp -d "${TMPDIR:-/tmp}/sti-e2e.XXXXXX")
PATH="$STI_BIN:$PATH"
export PATH
checks=0
check_failures=0
service_pids=""

cleanup() {
    stop_services
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*"
    check_failures=$((check_failures + 1))
}

ok() {
    checks=$((checks + 1))
    echo "ok: $*"
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# check_contains NAME NEEDLE HAYSTACK
check_contains() {
    case "$3" in
    *"$2"*) ok "$1" ;;
    *) fail "$1: '$2' not found in: $(printf %s "$3" | head -c 400)" ;;
    esac
}

# check_status NAME EXPECTED_EXIT COMMAND...
check_status() {
    name=$1
    want=$2
    shift 2
    "$@" >"$T/last.out" 2>"$T/last.err"
    got=$?
    if [ "$got" = "$want" ]; then
        ok "$name"
    else
        fail "$name: exit $got, expected $want; stderr: $(head -c 400 "$T/last.err")"
    fi
}

# start_service NAME PORTFILE COMMAND...: runs COMMAND in the background with
# its stderr in $T/NAME.log and waits (10 s at most) until PORTFILE exists;
# then sets $PORT.
start_service() {
    svc=$1
    portfile=$2
    shift 2
    rm -f "$portfile"
    "$@" 2>"$T/$svc.log" &
    service_pids="$service_pids $!"
    i=0
    while [ ! -s "$portfile" ]; do
        i=$((i + 1))
        if [ $i -gt 100 ]; then
            echo "service $svc did not start; log:"
            cat "$T/$svc.log"
            exit 1
        fi
        sleep 0.1
    done
    PORT=$(cat "$portfile")
}

stop_services() {
    for pid in $service_pids; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $service_pids; do
        wait "$pid" 2>/dev/null
    done
    service_pids=""
}

finish() {
    echo "$checks checks passed, $check_failures failed"
    [ "$check_failures" -eq 0 ]
    exit $?
}
