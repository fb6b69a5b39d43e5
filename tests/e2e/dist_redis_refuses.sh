#!/bin/bash
# Redis answers but refuses to store anything (maxmemory 1, noeviction) in the middle of a
# job: no result is lost (the commit scripts run whole or not at all), the run stops by itself
# with exit 3 and Redis's reason once the refusals have lasted --give-up-after (or at once if
# its input feed was refused), and with memory back the same command completes the job, each
# id once.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=200
start_redis
start_mock --latency 50
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"
run() {
    timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job rf \
        --base-url "$MOCK_URL" --provider none -c 4 --backlog 20 --give-up-after 2 \
        --no-progress "$@"
}
run 2>"$T/run1.err" &
pid=$!
wait_job rf
# Some results in first (else the test shows nothing).
for _ in $(seq 1 100); do
    [ "$(rcli scard 'sluice:job:{rf}:done')" -ge 10 ] 2>/dev/null && break
    sleep 0.05
done
rcli config set maxmemory-policy noeviction >/dev/null
rcli config set maxmemory 1 >/dev/null
start=$(date +%s)
rc=0; wait "$pid" || rc=$?
took=$(($(date +%s) - start))
done_at_oom=$(rcli scard 'sluice:job:{rf}:done')
rcli config set maxmemory 0 >/dev/null
[ "$rc" = 3 ] || fail "first run: exit $rc (want 3): $(cat "$T/run1.err")"
grep -q "OOM command not allowed" "$T/run1.err" || fail "no reason given: $(cat "$T/run1.err")"
[ "$took" -le 20 ] || fail "it took $took s to stop"
[ "$done_at_oom" -lt $N ] || fail "the job was done before Redis refused: the test shows nothing"

rc=0; run 2>"$T/run2.err" || rc=$?
[ "$rc" = 0 ] || fail "second run: exit $rc: $(cat "$T/run2.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
grep -E "refused|could not be fed" "$T/run1.err"
echo "ok: $done_at_oom of $N done when Redis refused; stopped in $took s; the second run completed"
