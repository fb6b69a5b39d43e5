#!/bin/bash
# kill -9 of one worker while it holds requests: the others claim its pending entries within
# --claim-idle (2 s) + 5 s, every id ends in OUTPUT exactly once, and the mock served at most
# N + that worker's -c requests (only what it had in flight is sent twice).
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=1000
C=20
start_redis
start_mock --latency 500
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"
IN='sluice:job:{k}:in'

# Four processes at -c 20 and 500 ms: 160 requests a second, about 6 s of work.
timeout 180 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job k \
    --base-url "$MOCK_URL" --provider none -c $C --claim-idle 2 --no-progress 2>"$T/run.err" &
run=$!
wait_job k
workers=""
for k in 1 2 3; do
    timeout 180 "$SLUICE" work --redis "$REDIS_URL" --job k -c $C --no-progress \
        2>"$T/work$k.err" &
    workers="$workers $!"
done
victim_t=${workers# }
victim_t=${victim_t%% *} # the first worker's timeout; the worker is its child
victim=$(child_of "$victim_t")

# Its consumer name: the workers hash maps each consumer to a heartbeat with its pid. Then
# wait until it holds entries, and a second more so that its requests are on the wire.
consumer=""
for _ in $(seq 1 100); do
    consumer=$(rcli hgetall 'sluice:job:{k}:workers' | python3 -c '
import sys
l = sys.stdin.read().split("\n")
for name, v in zip(l[0::2], l[1::2]):
    if ("\"pid\":%s" % sys.argv[1]) in v:
        print(name)
' "$victim")
    [ -n "$consumer" ] && break
    sleep 0.05
done
[ -n "$consumer" ] || fail "no heartbeat from worker pid $victim"
held=0
for _ in $(seq 1 100); do
    held=$(rcli xpending "$IN" sluice - + 1000 "$consumer" | awk 'NR % 4 == 1' | grep -c . || true)
    [ "$held" -ge $C ] && break
    sleep 0.05
done
[ "$held" -ge 1 ] || fail "worker $consumer never held entries"
sleep 1
held=$(rcli xpending "$IN" sluice - + 1000 "$consumer" | awk 'NR % 4 == 1' | grep -c . || true)
kill -9 "$victim"
killed_at=$(date +%s.%N)
[ "$held" -ge 1 ] || fail "worker $consumer held nothing when killed"

# Its pending entries go to the others within claim-idle + 5 s.
left=$held
while :; do
    left=$(rcli xpending "$IN" sluice - + 1000 "$consumer" | awk 'NR % 4 == 1' | grep -c . || true)
    now=$(date +%s.%N)
    [ "$left" = 0 ] && break
    python3 -c "import sys; sys.exit(0 if $now - $killed_at <= 7.0 else 1)" ||
        fail "$left entries still pending with the dead consumer $consumer 7 s after the kill"
    sleep 0.1
done
claimed_in=$(python3 -c "print(round($now - $killed_at, 1))")

rc=0; wait "$run" || rc=$?
[ "$rc" = 0 ] || fail "run: exit $rc: $(cat "$T/run.err")"
rc=0; wait "$victim_t" || rc=$?
[ "$rc" = 137 ] || fail "the killed worker: exit $rc, expected 137 (SIGKILL)"
k=0
for p in $workers; do
    k=$((k + 1))
    [ "$p" = "$victim_t" ] && continue
    rc=0; wait "$p" || rc=$?
    [ "$rc" = 0 ] || fail "worker $k: exit $rc: $(cat "$T/work$k.err")"
done

python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
requests=$(mock_stat "['requests']")
[ "$requests" -ge $N ] || fail "the mock served $requests requests for $N lines"
[ "$requests" -le $((N + C)) ] ||
    fail "the mock served $requests requests: more than $N lines + $C in flight on the killed worker"
"$SLUICE" job status --redis "$REDIS_URL" --job k --json >"$T/status.json" || fail "status"
python3 - "$N" "$T/status.json" <<'PY' || fail "job status --json: $(cat "$T/status.json")"
import json, sys
n = int(sys.argv[1])
s = json.load(open(sys.argv[2]))
assert s["total"] == n and s["done"] == n and s["failed"] == 0 and s["pending"] == 0, s
PY
echo "ok: killed $consumer holding $held entries; claimed in ${claimed_in} s; $requests requests"
