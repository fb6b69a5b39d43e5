#!/bin/bash
# Requests in flight never exceed -c: the mock's highest concurrency seen equals it.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 50 --jitter 0.5
python3 "$SRCDIR/tests/e2e/lib/gen.py" 300 >"$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 7 \
    --no-progress 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "results"
m=$(mock_stat "['max_concurrency']")
[ "$m" -le 7 ] || fail "mock saw $m requests at once with -c 7"
[ "$m" -ge 5 ] || fail "mock saw at most $m at once with -c 7: the slots are not used"
echo "ok: max concurrency $m"
