#!/bin/bash
# A Gemini-style quota window (issue 16): 10 requests per 3 s, the wait only in the 429's
# body (RetryInfo.retryDelay). sluice learns the window: it waits for the window's end and then
# spends the next window evenly, and no request is retried before the wait it was given.
# (The time against the floor is bench/ratelimit.sh's; tests do not time.)
. "$SRCDIR/tests/e2e/lib/common.sh"
export OPENAI_API_KEY=dummy
python3 "$SRCDIR/tests/e2e/lib/gen.py" 40 >"$T/in.jsonl"
start_mock --provider gemini --limiter fixed --rpm 200 --window 3 --latency 20
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL/v1beta/openai" -c 64 \
    --no-progress --log "$T/log.jsonl" --stats-json "$T/stats.json" 2>"$T/err" ||
    fail "exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
python3 - "$T/log.jsonl" "$T/stats.json" "$(mock_stat "['rate_limited']")" <<'PY' || fail "see above"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
s = json.load(open(sys.argv[2]))
mock429 = int(sys.argv[3])
by_id = {}
for a in log:
    by_id.setdefault(a["id"], []).append(a)
early = 0
for rid, atts in by_id.items():
    atts.sort(key=lambda a: a["attempt"])
    for prev, nxt in zip(atts, atts[1:]):
        start = nxt["t"] - nxt["latency_ms"] / 1000.0
        if start < prev["t"] + prev["wait_ms"] / 1000.0 - 0.002:
            early += 1
            print("early retry:", rid, prev, nxt)
        if prev["outcome"] == "rate_limited" and prev["wait_ms"] < 1:
            early += 1
            print("no wait after a refusal:", rid, prev)
assert early == 0, early
# The first window's overflow is refused; after that each window is spent evenly, so few
# refusals in all. Retrying at once, or spending each window in a burst at its start, would
# collect many more.
print("429s: %d (mock %d), attempts %d, limits %s" % (s["rate_limited"], mock429, s["attempts"], s["limits"]))
assert s["rate_limited"] == mock429, (s["rate_limited"], mock429)
assert mock429 <= 8, mock429
assert s["limits"]["rate_source"] == "learned", s["limits"]
assert 150 <= s["limits"]["rpm"] <= 400, s["limits"]  # the quota, 200, probed a little above
PY
echo ok
