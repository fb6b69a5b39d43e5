#!/bin/bash
# Redis answers but refuses to store (out of memory, a read-only replica) in the middle of a
# job. Nothing is lost, no process waits for ever, and with Redis fixed the same command
# completes the job, each id once.
#  1. maxmemory 1 (noeviction) while the run feeds: the feed is refused, and the run stops at
#     once with exit 3 and Redis's reason (commits, trims and claims still run: their first
#     write does not grow memory, test_redis_job checks that).
#  2. The server made a read-only replica while answers are on their way: their commits are
#     refused (READONLY), and after --give-up-after the run stops with exit 3 and the reason.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=200
start_redis
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"
run() { # run JOB [options]
    local job=$1
    shift
    timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/$job.jsonl" --redis "$REDIS_URL" --job "$job" \
        --base-url "$MOCK_URL" --provider none --give-up-after 2 --no-progress "$@"
}

# 1. Out of memory while feeding.
start_mock --latency 50
run oom -c 4 --backlog 20 2>"$T/oom1.err" &
pid=$!
wait_job oom
for _ in $(seq 1 100); do
    [ "$(rcli scard 'sluice:job:{oom}:done')" -ge 10 ] 2>/dev/null && break
    sleep 0.05
done
rcli config set maxmemory-policy noeviction >/dev/null
rcli config set maxmemory 1 >/dev/null
start=$(date +%s)
rc=0; wait "$pid" || rc=$?
took=$(($(date +%s) - start))
done_then=$(rcli scard 'sluice:job:{oom}:done')
rcli config set maxmemory 0 >/dev/null
[ "$rc" = 3 ] || fail "out of memory: exit $rc (want 3): $(cat "$T/oom1.err")"
grep -q "could not be fed into the job (Redis refused the lines: OOM" "$T/oom1.err" ||
    fail "out of memory: no reason given: $(cat "$T/oom1.err")"
[ "$took" -le 20 ] || fail "out of memory: it took $took s to stop"
[ "$done_then" -lt $N ] || fail "the job was done before Redis refused: the test shows nothing"
rc=0; run oom -c 4 --backlog 20 2>"$T/oom2.err" || rc=$?
[ "$rc" = 0 ] || fail "out of memory, second run: exit $rc: $(cat "$T/oom2.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/oom.jsonl" --all-success ||
    fail "out of memory: results"

# 2. Read-only while answers are on their way (1 s each).
start_mock --latency 1000
run ro -c 4 2>"$T/ro1.err" &
pid=$!
for _ in $(seq 1 200); do
    [ "$(mock_stat "['in_flight']" 2>/dev/null || echo 0)" -ge 1 ] && break
    sleep 0.02
done
rcli replicaof 127.0.0.1 1 >/dev/null # a master that is not there: read-only from now on
start=$(date +%s)
rc=0; wait "$pid" || rc=$?
took=$(($(date +%s) - start))
rcli replicaof no one >/dev/null
[ "$rc" = 3 ] || fail "read-only: exit $rc (want 3): $(cat "$T/ro1.err")"
grep -q "refused the results' commits for .*READONLY" "$T/ro1.err" ||
    fail "read-only: no reason given: $(cat "$T/ro1.err")"
[ "$took" -le 20 ] || fail "read-only: it took $took s to stop"
rc=0; run ro -c 16 2>"$T/ro2.err" || rc=$?
[ "$rc" = 0 ] || fail "read-only, second run: exit $rc: $(cat "$T/ro2.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/ro.jsonl" --all-success ||
    fail "read-only: results"
grep -hE "could not be fed|refused the results' commits" "$T/oom1.err" "$T/ro1.err"
echo "ok: stopped in time both ways; the second runs completed"
