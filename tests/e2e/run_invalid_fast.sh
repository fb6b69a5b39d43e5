#!/bin/bash
# A file in the wrong format (2,000 lines of CSV) fails line by line at parse speed: 2,000
# failed results and exit 1 in well under a second, with --fsync 0 too (invalid lines once held
# request slots until a write freed them: 500 s, or for ever with --fsync 0). A mixed file runs
# its good lines alongside. The bound is generous; the time is printed.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 -c '
for i in range(2000):
    print("id%d,What is %d + %d?,gpt-4o-mini" % (i, i, i))' >"$T/in.csv"
for fsync in 1 0; do
    rc=0
    t0=$(date +%s.%N)
    timeout 20 "$SLUICE" run "$T/in.csv" -o "$T/out.$fsync.jsonl" --base-url "$MOCK_URL" \
        --provider none --no-progress --fsync "$fsync" 2>"$T/err" || rc=$?
    t1=$(date +%s.%N)
    [ "$rc" != 124 ] || fail "--fsync $fsync: not done within 20 s ($(wc -l <"$T/out.$fsync.jsonl") lines written)"
    [ "$rc" = 1 ] || fail "--fsync $fsync: exit $rc, expected 1: $(tail -3 "$T/err")"
    python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.csv" "$T/out.$fsync.jsonl" \
        --expect-failed 2000 --failed-code invalid_request || fail "--fsync $fsync: results"
    echo "2000 CSV lines, --fsync $fsync: $(python3 -c "print('%.3f' % ($t1 - $t0))") s"
done
[ "$(mock_stat '["requests"]')" = 0 ] || fail "an invalid line was sent"
# Good lines among the bad ones: each runs, each bad one fails, within the same bound.
{
    python3 "$SRCDIR/tests/e2e/lib/gen.py" 20
    head -n 500 "$T/in.csv"
    python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 --prefix late
} >"$T/mixed.jsonl"
rc=0
timeout 20 "$SLUICE" run "$T/mixed.jsonl" -o "$T/mixed.out" --base-url "$MOCK_URL" \
    --provider none --no-progress --fsync 0 -c 4 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "mixed: exit $rc, expected 1: $(tail -3 "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/mixed.jsonl" "$T/mixed.out" \
    --expect-failed 500 --failed-code invalid_request || fail "mixed: results"
echo ok
