#!/bin/sh
# Install the Debian packages that stilab needs and are missing.
# Usage: scripts/deps.sh [build|check|bench]...   (default: build check)
# Does nothing, and needs no network, when every package is present.
set -eu

build_pkgs="make gcc pkg-config libssl-dev libsqlite3-dev libcurl4-openssl-dev
libjansson-dev libmicrohttpd-dev libgnutls28-dev libosip2-dev libcmocka-dev"
check_pkgs="curl openssl sqlite3 secsipidx mandoc jq binutils"
bench_pkgs="nginx-light wrk"

groups="${*:-build check}"
wanted=""
for g in $groups; do
    case "$g" in
    build) wanted="$wanted $build_pkgs" ;;
    check) wanted="$wanted $build_pkgs $check_pkgs" ;;
    bench) wanted="$wanted $build_pkgs $check_pkgs $bench_pkgs" ;;
    *)
        echo "deps.sh: unknown group '$g' (expected build, check or bench)" >&2
        exit 2
        ;;
    esac
done

missing=""
for p in $wanted; do
    case " $missing " in *" $p "*) continue ;; esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "deps.sh: installing missing packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "deps.sh: need root or sudo to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
