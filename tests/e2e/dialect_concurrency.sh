#!/bin/bash
# Issue 9, too many concurrent: Anthropic's 429 "Number of concurrent connections has
# exceeded your rate limit" above 8 in flight. sluice, told -c 32, lowers its concurrency
# (not its rate) and settles at the cap (its window ends at 8, or 9 while probing), with fewer
# than 5% of attempts refused.
. "$SRCDIR/tests/e2e/lib/common.sh"
export ANTHROPIC_API_KEY=dummy
python3 "$SRCDIR/tests/e2e/lib/gen.py" 800 --url /v1/messages >"$T/in.jsonl"
start_mock --provider anthropic --concurrency-429 8 --latency 50
timeout 120 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" \
    --provider anthropic -c 32 --no-progress --stats-json "$T/stats.json" 2>"$T/err" ||
    fail "exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
refused=$(mock_stat "['faults']['concurrency_429']")
sent=$(mock_stat "['requests']")
echo "$refused of $sent attempts refused; limits: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["limits"])' "$T/stats.json")"
[ $((refused * 100)) -lt $((sent * 5)) ] || fail "$refused of $sent attempts refused (5% at most)"
# The window reported at the end is the AIMD window of that moment: between refusals it grows
# slowly past the level that last failed, so it may end one over the cap (9) without a refusal
# yet; it must have come down from 32. (A CI run under ASan saw 9, with 25 of 825 refused.)
python3 - "$T/stats.json" <<'PY' || fail "concurrency limit"
import json, sys
lim = json.load(open(sys.argv[1]))["limits"]
assert lim["concurrency"] <= 9, "concurrency settled at %s, expected <= 9" % lim["concurrency"]
PY
echo ok
