#!/bin/bash
# The run that writes OUTPUT does not ask Redis "is the job complete?" while results are still
# to come: once a status check says done of total, it asks again only after total - done more
# results were read (each id marked done has its line in the results stream). Nor does its
# worker ask whether the job is over while it still holds entries. 16 lines at one
# at a time against a mock answering in 250 ms take about 4 s; a writer that asked each time
# it caught up (every 250 ms) would ask about 16 times. MONITOR counts the status script's
# calls by its text. The job still completes, each id once.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=16
start_redis
start_mock --latency 250
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"
timeout 60 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" monitor >"$T/monitor" &
mon=$!
_PIDS="$_PIDS $mon"
sleep 0.3
rc=0
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job q \
    --base-url "$MOCK_URL" --provider none -c 1 --no-progress 2>"$T/run.err" || rc=$?
[ "$rc" = 0 ] || fail "run: exit $rc: $(cat "$T/run.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
sleep 0.5 # MONITOR's output may lag behind
kill "$mon" 2>/dev/null || true
# The status script's own text: "local more = 0" (src/redis/job.c status_script). Its last
# argument is "" when the worker asks whether the job is over, an ID when the writer asks.
grep 'local more = 0' "$T/monitor" >"$T/asks" || true
worker=$(grep -c ' ""$' "$T/asks" || true)
writer=$(grep -vc ' ""$' "$T/asks" || true)
commits=$(grep -c '"XACK"' "$T/monitor" || true)
echo "status checks: writer $writer, worker $worker; commits: $commits"
[ "$commits" -ge 2 ] || fail "the monitor saw $commits commits: it did not watch the run"
[ "$writer" -ge 1 ] || fail "no status check by the writer seen: the test watches nothing"
[ "$writer" -le 3 ] || fail "the writer asked $writer times for $N results"
[ "$worker" -le 3 ] || fail "the worker asked $worker times whether the job is over"
echo "ok"
