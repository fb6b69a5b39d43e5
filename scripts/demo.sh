#!/bin/bash
# `make demo`: starts a local mock provider (rate-limited, slow, a little faulty), runs the
# sample batch against it with the live status line, and prints the summary.
set -euo pipefail
SLUICE=${1:-build/sluice}
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")
mock_pid=""
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
timeout 300 "$SLUICE" mock --listen 127.0.0.1:0 --rpm 3000 --latency 300 --jitter 0.4 \
    --fail-rate 0.03 --reset-rate 0.01 --seed 42 >"$work/mock.out" 2>&1 &
mock_pid=$!
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$work/mock.out" 2>/dev/null && break
    sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/mock.out" | head -n1)
[ -n "$url" ] || { cat "$work/mock.out" >&2; echo "demo: the mock did not start" >&2; exit 1; }
echo "demo: mock provider at $url (3000 requests/min, ~300 ms latency, 3% server errors, 1% resets)"
echo "demo: sluice run examples/requests.jsonl -o $work/results.jsonl --base-url $url --provider none"
echo
"$SLUICE" run examples/requests.jsonl -o "$work/results.jsonl" --base-url "$url" \
    --provider none -c 32 --backoff-base 0.2 --progress || true
echo
echo "demo: first result line:"
head -n1 "$work/results.jsonl"
echo "demo: the mock's own count of what it served:"
curl -s "$url/mock/stats"
echo
