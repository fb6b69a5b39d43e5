#!/bin/bash
# Issue 17.23: a Redis password need not be on the command line, where ps shows it. The URL
# comes from $REDIS_URL (for `sluice work`, `sluice job` and a run given --job) or from
# --redis-url-file; a password given in --redis gets one warning; no message ever shows the
# password (the server is named redis://:***@host:port/db).
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
PW=pw-23-Secret
REDIS_AUTH=$PW
start_redis --requirepass "$PW"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
HOST="127.0.0.1:$REDIS_PORT"
RUN=(run "$T/in.jsonl" --base-url "$MOCK_URL" --provider none --no-progress)

# expect_exit CODE NAME CMD...: runs CMD (bounded to 30 s), stdout and stderr to $T/NAME.out.
expect_exit() {
    local want=$1 name=$2 rc=0
    shift 2
    timeout 30 "$@" >"$T/$name.out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || fail "$name: exit $rc, expected $want: $(cat "$T/$name.out")"
}

# The password on the command line: it works, with one warning that names the other ways.
expect_exit 0 cmdline env -u REDIS_URL "$SLUICE" "${RUN[@]}" -o "$T/a.jsonl" \
    --redis "redis://:$PW@$HOST" --job a
[ "$(grep -c "password in --redis can be read by every user" "$T/cmdline.out")" = 1 ] ||
    fail "no single warning for the password in --redis: $(cat "$T/cmdline.out")"
grep -q 'REDIS_URL' "$T/cmdline.out" || fail "the warning does not name \$REDIS_URL"
grep -q "redis://:\*\*\*@$HOST/0" "$T/cmdline.out" ||
    fail "the server is not named with the password hidden: $(cat "$T/cmdline.out")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/a.jsonl" --all-success ||
    fail "run a: results"

# $REDIS_URL: a run told its --job, a worker and `sluice job` use it, without a warning.
export REDIS_URL="redis://:$PW@$HOST"
expect_exit 0 env-run "$SLUICE" "${RUN[@]}" -o "$T/b.jsonl" --job b
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/b.jsonl" --all-success ||
    fail "run b: results"
[ "$(rcli exists 'sluice:job:{b}:meta')" = 1 ] || fail "the run with \$REDIS_URL is not in Redis"
expect_exit 0 env-work "$SLUICE" work --job b --no-progress
expect_exit 0 env-status "$SLUICE" job status --job b
grep -q "finished" "$T/env-status.out" || fail "job status: $(cat "$T/env-status.out")"
expect_exit 0 env-list "$SLUICE" job list
grep -qx "b" "$T/env-list.out" || fail "job list: $(cat "$T/env-list.out")"
# Without --job a run stays on this machine, whatever the environment says.
expect_exit 0 env-local "$SLUICE" "${RUN[@]}" -o "$T/local.jsonl"
[ "$(rcli exists 'sluice:job:{in}:meta')" = 0 ] || fail "a run without --job went to Redis"
grep -q "Redis" "$T/env-local.out" && fail "a local run speaks of Redis: $(cat "$T/env-local.out")"

# --redis-url-file: the first line of a file.
unset REDIS_URL
printf 'redis://:%s@%s\n' "$PW" "$HOST" >"$T/redis.url"
chmod 600 "$T/redis.url"
expect_exit 0 file-run "$SLUICE" "${RUN[@]}" -o "$T/c.jsonl" --redis-url-file "$T/redis.url" --job c
expect_exit 0 file-work "$SLUICE" work --redis-url-file "$T/redis.url" --job c --no-progress
expect_exit 0 file-status "$SLUICE" job status --redis-url-file "$T/redis.url" --job c
expect_exit 2 file-missing "$SLUICE" work --redis-url-file "$T/nofile" --job c
grep -q "nofile" "$T/file-missing.out" || fail "file-missing: $(cat "$T/file-missing.out")"
expect_exit 2 file-both "$SLUICE" work --redis-url-file "$T/redis.url" --redis "redis://$HOST" --job c

# A wrong password, in each place: refused, and shown nowhere.
expect_exit 3 wrong-cmdline "$SLUICE" job list --redis "redis://:wrong-23-pw@$HOST"
expect_exit 3 wrong-env env REDIS_URL="redis://:wrong-23-pw@$HOST" "$SLUICE" work --job c --no-progress
grep -q "refused the password" "$T/wrong-env.out" || fail "wrong-env: $(cat "$T/wrong-env.out")"
grep -q "redis://:\*\*\*@$HOST/0" "$T/wrong-env.out" || fail "wrong-env: $(cat "$T/wrong-env.out")"
# No password at all: the message says where to put one.
expect_exit 3 none env -u REDIS_URL -u SLUICE_REDIS_PASSWORD "$SLUICE" job list --redis "redis://$HOST"
grep -q 'REDIS_URL' "$T/none.out" || fail "none: $(cat "$T/none.out")"

for f in "$T"/*.out "$T"/*.jsonl; do
    ! grep -q -e "$PW" -e "wrong-23-pw" "$f" || fail "a password is in $f: $(cat "$f")"
done
echo ok
