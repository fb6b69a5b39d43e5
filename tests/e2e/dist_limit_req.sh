#!/bin/bash
# Issue 16 in distributed mode: nginx limit_req (100 r/s, burst=10 nodelay) in front of the mock,
# and `sluice run --redis` plus three `sluice work`, each told --rpm 6000 (the limit), sharing
# one budget with no burst. Each worker spends its leased requests in their slots of the shared
# schedule, so the four processes' sends merged are one per 10 ms: nginx refuses almost none,
# and 2000 lines take about the 20 s the limit allows (printed; bench/ratelimit.sh times it).
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
. "$SRCDIR/tests/e2e/lib/nginx.sh"
N=2000
start_redis
start_mock --latency 50
start_limit_req "$MOCK_URL" 100r/s 10
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"

start=$(date +%s.%N)
timeout 120 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job lr \
    --base-url "$LIMIT_URL" --provider none --rpm 6000 -c 16 --no-progress \
    --stats-json "$T/run.json" 2>"$T/run.err" &
run=$!
wait_job lr
workers=""
for k in 1 2 3; do
    timeout 120 "$SLUICE" work --redis "$REDIS_URL" --job lr -c 16 --no-progress \
        --stats-json "$T/work$k.json" 2>"$T/work$k.err" &
    workers="$workers $!"
done
rc=0; wait "$run" || rc=$?
[ "$rc" = 0 ] || fail "run: exit $rc: $(cat "$T/run.err")"
end=$(date +%s.%N)
k=0
for p in $workers; do
    k=$((k + 1))
    rc=0; wait "$p" || rc=$?
    [ "$rc" = 0 ] || fail "worker $k: exit $rc: $(cat "$T/work$k.err")"
done

python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
attempts=$(wc -l <"$LIMIT_LOG")
refused=$(awk '$2 == 429' "$LIMIT_LOG" | wc -l)
wall=$(python3 -c "print('%.1f' % ($end - $start))")
echo "$N lines in $wall s (floor 20 s), $refused of $attempts attempts refused by nginx"
# A burst of more than 10 (held units sent back to back, four workers at once) is refused by
# the dozen: paced, at most 1% are.
[ $((refused * 100)) -le "$attempts" ] || fail "$refused of $attempts attempts refused"
