#!/bin/bash
# Input-derived text reaches the terminal escaped (issue 17, item 23): a custom_id with an
# escape sequence, quoted in the duplicate-id message, and a model name with one, in the
# "no price" summary, come out as \xNN, in a run and in --dry-run; never as raw control bytes.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 - "$T/in.jsonl" <<'PY'
import json, sys
body = {"model": "m\u001b]0;pwned\u0007", "max_tokens": 4,
        "messages": [{"role": "user", "content": "hi"}]}
ids = ["a\u001b[31mred\u001b[0m", "a\u001b[31mred\u001b[0m", "csi\u009b2J", "csi\u009b2J", "ok"]
with open(sys.argv[1], "w") as f:
    for i in ids:
        f.write(json.dumps({"custom_id": i, "url": "/v1/chat/completions", "body": body}) + "\n")
PY
# check FILE: no control byte (C0 but the newline, DEL, C1 as UTF-8 or raw) and the escapes.
check() {
    python3 - "$1" <<'PY' || fail "$1: $(cat -v "$1")"
import sys
raw = open(sys.argv[1], "rb").read()
bad = sorted({b for b in raw if (b < 0x20 and b != 0x0a) or b == 0x7f or b == 0x9b})
assert not bad, "raw control bytes %r" % bad
text = raw.decode()
assert 'duplicate custom_id "a\\x1b[31mred\\x1b[0m"' in text, "no escaped id"
assert 'duplicate custom_id "csi\\xc2\\x9b2J"' in text, "no escaped C1"
assert "m\\x1b]0;pwned\\x07" in text, "no escaped model"
PY
}
rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    --no-progress 2>"$T/run.err" || rc=$?
[ $rc = 1 ] || fail "run: exit $rc: $(cat -v "$T/run.err")"
check "$T/run.err"
rc=0
"$SLUICE" run "$T/in.jsonl" --dry-run 2>"$T/dry.err" >"$T/dry.out" || rc=$?
[ $rc = 1 ] || fail "dry run: exit $rc: $(cat -v "$T/dry.err")"
cat "$T/dry.out" >>"$T/dry.err"
check "$T/dry.err"
# OUTPUT keeps the ids as they were: JSON escapes them, and they are the user's.
python3 - "$T/out.jsonl" <<'PY' || fail "OUTPUT ids"
import json, sys
ids = sorted(json.loads(l)["custom_id"] for l in open(sys.argv[1]))
assert ids == sorted(["a\u001b[31mred\u001b[0m"] * 2 + ["csi\u009b2J"] * 2 + ["ok"]), ids
PY
echo "ok: ids and model names escaped on the terminal"
