#!/bin/bash
# `make demo`: starts a local mock provider (rate-limited, slow, a little faulty), runs the
# sample batch against it with the live status line, and prints the summary. It needs only
# what a bare Debian 12 with the build's packages has (bash, coreutils, grep, sed): no curl,
# no python3 (tests/e2e/demo_bare.sh runs it so). The results stay in build/demo/.
set -euo pipefail
SLUICE=${1:-build/sluice}
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")
out_dir=${DEMO_DIR:-build/demo}
mkdir -p "$out_dir"
results="$out_dir/results.jsonl"
rm -f "$results" # a new demo, new results: never appended to the last one's
mock_pid=""
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

# GET a path from the mock with bash alone (/dev/tcp), printing the body.
http_get() {
    local hostport=${1#http://} path=$2
    exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}"
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
    sed '1,/^\r*$/d' <&3
    exec 3<&-
}
timeout 300 "$SLUICE" mock --listen 127.0.0.1:0 --rpm 3000 --latency 300 --jitter 0.4 \
    --fail-rate 0.03 --reset-rate 0.01 --seed 42 >"$work/mock.out" 2>&1 &
mock_pid=$!
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$work/mock.out" 2>/dev/null && break
    sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/mock.out" | head -n1)
[ -n "$url" ] || { cat "$work/mock.out" >&2; echo "demo: the mock did not start" >&2; exit 1; }
echo "demo: mock provider at $url (3000 requests/min, ~300 ms latency, some server errors"
echo "      and dropped connections)"
echo "demo: sluice run examples/requests.jsonl -o $results --base-url $url --provider none"
echo
"$SLUICE" run examples/requests.jsonl -o "$results" --base-url "$url" \
    --provider none -c 32 --backoff-base 0.2 --progress || true
echo
echo "demo: the first results, by custom_id (all of them are in $results):"
head -n 3 "$results" | sed 's/^\(.\{150\}\).*/\1 .../'
echo "demo: the mock's own count of what it served:"
http_get "$url" /mock/stats
echo
