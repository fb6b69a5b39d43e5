#!/bin/bash
# Issue 9, overloaded: Anthropic's 529 overloaded_error is provider-wide load, not the key's
# limit. Every request succeeds after retries, and the rate learned from the headers is not
# lowered by the 529s.
. "$SRCDIR/tests/e2e/lib/common.sh"
export ANTHROPIC_API_KEY=dummy
python3 "$SRCDIR/tests/e2e/lib/gen.py" 300 --url /v1/messages >"$T/in.jsonl"
start_mock --provider anthropic --overloaded-rate 0.2 --rpm 6000 --latency 20
timeout 120 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" \
    --provider anthropic --no-progress --stats-json "$T/stats.json" 2>"$T/err" ||
    fail "exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
over=$(mock_stat "['faults']['overloaded']")
[ "$over" -ge 30 ] || fail "only $over overloaded answers: the fault did not happen"
python3 - "$T/stats.json" <<'PY' || fail "learned rate"
import json, sys
s = json.load(open(sys.argv[1]))
lim = s["limits"]
assert lim["rate_source"] == "headers", lim
assert lim["rpm"] >= 0.9 * 6000 * 0.97, "rpm lowered to %s by 529s" % lim["rpm"]
PY
echo "ok: $over overloaded answers, $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["limits"])' "$T/stats.json")"
