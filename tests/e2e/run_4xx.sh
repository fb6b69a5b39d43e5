#!/bin/bash
# A 4xx other than 408/409/429 is final: written as failed after one attempt, not retried.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 --url /v1/no-such-endpoint >"$T/in.jsonl"
rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    --backoff-base 0.01 --no-progress 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "exit status $rc, expected 1 (some lines failed)"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" \
    --expect-failed 20 --failed-code http_404 || fail "results"
[ "$(mock_stat "['requests']")" = 20 ] || fail "mock saw $(mock_stat "['requests']") requests, expected 20 (no retries)"
python3 - "$T/out.jsonl" <<'PY' || fail "result lines do not carry the 404 answer"
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert o["response"]["status_code"] == 404, o
    assert isinstance(o["response"]["body"], dict), o   # the JSON error body, as received
    assert o["response"]["request_id"], o
PY
echo "ok"
