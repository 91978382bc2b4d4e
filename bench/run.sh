#!/bin/sh
# Runs every benchmark script bench/*.sh (except this one) in turn, and
# bench/serve.sh a second time with nothing pinned (BENCH_PIN=0).
# Usage: bench/run.sh BUILD_DIR
set -eu
: "${1:?usage: bench/run.sh BUILD_DIR}"
STI_BIN="$(cd "$1" && pwd)/bin"
export STI_BIN
status=0
for b in bench/*.sh; do
    [ "$(basename "$b")" = run.sh ] && continue
    echo "== $b"
    sh "$b" || status=1
done
echo "== bench/serve.sh, BENCH_PIN=0"
BENCH_PIN=0 sh bench/serve.sh || status=1
exit $status
