#!/bin/bash
# Bad input lines become failed result lines (invalid_request) with a file:line message, and the
# good lines still run.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 5 >"$T/in.jsonl"
{
    echo 'this is not json'
    echo '{"custom_id": "no-body", "url": "/v1/chat/completions"}'
    echo '{"custom_id": "req-1", "url": "/v1/chat/completions", "body": {"model": "m"}}'
    echo ''
    echo '{"custom_id": "", "body": {}}'
    printf '{"custom_id": "crlf-ok", "url": "/v1/chat/completions", "body": {"model": "m"}}\r\n'
} >>"$T/in.jsonl"
rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    --no-progress 2>"$T/err" || rc=$?
cat "$T/err" >&2
[ "$rc" = 1 ] || fail "exit status $rc, expected 1"
for n in 6 7 8 10; do
    grep -q "^$T/in.jsonl:$n: " "$T/err" || fail "no $T/in.jsonl:$n: message on stderr"
done
grep -q "in.jsonl:8: .*duplicate" "$T/err" || fail "duplicate custom_id not reported"
python3 - "$T/out.jsonl" <<'PY' || fail "result lines"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1])]
assert len(res) == 10, len(res)
bad = [r for r in res if r["error"]]
assert len(bad) == 4, bad
assert all(r["error"]["code"] == "invalid_request" for r in bad), bad
ok = {r["custom_id"] for r in res if not r["error"]}
assert ok == {"req-1", "req-2", "req-3", "req-4", "req-5", "crlf-ok"}, ok
ids = [r["custom_id"] for r in bad]
assert "line-6" in ids and "no-body" in ids, ids
PY
echo ok
