#!/bin/bash
# The command line of distributed mode: usage errors exit 2, an unreachable Redis exits 3 at
# once, `sluice job list/status/delete` do what they say, and the password and unix-socket
# forms of the Redis URL work.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
start_redis
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
# Each job writes an OUTPUT of its own: a new job over results another left is refused.
RUN=(run "$T/in.jsonl" --base-url "$MOCK_URL" --provider none --no-progress)

# expect_exit CODE NAME CMD...: runs CMD (bounded to 20 s), stderr to $T/NAME.err.
expect_exit() {
    local want=$1 name=$2 rc=0
    shift 2
    timeout 20 "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    [ "$rc" = "$want" ] || fail "$name: exit $rc, expected $want: $(cat "$T/$name.err")"
}

expect_exit 2 work-no-redis env -u REDIS_URL "$SLUICE" work --job j
expect_exit 2 work-no-job "$SLUICE" work --redis "$REDIS_URL"
expect_exit 2 run-resume "$SLUICE" "${RUN[@]}" -o "$T/out.jsonl" --redis "$REDIS_URL" --resume
expect_exit 2 run-ftp "$SLUICE" "${RUN[@]}" -o "$T/out.jsonl" --redis ftp://x
expect_exit 2 work-ftp "$SLUICE" work --redis ftp://x --job j
expect_exit 2 status-ftp "$SLUICE" job status --redis ftp://x --job j
[ ! -e "$T/out.jsonl" ] || fail "a refused run created OUTPUT"

# Nothing listens on a fresh free port: exit 3 at once, not after retries.
closed="redis://127.0.0.1:$(free_port)"
for cmd in "run:${RUN[*]} -o $T/out.jsonl" "work:work --job j" "status:job status --job j" "list:job list"; do
    name=${cmd%%:*}
    read -r -a argv <<<"${cmd#*:}"
    start=$(date +%s%3N)
    expect_exit 3 "closed-$name" "$SLUICE" "${argv[@]}" --redis "$closed"
    took=$(($(date +%s%3N) - start))
    [ "$took" -le 5000 ] || fail "closed-$name: took $took ms to give up on a closed port"
    grep -q "127.0.0.1" "$T/closed-$name.err" || fail "closed-$name: no address in the message"
done

# A job to look at: the run creates it with --rpm 600 and completes it.
"$SLUICE" "${RUN[@]}" -o "$T/out.jsonl" --redis "$REDIS_URL" --job c1 --rpm 600 2>"$T/c1.err" ||
    fail "run c1: exit $?: $(cat "$T/c1.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "c1 results"
# A worker whose options differ from the job's is refused, and told which option.
expect_exit 2 work-rpm "$SLUICE" work --redis "$REDIS_URL" --job c1 --rpm 1200 --no-progress
grep -q -- "--rpm" "$T/work-rpm.err" || fail "work-rpm: the message does not name --rpm: $(cat "$T/work-rpm.err")"
# The same options are accepted; the job is done, so the worker exits 0.
expect_exit 0 work-same "$SLUICE" work --redis "$REDIS_URL" --job c1 --rpm 600 --no-progress

"$SLUICE" job list --redis "$REDIS_URL" >"$T/list" || fail "job list: exit $?"
grep -qx "c1" "$T/list" || fail "job list does not show c1: $(cat "$T/list")"
"$SLUICE" job status --redis "$REDIS_URL" --job c1 --json >"$T/status.json" ||
    fail "job status: exit $?"
python3 - "$T/status.json" <<'PY' || fail "job status --json: $(cat "$T/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["job"] == "c1" and s["total"] == 20, s
assert s["done"] == s["total"] and s["failed"] == 0 and s["pending"] == 0, s
PY
expect_exit 1 status-missing "$SLUICE" job status --redis "$REDIS_URL" --job nosuch

# delete removes every key of the job, and only the job's.
rcli set unrelated 1 >/dev/null
[ -n "$(rcli --scan --pattern 'sluice:job:{c1}:*')" ] || fail "no keys for job c1 before delete"
"$SLUICE" job delete --redis "$REDIS_URL" --job c1 >"$T/delete" 2>&1 ||
    fail "job delete: exit $?: $(cat "$T/delete")"
left=$(rcli --scan --pattern 'sluice:job:{c1}:*')
[ -z "$left" ] || fail "job delete left: $left"
[ "$(rcli get unrelated)" = 1 ] || fail "job delete removed an unrelated key"
"$SLUICE" job list --redis "$REDIS_URL" >"$T/list2" || fail "job list after delete: exit $?"
! grep -qx "c1" "$T/list2" || fail "job list still shows c1 after delete"

