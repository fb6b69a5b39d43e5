#!/bin/bash
# Rate limits: does sluice finish in the time the limit allows, with almost no 429s?
# Each case runs sluice against `sluice mock --latency 50` with a limit, and prints wall time
# over the floor (max(N/RPM, tokens/TPM)) and 429s over attempts, against the issue's targets.
#   SLUICE=build/sluice bench/ratelimit.sh
set -euo pipefail
SLUICE=${SLUICE:-build/sluice}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-rl.XXXXXX")
MOCK_PID=""
trap '[ -n "$MOCK_PID" ] && kill $MOCK_PID 2>/dev/null; rm -rf "$T"' EXIT

start_mock() {
    [ -n "$MOCK_PID" ] && { kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; }
    timeout 900 "$SLUICE" mock --listen 127.0.0.1:0 --latency 50 "$@" >"$T/mock.out" 2>&1 &
    MOCK_PID=$!
    for _ in $(seq 1 100); do grep -q '^listening on ' "$T/mock.out" 2>/dev/null && break; sleep 0.05; done
    MOCK_URL=$(sed -n 's/^listening on //p' "$T/mock.out")
}

# case NAME FLOOR_S MAX_RATIO MAX_429_PCT INPUT -- sluice options
printf '%-34s %8s %8s %7s %9s %8s %6s  %s\n' case floor_s wall_s ratio attempts 429s refused% verdict
row() {
    local name=$1 floor=$2 max_ratio=$3 max_pct=$4 input=$5
    shift 5
    local start end
    start=$(date +%s.%N)
    "$SLUICE" run "$input" -o "$T/out.jsonl" --overwrite --base-url "$MOCK_URL" --provider none \
        --no-progress --stats-json "$T/stats.json" "$@" 2>"$T/err" ||
        { echo "$name: sluice failed"; cat "$T/err"; }
    end=$(date +%s.%N)
    python3 - "$name" "$floor" "$max_ratio" "$max_pct" "$start" "$end" "$T/stats.json" <<'PY'
import json, sys
name, floor, max_ratio, max_pct, start, end, path = sys.argv[1:]
s = json.load(open(path))
wall = float(end) - float(start)
ratio = wall / float(floor)
if "auto" in name:  # refused by the server's concurrency cap (503), not by rate
    pct = 100.0 * (s["attempts"] - s["succeeded"]) / max(1, s["attempts"])
else:
    pct = 100.0 * s["rate_limited"] / max(1, s["attempts"])
conc = s.get("limits", {}).get("concurrency")
ok = ratio <= float(max_ratio) and pct <= float(max_pct) and s["failed"] == 0
extra = " conc=%s" % conc if "auto" in name else ""
print("%-34s %8.1f %8.1f %7.3f %9d %8d %6.2f  %s (<= %sx, <= %s%%)%s" % (
    name, float(floor), wall, ratio, s["attempts"], s["rate_limited"], pct,
    "ok" if ok else "MISSED", max_ratio, max_pct, extra))
PY
}

N=3000
python3 "$ROOT/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"

start_mock --rpm 6000
row "told --rpm 6000" 30 1.03 0.5 "$T/in.jsonl" --rpm 6000 -c 64

start_mock --rpm 6000
row "not told (headers)" 30 1.05 1 "$T/in.jsonl" -c 64

start_mock --rpm 6000 --no-rate-headers
row "no rate headers (429s only)" 30 1.15 5 "$T/in.jsonl" -c 64

# TPM-bound: ~2,000-byte prompts (500 tokens) + max_tokens 100 = ~600 tokens a request; 600
# requests = ~360k tokens at 720k TPM = a 30 s floor, while 600 requests at RPM 6000 need 6 s.
python3 "$ROOT/tests/e2e/lib/gen.py" 600 --prompt-bytes 2000 --max-tokens 100 >"$T/tpm.jsonl"
TOKENS=$(python3 - "$T/tpm.jsonl" <<'PY'
import json, math, sys
t = 0
for l in open(sys.argv[1]):
    b = json.loads(l)["body"]
    t += math.ceil(sum(len(m["content"].encode()) for m in b["messages"]) / 4) + b["max_tokens"]
print(t)
PY
)
FLOOR=$(python3 -c "print(round($TOKENS / 720000 * 60, 2))")
start_mock --rpm 6000 --tpm 720000
row "TPM-bound (not told)" "$FLOOR" 1.05 1 "$T/tpm.jsonl" -c 64

# --concurrency auto against a server that refuses beyond 40 in flight with 503.
start_mock --max-concurrency 40 --overload-status 503
python3 "$ROOT/tests/e2e/lib/gen.py" 4000 >"$T/auto.jsonl"
row "-c auto, --max-concurrency 40" 5 100 2 "$T/auto.jsonl" -c auto
