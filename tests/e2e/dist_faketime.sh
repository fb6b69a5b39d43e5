#!/bin/bash
# The shared budget runs on Redis's clock, not the hosts': a worker whose clock is 30 s ahead
# (faketime) next to a normal run, both told --rpm 3000 against a mock that allows 3000 rpm,
# gets at most 1% of its requests answered 429, and the job completes exactly once.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
command -v faketime >/dev/null || { echo "skip: faketime is not installed"; exit 77; }
[ "$(faketime -f +30s date +%s)" -ge $(($(date +%s) + 29)) ] ||
    { echo "skip: faketime does not move the clock here"; exit 77; }
# libfaketime's clock_gettime and AddressSanitizer's interceptors call each other in circles
# ("Unexpected recursive calls to clock_gettime()"): the check belongs to the plain build.
# (grep reads all of nm's output: with -q it could stop first, and nm's SIGPIPE would fail
# the pipeline under pipefail, so the check would not skip.)
if nm "$SLUICE" 2>/dev/null | grep __asan_init >/dev/null; then
    echo "skip: libfaketime cannot run under AddressSanitizer"
    exit 77
fi
N=1000
start_redis
start_mock --rpm 3000 --latency 50
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"

# 1000 lines at 3000 rpm: about 20 s.
timeout 120 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job f \
    --base-url "$MOCK_URL" --provider none --rpm 3000 -c 16 --no-progress \
    --stats-json "$T/run.json" 2>"$T/run.err" &
run=$!
wait_job f
timeout 120 faketime -f +30s "$SLUICE" work --redis "$REDIS_URL" --job f --rpm 3000 -c 16 \
    --no-progress --stats-json "$T/work.json" 2>"$T/work.err" &
worker=$!

rc=0; wait "$run" || rc=$?
[ "$rc" = 0 ] || fail "run: exit $rc: $(cat "$T/run.err")"
rc=0; wait "$worker" || rc=$?
[ "$rc" = 0 ] || fail "worker under faketime: exit $rc: $(cat "$T/work.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
requests=$(mock_stat "['requests']")
limited=$(mock_stat "['rate_limited']")
[ $((limited * 100)) -le "$requests" ] || fail "$limited of $requests requests answered 429"
# The fast-clock worker did its share (else the test shows nothing).
python3 - "$T/work.json" <<'PY' || fail "the worker under faketime did no work"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["succeeded"] >= 100, s["succeeded"]
print("worker under faketime: %d of the lines" % s["succeeded"])
PY
echo "ok: $requests requests, $limited 429s"
