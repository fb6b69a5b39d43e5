#!/bin/bash
# Bad input lines in a distributed job: invalid JSON, a duplicate custom_id, a line without a
# body, an empty custom_id, and a blank line. Every non-blank line gets exactly one result
# line; the bad ones are failed with invalid_request, the run's stderr names them file:line,
# and the run exits 1. A worker alongside sees only the good lines; running the command again
# writes nothing twice.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
start_redis
start_mock --latency 20
python3 "$SRCDIR/tests/e2e/lib/gen.py" 200 >"$T/in.jsonl"
{
    echo 'this is not json'                                                           # 201
    echo '{"custom_id": "no-body", "url": "/v1/chat/completions"}'                     # 202
    echo '{"custom_id": "req-1", "url": "/v1/chat/completions", "body": {"model": "m"}}' # 203
    echo ''                                                                           # 204
    echo '{"custom_id": "", "body": {}}'                                              # 205
    printf '{"custom_id": "crlf-ok", "url": "/v1/chat/completions", "body": {"model": "m"}}\r\n'
    python3 "$SRCDIR/tests/e2e/lib/gen.py" 50 --prefix tail                           # 207..
} >>"$T/in.jsonl"
GOOD=251
ARGS=(run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job bad --base-url "$MOCK_URL"
    --provider none --rpm 3000 -c 8 --no-progress)

timeout 60 "$SLUICE" "${ARGS[@]}" 2>"$T/err" &
run=$!
wait_job bad
timeout 60 "$SLUICE" work --redis "$REDIS_URL" --job bad -c 8 --no-progress \
    --stats-json "$T/work.json" 2>"$T/work.err" &
worker=$!
rc=0; wait "$run" || rc=$?
cat "$T/err" >&2
[ "$rc" = 1 ] || fail "run: exit $rc, expected 1"
rc=0; wait "$worker" || rc=$?
# Whoever takes a rejected line from the stream commits its failed result, so the worker
# exits 1 exactly when some of the bad lines came to it.
wfailed=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["failed"])' "$T/work.json")
[ "$rc" = $((wfailed > 0 ? 1 : 0)) ] ||
    fail "worker: exit $rc with $wfailed failed lines: $(cat "$T/work.err")"
for n in 201 202 203 205; do
    grep -q "^$T/in.jsonl:$n: " "$T/err" || fail "no $T/in.jsonl:$n: message on stderr"
done
grep -q "in.jsonl:203: .*duplicate" "$T/err" || fail "duplicate custom_id not reported"
! grep -q "in.jsonl:204:" "$T/err" || fail "the blank line was reported"

check() {
    python3 - "$T/out.jsonl" "$GOOD" <<'PY'
import json, sys
res = [json.loads(l) for l in open(sys.argv[1])]
good = int(sys.argv[2])
assert len(res) == good + 4, "%d result lines for %d non-blank lines" % (len(res), good + 4)
bad = [r for r in res if r["error"]]
assert len(bad) == 4, bad
assert all(r["error"]["code"] == "invalid_request" for r in bad), bad
assert sorted(r["custom_id"] for r in bad) == ["line-201", "line-205", "no-body", "req-1"], bad
ok = [r["custom_id"] for r in res if not r["error"]]
assert len(ok) == len(set(ok)) == good, "%d successes, %d distinct" % (len(ok), len(set(ok)))
assert set(ok) == ({"req-%d" % i for i in range(1, 201)} | {"tail-%d" % i for i in range(1, 51)}
                   | {"crlf-ok"}), set(ok)
PY
}
check || fail "result lines"
requests=$(mock_stat "['requests']")
[ "$requests" = $GOOD ] || fail "$requests requests for $GOOD good lines"
"$SLUICE" job status --redis "$REDIS_URL" --job bad --json >"$T/status.json" || fail "status"
python3 - "$T/status.json" "$GOOD" <<'PY' || fail "job status --json: $(cat "$T/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
n = int(sys.argv[2]) + 4
assert s["total"] == n and s["done"] == n and s["failed"] == 4, s
PY

# The same command again: the job is finished; OUTPUT is not written twice.
rc=0
timeout 60 "$SLUICE" "${ARGS[@]}" 2>"$T/err2" || rc=$?
[ "$rc" = 1 ] || fail "second run: exit $rc, expected 1: $(cat "$T/err2")"
check || fail "result lines after the second run"
[ "$(mock_stat "['requests']")" = $GOOD ] || fail "the second run sent requests"
echo ok