# delete refuses an unfinished job unless --force: a run paced to 6 rpm is killed mid-way.
(exec "$SLUICE" "${RUN[@]}" -o "$T/c2.jsonl" --redis "$REDIS_URL" --job c2 --rpm 6 --limit-key c2 2>/dev/null) &
c2=$!
for _ in $(seq 1 100); do
    [ "$(rcli hexists 'sluice:job:{c2}:meta' total)" = 1 ] && break
    sleep 0.1
done
kill -9 "$c2"
wait "$c2" 2>/dev/null || true
expect_exit 2 delete-unfinished "$SLUICE" job delete --redis "$REDIS_URL" --job c2
grep -q -- "--force" "$T/delete-unfinished.err" || fail "delete-unfinished: no word of --force"
expect_exit 0 delete-force "$SLUICE" job delete --redis "$REDIS_URL" --job c2 --force
[ -z "$(rcli --scan --pattern 'sluice:job:{c2}:*')" ] || fail "job delete --force left keys"

# A worker started before its job waits for it (it never creates a job: the run's options
# make the job), then works on it and exits 0 when the job is done.
(exec timeout 30 "$SLUICE" work --redis "$REDIS_URL" --job c3 --no-progress 2>"$T/c3w.err") &
c3w=$!
for _ in $(seq 1 50); do
    grep -q "waiting" "$T/c3w.err" 2>/dev/null && break
    sleep 0.1
done
grep -q "no job c3 in Redis yet; waiting" "$T/c3w.err" || fail "early worker: $(cat "$T/c3w.err")"
[ "$(rcli exists 'sluice:job:{c3}:meta')" = 0 ] || fail "a waiting worker created the job"
timeout 20 "$SLUICE" "${RUN[@]}" -o "$T/c3.jsonl" --redis "$REDIS_URL" --job c3 2>"$T/c3.err" ||
    fail "run after an early worker: exit $?: $(cat "$T/c3.err")"
rc=0
wait "$c3w" || rc=$?
[ "$rc" = 0 ] || fail "the early worker: exit $rc: $(cat "$T/c3w.err")"

# Password: from SLUICE_REDIS_PASSWORD, or in the URL; and a unix socket URL.
stop_redis
REDIS_AUTH=s3cret
start_redis --requirepass s3cret --unixsocket "$T/redis.sock" --unixsocketperm 700
expect_exit 3 no-password "$SLUICE" "${RUN[@]}" -o "$T/p1.jsonl" --redis "$REDIS_URL" --job p1
grep -q "requires a password" "$T/no-password.err" ||
    fail "no word of the password in: $(cat "$T/no-password.err")"
expect_exit 3 wrong-password env SLUICE_REDIS_PASSWORD=wrong "$SLUICE" job list --redis "$REDIS_URL"
SLUICE_REDIS_PASSWORD=s3cret "$SLUICE" "${RUN[@]}" -o "$T/p1.jsonl" --redis "$REDIS_URL" --job p1 2>"$T/p1.err" ||
    fail "run with SLUICE_REDIS_PASSWORD: exit $?: $(cat "$T/p1.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/p1.jsonl" --all-success ||
    fail "p1 results"
"$SLUICE" job list --redis "redis://:s3cret@127.0.0.1:$REDIS_PORT" >"$T/list3" ||
    fail "job list with the password in the URL: exit $?"
grep -qx "p1" "$T/list3" || fail "job list (password in the URL) does not show p1"
SLUICE_REDIS_PASSWORD=s3cret "$SLUICE" "${RUN[@]}" -o "$T/u1.jsonl" --redis "unix://$T/redis.sock" --job u1 \
    2>"$T/u1.err" || fail "run over unix://: exit $?: $(cat "$T/u1.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/u1.jsonl" --all-success ||
    fail "u1 results"
[ "$(rcli exists 'sluice:job:{u1}:meta')" = 1 ] || fail "the unix:// run is not in the same Redis"
SLUICE_REDIS_PASSWORD=s3cret "$SLUICE" job status --redis "unix://$T/redis.sock" --job u1 \
    >"$T/u1.status" || fail "job status over unix://: exit $?"
grep -q finished "$T/u1.status" || fail "job status over unix://: $(cat "$T/u1.status")"
echo ok
