#!/bin/bash
# -c auto against a server that refuses beyond 40 requests in flight with 503 "overloaded":
# the limit settles at or under about 40, with fewer than 2% of attempts refused.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 30 --max-concurrency 40 --overload-status 503
python3 "$SRCDIR/tests/e2e/lib/gen.py" 3000 >"$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c auto \
    --backoff-base 0.05 --no-progress --stats-json "$T/stats.json" 2>"$T/err" ||
    fail "exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "results"
python3 - "$T/stats.json" "$(mock_stat "['requests']")" "$(mock_stat "['max_concurrency']")" <<'PY' || fail "auto"
import json, sys
s = json.load(open(sys.argv[1]))
requests, peak = int(sys.argv[2]), int(sys.argv[3])
refused = requests - 3000
assert refused < 0.02 * requests, "%d of %d refused" % (refused, requests)
assert s["limits"]["concurrency"] <= 41, s["limits"]
assert peak >= 20, "the limit never grew: peak %d" % peak
print("refused %d of %d, limit %d, peak %d" % (refused, requests, s["limits"]["concurrency"], peak))
PY
echo ok
