#!/bin/bash
# 10,000 requests against a mock that fails, resets, hangs and truncates: every one ends as a
# success, exactly once.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 2 --fail-rate 0.05 --reset-rate 0.01 --hang-rate 0.005 \
    --bad-json-rate 0.01 --seed 7
python3 "$SRCDIR/tests/e2e/lib/gen.py" 10000 >"$T/in.jsonl"
rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    -c 64 --timeout 1 --backoff-base 0.05 --backoff-cap 0.5 --no-progress 2>"$T/err" || rc=$?
cat "$T/err" >&2
[ "$rc" = 0 ] || fail "exit status $rc, expected 0"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results do not match the input"
# The faults really happened (otherwise this test proves nothing).
for k in fail reset hang bad_json; do
    n=$(mock_stat "['faults']['$k']")
    [ "$n" -gt 0 ] || fail "mock injected no $k fault"
done
grep -q "10000 succeeded, 0 failed" "$T/err" || fail "summary does not say 10000 succeeded"
echo "ok: 10000 requests, all succeeded once"
