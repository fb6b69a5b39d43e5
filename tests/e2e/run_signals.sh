#!/bin/bash
# The first SIGINT drains: nothing new is sent, requests in flight are written, exit 3 with a
# hint to --resume. A second SIGINT abandons what is in flight. Either way --resume finishes.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 400
python3 "$SRCDIR/tests/e2e/lib/gen.py" 400 >"$T/in.jsonl"
ARGS=(run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 20
    --no-progress)
# exec, so that $! is sluice itself and the signals reach it.
(exec "$SLUICE" "${ARGS[@]}" 2>"$T/err1") &
pid=$!
sleep 1
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 3 ] || fail "drain: exit $rc, expected 3: $(cat "$T/err1")"
grep -q -- "--resume" "$T/err1" || fail "drain: no --resume hint"
lines=$(wc -l <"$T/out.jsonl")
sent=$(mock_stat "['requests']")
# Everything that was sent was written (the drain waited for it), and it stopped early.
[ "$lines" = "$sent" ] || fail "drain: $sent requests sent but $lines results written"
[ "$lines" -lt 400 ] || fail "drain: nothing was left to resume"
python3 - "$T/out.jsonl" <<'PY' || fail "drain wrote failures"
import json, sys
assert all(json.loads(l)["error"] is None for l in open(sys.argv[1]))
PY

(exec "$SLUICE" "${ARGS[@]}" --resume 2>"$T/err2") &
pid=$!
sleep 1
kill -INT "$pid"
sleep 0.1
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 3 ] || fail "abandon: exit $rc, expected 3: $(cat "$T/err2")"
grep -q "abandon" "$T/err2" || fail "abandon: no message"

"$SLUICE" "${ARGS[@]}" --resume 2>"$T/err3" || fail "final resume: exit $?: $(cat "$T/err3")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "results"

# --drain-timeout: requests that never answer are abandoned after the timeout, not waited on.
start_mock --hang-rate 1
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/hang.jsonl"
(exec "$SLUICE" run "$T/hang.jsonl" -o "$T/hang.out" --base-url "$MOCK_URL" --provider none \
    -c 4 --drain-timeout 1 --no-progress 2>"$T/err4") &
pid=$!
sleep 0.5
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 3 ] || fail "drain timeout: exit $rc, expected 3: $(cat "$T/err4")"
grep -q -- "--drain-timeout" "$T/err4" || fail "drain timeout: no message: $(cat "$T/err4")"
[ ! -s "$T/hang.out" ] || fail "drain timeout: abandoned requests were written"
echo "ok: drained $lines, then resumed to the end; drain timeout abandoned hung requests"
