#!/bin/bash
# Issue 17.2: an OUTPUT that holds results is never truncated without a word. The same command
# again, without --resume, is refused (exit 2) with the count of results and the two ways on;
# OUTPUT is untouched and nothing is sent. --overwrite starts over; --resume goes on;
# --resume with --overwrite is a contradiction (exit 2).
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
run() { "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    --no-progress "$@"; }
run 2>"$T/err" || fail "first run: exit $?: $(cat "$T/err")"
sum=$(md5sum <"$T/out.jsonl")

rc=0; run 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "the same command again: exit $rc, expected 2: $(cat "$T/err")"
grep -q "out.jsonl has 20 results; add --resume to continue, or --overwrite to start over" \
    "$T/err" || fail "the refusal: $(cat "$T/err")"
[ "$(md5sum <"$T/out.jsonl")" = "$sum" ] || fail "a refused run changed OUTPUT"
[ "$(mock_stat "['requests']")" = 20 ] || fail "a refused run sent requests"
[ ! -e "$T/out.jsonl.lock" ] || fail "a refused run left its lock file"

# A torn single line is one result, in the singular.
head -c 50 "$T/in.jsonl" >"$T/one.jsonl"
rc=0; "$SLUICE" run "$T/in.jsonl" -o "$T/one.jsonl" --base-url "$MOCK_URL" --provider none \
    2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "has 1 result;" "$T/err" || fail "one result: exit $rc: $(cat "$T/err")"
# A file that holds no results at all is not called results, and is kept too.
printf 'notes\nmore notes\n' >"$T/notes.txt"
rc=0; "$SLUICE" run "$T/in.jsonl" -o "$T/notes.txt" --base-url "$MOCK_URL" --provider none \
    2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "not empty (2 lines, none of them a result)" "$T/err" ||
    fail "not results: exit $rc: $(cat "$T/err")"
[ "$(cat "$T/notes.txt")" = "$(printf 'notes\nmore notes')" ] || fail "notes.txt was changed"

rc=0; run --resume --overwrite 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "--resume --overwrite: exit $rc, expected 2"
[ "$(md5sum <"$T/out.jsonl")" = "$sum" ] || fail "--resume --overwrite changed OUTPUT"

run --resume 2>"$T/err" || fail "--resume: exit $?: $(cat "$T/err")"
[ "$(mock_stat "['requests']")" = 20 ] || fail "--resume on a finished OUTPUT sent requests"
run --overwrite 2>"$T/err" || fail "--overwrite: exit $?: $(cat "$T/err")"
[ "$(mock_stat "['requests']")" = 40 ] || fail "--overwrite did not start over"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "--overwrite: results"
# An empty OUTPUT, stdout and /dev/null need nothing.
: >"$T/empty.jsonl"
"$SLUICE" run "$T/in.jsonl" -o "$T/empty.jsonl" --base-url "$MOCK_URL" --provider none \
    2>"$T/err" || fail "empty OUTPUT: exit $?: $(cat "$T/err")"
"$SLUICE" run "$T/in.jsonl" -o /dev/null --base-url "$MOCK_URL" --provider none 2>"$T/err" ||
    fail "/dev/null: exit $?: $(cat "$T/err")"
echo ok
