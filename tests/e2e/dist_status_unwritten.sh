#!/bin/bash
# `sluice job status` counts the result lines not yet written to OUTPUT, not the stream
# entries that hold them (one entry per commit call, often many lines). A run is killed with
# results still in Redis: "unwritten" equals the lines in the results stream, counted here
# from the stream itself, and is more than its entries. The same command again writes them,
# and status then says 0.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=300
start_redis
start_mock --latency 20
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"
run() {
    timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job st \
        --base-url "$MOCK_URL" --provider none -c 8 --no-progress "$@"
}
run 2>"$T/run1.err" &
run_t=$!
wait_job st
pid=$(child_of "$(child_of "$run_t")") # the subshell's timeout's sluice
for _ in $(seq 1 200); do
    [ "$(rcli scard 'sluice:job:{st}:done')" -ge 100 ] 2>/dev/null && break
    sleep 0.02
done
kill -9 "$pid"
rc=0; wait "$run_t" || rc=$?
[ "$rc" = 137 ] || fail "the first run was not killed mid-run (exit $rc)"
# Lines in the results stream: each result is a field pair "line" N "r" LINE.
lines=$(rcli xrange 'sluice:job:{st}:out' - + | grep -cx 'r' || true)
entries=$(rcli xlen 'sluice:job:{st}:out')
"$SLUICE" job status --redis "$REDIS_URL" --job st --json >"$T/s1.json" || fail "status: exit $?"
python3 - "$T/s1.json" "$lines" "$entries" <<'PY' || fail "status after the kill: $(cat "$T/s1.json")"
import json, sys
s = json.load(open(sys.argv[1]))
lines, entries = int(sys.argv[2]), int(sys.argv[3])
assert lines > entries > 0, ("the test shows nothing", lines, entries)
assert s["unwritten"] == lines, (s["unwritten"], lines, entries)
print("unwritten %d lines in %d entries" % (lines, entries))
PY

rc=0; run 2>"$T/run2.err" || rc=$?
[ "$rc" = 0 ] || fail "second run: exit $rc: $(cat "$T/run2.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
"$SLUICE" job status --redis "$REDIS_URL" --job st --json >"$T/s2.json" || fail "status: exit $?"
python3 - "$T/s2.json" "$N" <<'PY' || fail "status at the end: $(cat "$T/s2.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["done"] == int(sys.argv[2]) and s["unwritten"] == 0, s
PY
echo ok
