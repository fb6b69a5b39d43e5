#!/bin/bash
# --resume knows every success the sink wrote, however deep its body nests: answers that hold a
# value 100 levels deep are kept, and the run again sends nothing (issue 17, item 19).
. "$SRCDIR/tests/e2e/lib/common.sh"
start_h1 nested
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
ARGS=(run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$H1_URL" --provider none -c 4
    --max-attempts 1 --no-progress)
"$SLUICE" "${ARGS[@]}" 2>"$T/err" || fail "first run: exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "first run: results"
python3 - "$T/out.jsonl" <<'PY' || fail "the bodies are not 100 deep"
import json, sys
for line in open(sys.argv[1]):
    d, n = json.loads(line)["response"]["body"]["deep"], 1
    while d:
        d, n = d[0], n + 1
    assert n == 100, n
PY
read -r _ sent <"$H1_STATS"
[ "$sent" = 20 ] || fail "first run: the server saw $sent requests, not 20"
cp "$T/out.jsonl" "$T/before.jsonl"
"$SLUICE" "${ARGS[@]}" --resume 2>"$T/err2" || fail "resume: exit $?: $(cat "$T/err2")"
read -r _ sent <"$H1_STATS"
[ "$sent" = 20 ] || fail "resume sent $((sent - 20)) requests again: $(cat "$T/err2")"
cmp -s "$T/before.jsonl" "$T/out.jsonl" || fail "resume changed OUTPUT"
echo "ok: 20 answers 100 deep, none sent again"
