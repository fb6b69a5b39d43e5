#!/bin/bash
# Distributed mode: `sluice run --redis` plus three `sluice work` processes share one job and
# one rate budget. Every id has exactly one result in OUTPUT, almost nothing is answered 429,
# every process exits 0 by itself, `sluice job status` says the job is finished, and the feeder
# never keeps more than --backlog lines in Redis.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=1000
start_redis
start_mock --rpm 6000 --latency 50
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"

# 1000 lines at 6000 rpm take about 10 s; every process is bounded by timeout (exit 124).
timeout 120 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job w \
    --base-url "$MOCK_URL" --provider none --rpm 6000 -c 16 --no-progress --backlog 100 \
    --stats-json "$T/run.json" 2>"$T/run.err" &
run=$!
# The stream holds what waits and what is pending: sampled while the run lives, it never
# passes --backlog (the feeder adds only the room it saw).
(
    max=0
    while kill -0 "$run" 2>/dev/null; do
        n=$(rcli xlen 'sluice:job:{w}:in' 2>/dev/null || echo 0)
        [ "${n:-0}" -gt "$max" ] && max=$n
        echo "$max" >"$T/backlog.max"
        sleep 0.1
    done
) &
sampler=$!
# The workers take the job's settings, so they start once the run has created it.
wait_job w
workers=""
for k in 1 2 3; do
    timeout 120 "$SLUICE" work --redis "$REDIS_URL" --job w -c 16 --no-progress \
        --stats-json "$T/work$k.json" 2>"$T/work$k.err" &
    workers="$workers $!"
done

rc=0; wait "$run" || rc=$?
[ "$rc" = 0 ] || fail "run: exit $rc: $(cat "$T/run.err")"
wait "$sampler" || true
backlog=$(cat "$T/backlog.max")
[ "$backlog" -gt 0 ] || fail "the sampler never saw the stream"
[ "$backlog" -le 100 ] || fail "$backlog entries in the stream with --backlog 100"
k=0
for p in $workers; do
    k=$((k + 1))
    rc=0; wait "$p" || rc=$?
    [ "$rc" = 0 ] || fail "worker $k: exit $rc (124: it did not exit by itself): $(cat "$T/work$k.err")"
done

python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
requests=$(mock_stat "['requests']")
limited=$(mock_stat "['rate_limited']")
# At most 0.5% of the mock's requests were refused: the four processes share one budget.
[ $((limited * 1000)) -le $((requests * 5)) ] || fail "$limited of $requests requests answered 429"
# Nothing was sent twice: every request the mock did not refuse is one line.
[ $((requests - limited)) = $N ] || fail "$requests requests, $limited 429s for $N lines"
# The work was shared: the workers' summaries add up to N with the run's, and all took part.
python3 - "$N" "$T/run.json" "$T/work1.json" "$T/work2.json" "$T/work3.json" <<'PY' ||
import json, sys
n = int(sys.argv[1])
s = [json.load(open(p))["succeeded"] for p in sys.argv[2:]]
assert sum(s) == n, s
assert sum(1 for x in s if x > 0) >= 3, s
PY
    fail "the processes' summaries"

"$SLUICE" job status --redis "$REDIS_URL" --job w >"$T/status" 2>&1 || fail "job status: exit $?"
grep -q "finished" "$T/status" || fail "job status does not say finished: $(cat "$T/status")"
"$SLUICE" job status --redis "$REDIS_URL" --job w --json >"$T/status.json" || fail "status --json"
python3 - "$N" "$T/status.json" <<'PY' || fail "job status --json: $(cat "$T/status.json")"
import json, sys
n = int(sys.argv[1])
s = json.load(open(sys.argv[2]))
assert s["total"] == n and s["done"] == n and s["failed"] == 0, s
assert s["pending"] == 0 and s["waiting"] == 0 and s["unwritten"] == 0, s
PY
echo "ok: $requests requests, $limited 429s, at most $backlog entries in the stream"
