#!/bin/bash
# Issue 9, auth: a refused key is the same for every request. sluice stops after the first
# answers (at most the concurrency's worth of attempts), exits 3 with a message naming the
# variable to check, and never prints or writes the key.
. "$SRCDIR/tests/e2e/lib/common.sh"
SECRET=sk-secret-XYZ
python3 "$SRCDIR/tests/e2e/lib/gen.py" 200 >"$T/in.jsonl"
start_mock --auth-fail --latency 5
rc=0
OPENAI_API_KEY=$SECRET timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" \
    --base-url "$MOCK_URL" -c 8 --no-progress >"$T/stdout" 2>"$T/stderr" || rc=$?
cat "$T/stderr" >&2
[ "$rc" = 3 ] || fail "exit $rc, expected 3"
n=$(mock_stat "['requests']")
[ "$n" -le 8 ] || fail "$n attempts with a refused key, at most 8 expected"
grep -q 'OPENAI_API_KEY' "$T/stderr" || fail "the message does not name OPENAI_API_KEY"
if grep -rl -- "$SECRET" "$T"; then
    fail "the key appears in the files above"
fi
echo "ok: stopped after $n attempts"
