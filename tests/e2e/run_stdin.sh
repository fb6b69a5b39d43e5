#!/bin/bash
# Input from stdin ('-'), bare bodies with --url, and output to stdout ('-').
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 50 >"$T/in.jsonl"
cat "$T/in.jsonl" | "$SLUICE" run - -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    --no-progress 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "stdin results"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 30 --bare --url /v1/embeddings >"$T/bare.jsonl"
"$SLUICE" run - -o - --url /v1/embeddings --base-url "$MOCK_URL" --provider none --no-progress \
    <"$T/bare.jsonl" >"$T/bare.out" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/bare.jsonl" "$T/bare.out" --all-success || fail "bare results"
python3 - "$T/bare.out" <<'PY' || fail "embeddings answers"
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert o["custom_id"].startswith("line-"), o
    assert o["response"]["body"]["object"] == "list", o
PY
echo ok
