#!/bin/bash
# A 429 that asks to wait longer than --max-retry-after is an exhausted quota in all but name:
# sluice stops at once (exit 3) with one line saying so, instead of waiting in silence.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --rpm 1 --burst-s 1
python3 "$SRCDIR/tests/e2e/lib/gen.py" 5 >"$T/in.jsonl"
start=$(date +%s)
rc=0
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    --max-retry-after 5 --no-progress 2>"$T/err" || rc=$?
took=$(($(date +%s) - start))
[ "$rc" = 3 ] || fail "exit $rc, expected 3: $(cat "$T/err")"
grep -q "max-retry-after" "$T/err" || fail "no line naming --max-retry-after: $(cat "$T/err")"
[ "$took" -le 20 ] || fail "took $took s: it waited"
python3 - "$T/out.jsonl" <<'PY' || fail "no failed lines for the requests left"
import json, sys
for l in open(sys.argv[1]):
    assert json.loads(l)["error"] is None, l
PY
echo ok
