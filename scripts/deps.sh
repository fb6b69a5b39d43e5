#!/bin/sh
# Installs the Debian packages sluice needs, or says exactly how to.
#   scripts/deps.sh [build|test|bench|all]   (default: build)
# As root, missing packages are installed with apt-get. Otherwise the apt-get line is printed
# and the script exits 1, so `make` stops before a confusing compiler error.
set -e
profile=${1:-build}
build="gcc make cmake pkg-config libcurl4-openssl-dev libuv1-dev libjson-c-dev libhttp-parser-dev libhiredis-dev zlib1g-dev"
test="$build libcmocka-dev curl clang clang-format libclang-rt-14-dev tmux python3 openssl nginx redis-server strace faketime"
bench="$test wrk python3-aiohttp python3-tenacity gnuplot-nox valgrind strace"
case "$profile" in
build) want=$build ;;
test) want=$test ;;
bench | all) want=$bench ;;
*) echo "usage: scripts/deps.sh [build|test|bench|all]" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "sluice needs these Debian packages; run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
