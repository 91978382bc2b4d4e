#!/bin/sh
# Runs the cmocka unit test programs and the end-to-end scripts, then prints
# one closing line "N passed, N failed".
# Usage: tests/run.sh [--unit | --e2e] [UNIT_PROGRAM...]
# Environment: STI_BUILD (build directory), STI_E2E_TIMEOUT (seconds per
# script, default 600), STI_E2E_ONLY (run only scripts whose name contains it).
set -u

mode=all
case "${1:-}" in
--unit) mode=unit; shift ;;
--e2e) mode=e2e; shift ;;
esac

: "${STI_BUILD:=build}"
STI_BIN="$(cd "$STI_BUILD" && pwd)/bin"
STI_ROOT="$(pwd)"
export STI_BUILD STI_BIN STI_ROOT
passed=0
failed=0
failures=""
log_dir="$STI_BUILD/test-logs"
mkdir -p "$log_dir"

if [ "$mode" != e2e ]; then
    for prog in "$@"; do
        name=$(basename "$prog")
        log="$log_dir/$name.log"
        # stdin is /dev/null so that no test depends on the caller's.
        if CMOCKA_MESSAGE_OUTPUT=stdout "$prog" </dev/null >"$log" 2>&1; then
            status=ok
        else
            status=fail
        fi
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
        p=${p:-0}
        f=${f:-0}
        if [ "$status" = fail ] && [ "$f" -eq 0 ]; then
            f=1 # crashed or exited early
        fi
        passed=$((passed + p))
        failed=$((failed + f))
        if [ "$status" = ok ]; then
            echo "PASS unit $name ($p)"
        else
            echo "FAIL unit $name ($p passed, $f failed); log: $log"
            sed -n '/FAILED\|ERROR\|Failure\|runtime error\|Sanitizer/p' "$log" |
                head -n 20
            failures="$failures unit:$name"
        fi
    done
fi

if [ "$mode" != unit ]; then
    for script in tests/e2e/[0-9a-z]*.sh; do
        [ -f "$script" ] || continue
        name=$(basename "$script" .sh)
        case "$name" in lib) continue ;; esac
        if [ -n "${STI_E2E_ONLY:-}" ]; then
            case "$name" in *"$STI_E2E_ONLY"*) ;; *) continue ;; esac
        fi
        log="$log_dir/e2e-$name.log"
        if timeout "${STI_E2E_TIMEOUT:-600}" sh "$script" </dev/null \
            >"$log" 2>&1; then
            passed=$((passed + 1))
            echo "PASS e2e $name"
        else
            failed=$((failed + 1))
            echo "FAIL e2e $name; log: $log"
            tail -n 25 "$log" | sed 's/^/    /'
            failures="$failures e2e:$name"
        fi
    done
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
