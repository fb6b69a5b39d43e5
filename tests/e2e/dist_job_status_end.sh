#!/bin/bash
# Issue 17.15, distributed mode: `sluice job list` with no jobs says so (on stderr: stdout stays
# one name per line), and once a job is finished `sluice job status` shows every process that
# worked on it with nothing in flight, and exited: each sends a last heartbeat on its way out,
# rather than leaving the one from a moment before, with requests still on the wire.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
start_redis
start_mock --latency 200

"$SLUICE" job list --redis "$REDIS_URL" >"$T/list" 2>"$T/list.err" || fail "job list: exit $?"
[ ! -s "$T/list" ] || fail "job list with no jobs printed on stdout: $(cat "$T/list")"
grep -qx "sluice: no jobs in Redis at redis://127.0.0.1:$REDIS_PORT/0" "$T/list.err" ||
    fail "job list with no jobs: $(cat "$T/list.err")"

# At -c 8 against 200 ms answers, 8 requests are in flight at every heartbeat until the end.
python3 "$SRCDIR/tests/e2e/lib/gen.py" 80 >"$T/in.jsonl"
(exec timeout 60 "$SLUICE" work --redis "$REDIS_URL" --job end -c 8 --no-progress \
    2>"$T/work.err") &
worker=$!
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job end \
    --base-url "$MOCK_URL" --provider none -c 8 --no-progress 2>"$T/run.err" ||
    fail "run: exit $?: $(cat "$T/run.err")"
wait "$worker" || fail "worker: exit $?: $(cat "$T/work.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"

"$SLUICE" job status --redis "$REDIS_URL" --job end --json >"$T/status.json" ||
    fail "job status: exit $?"
python3 - "$T/status.json" <<'PY' || fail "job status --json: $(cat "$T/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["done"] == s["total"] == 80, s
assert len(s["workers"]) == 2, s["workers"]
for w in s["workers"]:
    assert w["info"]["in_flight"] == 0, w
    assert w["info"].get("exited") is True, w
assert sum(w["info"]["done"] for w in s["workers"]) == 80, s["workers"]
PY
"$SLUICE" job status --redis "$REDIS_URL" --job end >"$T/status.txt" || fail "job status: exit $?"
grep -q '"in_flight":0' "$T/status.txt" || fail "job status: $(cat "$T/status.txt")"
"$SLUICE" job list --redis "$REDIS_URL" >"$T/list" 2>"$T/list.err" || fail "job list: exit $?"
[ "$(cat "$T/list")" = end ] && [ ! -s "$T/list.err" ] ||
    fail "job list with one job: $(cat "$T/list") / $(cat "$T/list.err")"
echo ok
