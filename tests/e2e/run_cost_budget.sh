#!/bin/bash
# --max-cost stops dispatch before the budget would be exceeded: exit 3, the mock served fewer
# requests than the input, no result line for what was not sent, spend within the budget, and
# --resume with a larger --max-cost finishes the job.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 20
python3 "$SRCDIR/tests/e2e/lib/gen.py" 400 >"$T/in.jsonl"
# Each request: about 7 prompt tokens + at most 16 completion tokens at $1/$2 per million:
# about $0.00004 at most; $0.005 buys some 130 of the 400.
rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 8 \
    --price-in 1 --price-out 2 --max-cost 0.005 --stats-json "$T/s.json" 2>"$T/err" || rc=$?
[ "$rc" = 3 ] || fail "exit $rc, expected 3: $(cat "$T/err")"
grep -q -- "--max-cost" "$T/err" && grep -q -- "--resume" "$T/err" ||
    fail "no budget message with --resume and --max-cost: $(cat "$T/err")"
curl -s "$MOCK_URL/mock/stats" >"$T/mock.json"
python3 - "$T/s.json" "$T/mock.json" "$T/out.jsonl" <<'PY' || fail "budget: $(cat "$T/err")"
import json, sys
s, m = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
out = [json.loads(l) for l in open(sys.argv[3])]
assert 0 < m["requests"] < 400, m["requests"]
assert len(out) == m["requests"], (len(out), m["requests"])   # nothing written for unsent lines
assert all(o["error"] is None for o in out), "failed result lines"
assert s["failed"] == 0 and s["succeeded"] == len(out), s
spent = (m["tokens"]["prompt"] * 1 + m["tokens"]["completion"] * 2) / 1e6
assert spent <= 0.005 + 1e-12, spent
assert abs(s["cost_usd"] - spent) < 1e-9, (s["cost_usd"], spent)
# It stopped near the budget, not far below it: the next request would have crossed it.
assert spent > 0.005 - 8 * 50e-6, spent
assert s["exit_code"] == 3
PY
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 8 \
    --price-in 1 --price-out 2 --max-cost 1 --resume 2>"$T/err2" || fail "resume: exit $?: $(cat "$T/err2")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "--resume with a larger --max-cost did not finish the job"

# A model with no price cannot be kept within a budget: stop before sending, and say why.
start_mock
sed 's/gpt-4o-mini/acme-llm-7/' "$T/in.jsonl" >"$T/acme.jsonl"
rc=0
"$SLUICE" run "$T/acme.jsonl" -o "$T/out3.jsonl" --base-url "$MOCK_URL" --provider none \
    --max-cost 1 2>"$T/err3" || rc=$?
[ "$rc" = 3 ] || fail "unpriced model under --max-cost: exit $rc"
grep -q "needs a price for model acme-llm-7" "$T/err3" || fail "no price message: $(cat "$T/err3")"
[ "$(mock_stat '["requests"]')" = 0 ] || fail "requests were sent without a price"
echo ok
