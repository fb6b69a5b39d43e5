#!/bin/bash
# Issue 17.12: a run with nothing to send says so in one line instead of a summary of zeros
# (an empty input; --resume over an OUTPUT that has every id), and exits 0. The summary's
# counts agree with their numbers ("1 request", "1 attempt"), and a run too short for a rate
# to mean anything shows none.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
run() { "$SLUICE" run "$@" --base-url "$MOCK_URL" --provider none --no-progress; }

: >"$T/empty.jsonl"
run "$T/empty.jsonl" -o "$T/e.jsonl" 2>"$T/err" || fail "empty input: exit $?: $(cat "$T/err")"
[ "$(cat "$T/err")" = "sluice: nothing to do: $T/empty.jsonl has no requests" ] ||
    fail "empty input: $(cat "$T/err")"
printf '\n  \n' | run - -o "$T/e2.jsonl" 2>"$T/err" || fail "blank stdin: exit $?"
[ "$(cat "$T/err")" = "sluice: nothing to do: stdin has no requests" ] ||
    fail "blank stdin: $(cat "$T/err")"

python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
run "$T/in.jsonl" -o "$T/out.jsonl" 2>"$T/err" || fail "first run: exit $?: $(cat "$T/err")"
run "$T/in.jsonl" -o "$T/out.jsonl" --resume 2>"$T/err" ||
    fail "--resume, finished: exit $?: $(cat "$T/err")"
[ "$(cat "$T/err")" = "sluice: nothing to do: all 20 ids are already in $T/out.jsonl" ] ||
    fail "--resume, finished: $(cat "$T/err")"
[ "$(mock_stat "['requests']")" = 20 ] || fail "--resume, finished: sent requests"

# One request: singular words, and no rate for a run of a few milliseconds.
head -n1 "$T/in.jsonl" >"$T/one.jsonl"
run "$T/one.jsonl" -o "$T/one.out" 2>"$T/err" || fail "one line: exit $?: $(cat "$T/err")"
grep -q "^sluice: 1 request in [0-9.]*s: 1 succeeded, 0 failed$" "$T/err" ||
    fail "one line: $(cat "$T/err")"
grep -q "^sluice: 1 attempt, 0 retries," "$T/err" || fail "one line: attempts: $(cat "$T/err")"
! grep -q "req/s" "$T/err" || fail "one line: a rate for a run of milliseconds: $(cat "$T/err")"
# A run of over a second has its rate.
start_mock --latency 1100
run "$T/one.jsonl" -o "$T/slow.out" 2>"$T/err" || fail "slow: exit $?: $(cat "$T/err")"
grep -q "^sluice: 1 request in 1\.[0-9]s ([0-9.]* req/s): 1 succeeded" "$T/err" ||
    fail "a run of a second has no rate: $(cat "$T/err")"
echo ok
