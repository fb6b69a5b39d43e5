#!/bin/bash
# Issue 9, Gemini: its OpenAI-compatible endpoint sends no rate-limit headers and no
# Retry-After; the only hint is google.rpc.RetryInfo.retryDelay in the 429 body (every second
# one wrapped in an array). sluice, with its default provider, waits the stated delay: the
# mock's 10 requests/s hold, and few 429s are collected.
. "$SRCDIR/tests/e2e/lib/common.sh"
export OPENAI_API_KEY=dummy
python3 "$SRCDIR/tests/e2e/lib/gen.py" 30 >"$T/in.jsonl"
start_mock --provider gemini --rpm 600
t0=$(date +%s%N)
# No backoff of its own: only the body's retryDelay can keep sluice from retrying at once.
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL/v1beta/openai" \
    --backoff-base 0 --backoff-cap 0 --no-progress --stats-json "$T/stats.json" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
ms=$((($(date +%s%N) - t0) / 1000000))
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
n429=$(mock_stat "['rate_limited']")
echo "30 requests in $ms ms, $n429 429s"
# 10 at once (the burst), then 20 at 10/s: 2 s at least; generously 1.8 s.
[ "$ms" -ge 1800 ] || fail "30 requests at 10/s took $ms ms"
# With no latency the learned rate converges from above in a few cuts, each costing a few 429s;
# ignoring retryDelay with no backoff would collect hundreds.
[ "$n429" -le 40 ] || fail "$n429 429s: the body's retryDelay was not honoured"
echo ok
