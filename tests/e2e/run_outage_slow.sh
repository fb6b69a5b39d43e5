#!/bin/bash
# The provider goes down for 20 s in the middle of a run: the circuit breaker opens, requests
# wait instead of failing, a few probes test the provider, and once it is back every request
# ends as a success, exactly once, without the outage having been hammered. Then an outage
# longer than --give-up-after stops the run like SIGINT (exit 3, nothing written as failed),
# and --resume finishes it. About 45 s in all; every run is bounded by `timeout`.
. "$SRCDIR/tests/e2e/lib/common.sh"

now_ms() { date +%s%3N; }

# has_trips FILE: the stats JSON has a "breaker_trips" counter >= 1 (at any depth).
has_trips() {
    python3 - "$1" <<'PY'
import json, sys
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "breaker_trips":
                return v
            r = find(v)
            if r is not None:
                return r
    return None
n = find(json.load(open(sys.argv[1])))
print(n)
sys.exit(0 if isinstance(n, int) and n >= 1 else 1)
PY
}

# ---- 1. a 20 s outage after 1 s: waited out, nothing lost, probing kept light ----
C=16
start_mock --latency 20
python3 "$SRCDIR/tests/e2e/lib/gen.py" 2000 >"$T/in.jsonl"
# 2000 requests take about 2.5 s at 16 x 20 ms, so the outage lands mid-run. The timeout
# leaves room for the outage plus the longest cool-down the breaker may be waiting out.
rc=0
(exec timeout -k 5 50 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" \
    --provider none -c "$C" --no-progress --stats-json "$T/stats.json" 2>"$T/err") &
pid=$!
sleep 1
curl -s -X POST "$MOCK_URL/mock/outage?seconds=20" >/dev/null || fail "could not start the outage"
wait "$pid" || rc=$?
cat "$T/err" >&2
outage=$(mock_stat "['faults']['outage']")
n503=$(mock_stat "['status'].get('503', 0)")
echo "outage: exit $rc; the mock answered $n503 x 503 ($outage during the outage)" >&2
[ "$rc" != 124 ] || fail "outage: sluice did not finish within 50 s (20 s outage)"
# The outage really hit the run (otherwise this test proves nothing).
[ "$outage" -gt 0 ] || fail "outage: no request met the outage (the run ended before it?)"
[ "$rc" = 0 ] || fail "outage: exit status $rc, expected 0 (requests wait out an outage)"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "outage: results do not match the input"
[ -f "$T/stats.json" ] || fail "outage: no --stats-json written"
trips=$(has_trips "$T/stats.json") || fail "outage: stats JSON has no breaker_trips >= 1 ($trips)"
# With a breaker: the 11 or so failures that open it, the requests already in flight then,
# and two probes per cool-down (1, 2, 4, 8, 16 s: four rounds in 20 s): about 40. Without
# one, every request and its retries keep meeting the outage (about 200 with backoff alone).
[ "$n503" -lt $((C * 5)) ] ||
    fail "outage: $n503 requests were sent into the outage (limit $((C * 5))): not probing light"

# ---- 2. the provider stays down past --give-up-after: stop as on SIGINT, then --resume ----
start_mock --latency 20
python3 "$SRCDIR/tests/e2e/lib/gen.py" 200 --prefix give >"$T/in2.jsonl"
curl -s -X POST "$MOCK_URL/mock/outage?seconds=600" >/dev/null || fail "could not start the outage"
ARGS=(run "$T/in2.jsonl" -o "$T/out2.jsonl" --base-url "$MOCK_URL" --provider none -c "$C"
    --no-progress)
t0=$(now_ms)
rc=0
timeout -k 5 20 "$SLUICE" "${ARGS[@]}" --give-up-after 3 2>"$T/err2" || rc=$?
el=$(($(now_ms) - t0))
cat "$T/err2" >&2
echo "give-up: exit $rc after $el ms" >&2
[ "$rc" != 124 ] || fail "give-up: still running after 20 s with --give-up-after 3"
[ "$rc" = 3 ] || fail "give-up: exit status $rc, expected 3"
[ "$el" -ge 3000 ] || fail "give-up: stopped after $el ms, before --give-up-after 3"
grep -q -- "--resume" "$T/err2" || fail "give-up: no --resume hint"
touch "$T/out2.jsonl"
python3 - "$T/out2.jsonl" <<'PY' || fail "give-up: requests were written as failed"
import json, sys
bad = [l for l in open(sys.argv[1]) if json.loads(l)["error"] is not None]
sys.exit(1 if bad else 0)
PY
curl -s -X POST "$MOCK_URL/mock/outage?seconds=0" >/dev/null || fail "could not end the outage"
rc=0
timeout -k 5 30 "$SLUICE" "${ARGS[@]}" --resume 2>"$T/err3" || rc=$?
[ "$rc" = 0 ] || fail "give-up: --resume exit $rc: $(cat "$T/err3")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in2.jsonl" "$T/out2.jsonl" --all-success ||
    fail "give-up: results after --resume do not match the input"
echo "ok: a 20 s outage waited out with $n503 x 503 and $trips trip(s); gave up after $el ms, resumed"
