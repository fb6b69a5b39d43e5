#!/bin/bash
# kill -9 in the middle of a run, then --resume: every id ends exactly once, all successes, and
# the mock served at most N + 5 x concurrency requests over the kills.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 30 --jitter 0.5 --fail-rate 0.02 --seed 3
N=3000
C=32
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"
ARGS=(run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c $C
    --backoff-base 0.05 --no-progress --resume)
for k in 1 2 3 4 5; do
    # exec, so that $! is sluice itself and kill -9 reaches it.
    (exec "$SLUICE" "${ARGS[@]}" 2>>"$T/err") &
    pid=$!
    sleep "0.$((RANDOM % 6 + 2))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
"$SLUICE" "${ARGS[@]}" 2>>"$T/err" || fail "final resume: exit $?: $(tail -3 "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "results"
served=$(mock_stat "['status']['200']")
[ "$served" -le $((N + 5 * C)) ] || fail "mock served $served successes for $N requests"
echo "ok: $served successful answers for $N requests"
