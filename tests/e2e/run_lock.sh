#!/bin/bash
# One writer per OUTPUT: a second run on the same OUTPUT is refused (exit 2) while the first
# holds it, and works once the first has finished; the lock file does not outlive the run.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 300
python3 "$SRCDIR/tests/e2e/lib/gen.py" 40 >"$T/in.jsonl"
(exec "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    -c 4 --no-progress 2>"$T/err1") &
pid=$!
sleep 0.5
rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none --resume \
    --no-progress 2>"$T/err2" || rc=$?
[ "$rc" = 2 ] || fail "second writer: exit $rc, expected 2: $(cat "$T/err2")"
grep -q "another sluice" "$T/err2" || fail "second writer: no clear message: $(cat "$T/err2")"
wait "$pid" || fail "first run: exit $?: $(cat "$T/err1")"
[ ! -e "$T/out.jsonl.lock" ] || fail "the lock file outlived the run"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "results"
echo ok
