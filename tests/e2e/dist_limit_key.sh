#!/bin/bash
# --limit-key: two plain `sluice run --redis` on different inputs (two jobs) that name the same
# key share one --rpm: against a mock that allows exactly that rate, together they get at most
# 1% 429s. The control, the same two runs without Redis, each paced to the whole budget on its
# own, gets more.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=150
start_redis
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N --prefix a >"$T/a.jsonl"
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N --prefix b >"$T/b.jsonl"

# two_runs LABEL [options...]: both inputs at once against a fresh mock --rpm 1200; sets
# REQUESTS and LIMITED from the mock.
two_runs() {
    local label=$1 p pids="" rc x
    shift
    start_mock --rpm 1200 --latency 50
    for x in a b; do
        timeout 120 "$SLUICE" run "$T/$x.jsonl" -o "$T/$label.$x.out" --base-url "$MOCK_URL" \
            --provider none --rpm 1200 -c 16 --no-progress "$@" 2>"$T/$label.$x.err" &
        pids="$pids $!"
    done
    for p in $pids; do
        rc=0; wait "$p" || rc=$?
        [ "$rc" = 0 ] || fail "$label: exit $rc: $(cat "$T/$label".*.err)"
    done
    for x in a b; do
        python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/$x.jsonl" "$T/$label.$x.out" \
            --all-success || fail "$label: results of $x"
    done
    REQUESTS=$(mock_stat "['requests']")
    LIMITED=$(mock_stat "['rate_limited']")
    echo "$label: $REQUESTS requests, $LIMITED answered 429"
}

# 300 lines at 1200 rpm: about 15 s.
two_runs shared --redis "$REDIS_URL" --limit-key k
[ $((LIMITED * 100)) -le "$REQUESTS" ] ||
    fail "two jobs on one --limit-key: $LIMITED of $REQUESTS requests answered 429"
shared=$LIMITED
[ "$(rcli exists 'sluice:limit:{k}')" = 1 ] || fail "no sluice:limit:{k} in Redis"
[ "$(rcli exists 'sluice:job:{a}:meta')$(rcli exists 'sluice:job:{b}:meta')" = 11 ] ||
    fail "the two runs were not two jobs"

two_runs alone
[ "$LIMITED" -gt $((shared + 10)) ] ||
    fail "control without Redis: $LIMITED 429s, not more than the shared budget's $shared"
echo ok
