#!/bin/bash
# Redis killed for 5 s in the middle of a job and started again on the same port (the AOF
# brings the job back): no process crashes or hangs, no request reaches the mock while Redis is
# down (the budget cannot be checked; 1 s of grace for requests already on the wire), and the
# job completes with every id exactly once.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=2000
start_redis
start_mock --latency 50 --request-log "$T/requests.log"
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"

# 2000 lines at 6000 rpm: about 20 s of work with Redis up, then the outage on top.
timeout 180 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job o \
    --base-url "$MOCK_URL" --provider none --rpm 6000 -c 16 --no-progress 2>"$T/run.err" &
run=$!
wait_job o
timeout 180 "$SLUICE" work --redis "$REDIS_URL" --job o -c 16 --no-progress 2>"$T/work.err" &
worker=$!

sleep 4
before=$(wc -l <"$T/requests.log")
[ "$before" -gt 0 ] || fail "no request before the outage"
[ "$before" -lt $N ] || fail "the job was done before the outage"
stopped=$(date +%s%3N)
stop_redis
sleep 5
restarted=$(date +%s%3N)
restart_redis
kill -0 "$run" 2>/dev/null || fail "the run exited during the outage: $(cat "$T/run.err")"
kill -0 "$worker" 2>/dev/null || fail "the worker exited during the outage: $(cat "$T/work.err")"

rc=0; wait "$run" || rc=$?
[ "$rc" = 0 ] || fail "run: exit $rc (124: hung): $(cat "$T/run.err")"
rc=0; wait "$worker" || rc=$?
[ "$rc" = 0 ] || fail "worker: exit $rc (124: hung): $(cat "$T/work.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"

# The mock's log: "<unix ms> <path>" per request, as it arrives.
python3 - "$T/requests.log" "$stopped" "$restarted" <<'PY' || fail "requests during the outage"
import sys
path, stopped, restarted = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = [int(l.split()[0]) for l in open(path) if l.strip()]
during = [t for t in times if stopped + 1000 < t < restarted]
if during:
    print("%d requests arrived while Redis was down (%d..%d ms after it stopped)"
          % (len(during), during[0] - stopped, during[-1] - stopped))
    sys.exit(1)
after = [t for t in times if t >= restarted]
assert after, "no request after the restart"
print("outage: %d requests before it, none during, first one %d ms after the restart"
      % (sum(1 for t in times if t <= stopped), after[0] - restarted))
PY
echo ok
