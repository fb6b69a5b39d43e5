#!/usr/bin/env bash
# Throughput of `sluice mock` under wrk: small POSTs to /v1/chat/completions over keep-alive
# connections, with no latency and no limits, so the figure is the server's own cost.
# Usage: SLUICE=build/sluice bench/mock.sh   (DURATION, CONNECTIONS, THREADS override)
# The mock should sustain at least 30,000 requests/s on a 2-core machine (release build).
set -euo pipefail
SLUICE=${SLUICE:-build/sluice}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-100}
THREADS=${THREADS:-2}
MIN_RPS=${MIN_RPS:-30000}
command -v wrk >/dev/null || { echo "bench/mock.sh: wrk is not installed" >&2; exit 2; }
[ -x "$SLUICE" ] || { echo "bench/mock.sh: no binary at $SLUICE (set SLUICE)" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
MOCK_PID=""
cleanup() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

"$SLUICE" mock --listen 127.0.0.1:0 >"$T/mock.out" 2>"$T/mock.err" &
MOCK_PID=$!
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$T/mock.out" && break
    sleep 0.05
done
URL=$(sed -n 's/^listening on //p' "$T/mock.out")
[ -n "$URL" ] || { cat "$T/mock.err" >&2; echo "bench/mock.sh: mock did not start" >&2; exit 1; }

cat >"$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"gpt-4o-mini","max_tokens":8,"messages":[{"role":"user","content":"Classify: the river flows under the bridge."}]}'
LUA

wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$T/post.lua" \
    "$URL/v1/chat/completions" >"$T/wrk.out" 2>&1 || { cat "$T/wrk.out" >&2; exit 1; }

rps=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$T/wrk.out")
p50=$(awk '$1 == "50%" { print $2 }' "$T/wrk.out")
p99=$(awk '$1 == "99%" { print $2 }' "$T/wrk.out")
total=$(awk '/requests in/ { print $1 }' "$T/wrk.out")
errors=$(awk '/Socket errors|Non-2xx/ { print }' "$T/wrk.out" | tr '\n' ' ')
served=$(curl -s "$URL/mock/stats" | grep -o '"200":[0-9]*' | cut -d: -f2)

printf '%-28s %s\n' "benchmark" "sluice mock, POST /v1/chat/completions"
printf '%-28s %s\n' "wrk" "-t$THREADS -c$CONNECTIONS -d$DURATION"
printf '%-28s %s\n' "requests" "$total (mock counted ${served:-?} x 200)"
printf '%-28s %s\n' "requests/s" "$rps"
printf '%-28s %s\n' "latency p50 / p99" "$p50 / $p99"
[ -z "$errors" ] || printf '%-28s %s\n' "errors" "$errors"
if [ "$rps" -lt "$MIN_RPS" ]; then
    echo "bench/mock.sh: $rps requests/s is below the $MIN_RPS target" >&2
    exit 1
fi
