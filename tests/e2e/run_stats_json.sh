#!/bin/bash
# --stats-json agrees with the mock's own counters: attempts, 429s, tokens.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 5 --fail-rate 0.1 --rpm 30000 --burst-s 0.05 --seed 5
python3 "$SRCDIR/tests/e2e/lib/gen.py" 500 >"$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 32 \
    --backoff-base 0.02 --stats-json "$T/stats.json" --no-progress 2>"$T/err" ||
    fail "exit $?: $(cat "$T/err")"
curl -s "$MOCK_URL/mock/stats" >"$T/mock.json"
python3 - "$T/stats.json" "$T/mock.json" <<'PY' || fail "stats do not agree"
import json, sys
s = json.load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))
for k in ("total", "succeeded", "failed", "retries", "rate_limited", "wall_s", "latency_ms", "tokens"):
    assert k in s, k
for k in ("p50", "p90", "p99", "max"):
    assert s["latency_ms"][k] >= 0, k
assert s["latency_ms"]["p50"] <= s["latency_ms"]["p99"] <= s["latency_ms"]["max"]
assert s["total"] == 500 and s["succeeded"] == 500 and s["failed"] == 0, s
assert s["attempts"] == m["requests"], (s["attempts"], m["requests"])
assert s["retries"] == m["requests"] - 500, s
assert s["retries"] > 0, "the mock's faults did not happen"
assert s["rate_limited"] == m["rate_limited"], (s["rate_limited"], m["rate_limited"])
assert s["tokens"]["prompt"] == m["tokens"]["prompt"], (s["tokens"], m["tokens"])
assert s["tokens"]["completion"] == m["tokens"]["completion"], (s["tokens"], m["tokens"])
PY
echo ok
