#!/bin/bash
# The slow start (issue 16): with nothing known about the server's limits, a run opens with 4
# requests and doubles them every 200 ms while all are out, whether answers have come or not.
# Against answers that take 3 s, all of -c 64 is out before the first answer: a slow start that
# waited for answers to grow would still have 4 out then.
. "$SRCDIR/tests/e2e/lib/common.sh"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 128 >"$T/in.jsonl"
start_mock --latency 3000
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    -c 64 --no-progress 2>"$T/err" &
run=$!
_PIDS="$_PIDS $run"
sleep 2.5 # the first answers come at 3 s
out=$(mock_stat "['in_flight']")
echo "in flight at 2.5 s: $out"
[ "$out" -ge 64 ] || fail "$out requests out at 2.5 s with -c 64 and 3 s answers: the slow start did not grow"
wait "$run" || fail "exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
echo ok
