# Helpers shared by bench/compare.sh, bench/memory.sh and bench/profile/*.sh (sourced, not
# run: `make bench` runs bench/*.sh only). Every server is started on 127.0.0.1 by the
# script that uses it and stopped by its EXIT trap; every load is bounded in count and time.

SLUICE=${SLUICE:-build/sluice}
PY=${PY:-/usr/bin/python3}   # Debian's python3: the one python3-aiohttp is installed for
# shellcheck disable=SC2034  # used by the scripts that source this file
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
MOCK_PID=""
MOCK_URL=""

bench_cleanup() {
    mock_stop
    [ -n "${KEEP:-}" ] && { echo "kept $T" >&2; return; }
    rm -rf "$T"
}
trap bench_cleanup EXIT

die() { echo "$(basename "$0"): $*" >&2; exit 2; }

need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || die "$c is not installed (scripts/deps.sh bench)"
    done
    [ -x "$SLUICE" ] || die "no binary at $SLUICE (set SLUICE)"
}

# mock_start [sluice mock options...]: starts the mock on a free port, sets MOCK_URL.
mock_start() {
    mock_stop
    "$SLUICE" mock --listen 127.0.0.1:0 "$@" >"$T/mock.out" 2>"$T/mock.err" &
    MOCK_PID=$!
    local _
    for _ in $(seq 1 100); do
        grep -q '^listening on ' "$T/mock.out" && break
        sleep 0.05
    done
    MOCK_URL=$(sed -n 's/^listening on //p' "$T/mock.out")
    [ -n "$MOCK_URL" ] || { cat "$T/mock.err" >&2; die "the mock did not start"; }
}

mock_stop() {
    if [ -n "$MOCK_PID" ]; then
        kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
        MOCK_PID=""
    fi
    return 0
}

mock_stat() { # mock_stat KEY: a number from GET /mock/stats ("requests", "max_concurrency")
    curl -s --max-time 5 "$MOCK_URL/mock/stats" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2
}

# make_input N PATH: N lines in the OpenAI Batch format, the same small chat request with
# a different number in each prompt (bodies of ~120 bytes, lines of ~225 bytes).
make_input() {
    awk -v n="$1" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "{\"custom_id\":\"req-%d\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gpt-4o-mini\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"Classify: the river flows under the bridge. (%d)\"}]}}\n", i, i
    }' >"$2"
}

# timed FILE CMD...: runs CMD under /usr/bin/time; FILE gets "wall user sys maxrss_kb".
timed() {
    local f=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$f" "$@"
}

median() { # median of the numbers on stdin
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
        else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

machine_line() {
    local cpu
    cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
    echo "$(nproc) cores, ${cpu:-unknown CPU}, $(free -g | awk '/^Mem:/ { print $2 }') GB," \
        "Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
}
