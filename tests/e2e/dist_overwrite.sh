#!/bin/bash
# Issue 17.2 in Redis mode: running the same command again goes on with the job (OUTPUT is
# appended to, nothing is sent twice), as the README says; a new job over an OUTPUT that holds
# results (the old job deleted) is refused unless --overwrite, and --overwrite on a job that
# exists is refused (it would go on, not start over).
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
start_redis
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 30 >"$T/in.jsonl"
run() { timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job ow \
    --base-url "$MOCK_URL" --provider none --no-progress "$@"; }
run 2>"$T/err" || fail "first run: exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "first run: results"
sum=$(md5sum <"$T/out.jsonl")
run 2>"$T/err" || fail "the same command again: exit $?: $(cat "$T/err")"
[ "$(md5sum <"$T/out.jsonl")" = "$sum" ] || fail "the same command again changed OUTPUT"
[ "$(mock_stat "['requests']")" = 30 ] || fail "the same command again sent requests"

rc=0; run --overwrite 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "sluice job delete" "$T/err" ||
    fail "--overwrite on an existing job: exit $rc: $(cat "$T/err")"

"$SLUICE" job delete --redis "$REDIS_URL" --job ow >/dev/null || fail "job delete: exit $?"
rc=0; run 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "has 30 results" "$T/err" && grep -q -- "--overwrite" "$T/err" ||
    fail "a new job over 30 results: exit $rc: $(cat "$T/err")"
[ "$(md5sum <"$T/out.jsonl")" = "$sum" ] || fail "a refused run changed OUTPUT"
[ "$(rcli exists 'sluice:job:{ow}:meta')" = 0 ] || fail "a refused run created the job"
run --overwrite 2>"$T/err" || fail "--overwrite on a new job: exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "--overwrite: results"
[ "$(mock_stat "['requests']")" = 60 ] || fail "--overwrite did not start over"
echo ok
