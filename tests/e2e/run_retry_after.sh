#!/bin/bash
# Retry-After is honoured: against --rpm 60 (one request a second), three requests at once take
# about two seconds, and sluice does not hammer the server while it waits.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --rpm 60 --no-rate-headers
python3 "$SRCDIR/tests/e2e/lib/gen.py" 4 >"$T/in.jsonl"
start=$(date +%s.%N)
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 4 \
    --backoff-base 0 --backoff-cap 0 --no-progress 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
end=$(date +%s.%N)
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "results"
limited=$(mock_stat "['rate_limited']")
# Without backoff, ignoring Retry-After would mean hundreds of 429s in three seconds.
[ "$limited" -le 12 ] || fail "$limited 429s: Retry-After was not honoured"
python3 -c "import sys; d=$end-$start; sys.exit(0 if 2.0 <= d <= 12 else 1)" ||
    fail "took $(python3 -c "print($end-$start)") s; 4 requests at 1/s need about 3 s"
echo "ok: $limited 429s"
