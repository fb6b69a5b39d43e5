#!/bin/bash
# --log writes one JSON line per attempt (id, attempt, status, latency, wait), as many as the
# mock served, and never the API key.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 2 --fail-rate 0.2 --seed 3
python3 "$SRCDIR/tests/e2e/lib/gen.py" 100 >"$T/in.jsonl"
OPENAI_API_KEY=sk-test-SECRET-4242 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" \
    --base-url "$MOCK_URL" --backoff-base 0.01 --log "$T/log.jsonl" --no-progress 2>"$T/err" ||
    fail "exit $?: $(cat "$T/err")"
grep -q "SECRET" "$T/log.jsonl" && fail "the API key is in the log"
python3 - "$T/log.jsonl" "$(mock_stat '["requests"]')" <<'PY' || fail "log: $(head -5 "$T/log.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == int(sys.argv[2]), (len(rows), sys.argv[2])
for r in rows:
    for k in ("id", "attempt", "status", "outcome", "error", "latency_ms", "wait_ms"):
        assert k in r, (k, r)
    assert r["latency_ms"] >= 0 and r["wait_ms"] >= 0
retried = [r for r in rows if r["status"] >= 500]
assert retried, "the mock's faults did not happen"
# Full jitter may draw a wait under 1 ms, so not every wait is positive; most are.
assert all(r["error"] for r in retried), retried[:3]
assert sum(r["wait_ms"] > 0 for r in retried) > len(retried) / 2, retried[:3]
ok = [r for r in rows if r["status"] == 200]
assert len({r["id"] for r in ok}) == 100 and len(ok) == 100
assert max(r["attempt"] for r in rows) >= 2
PY
echo ok
