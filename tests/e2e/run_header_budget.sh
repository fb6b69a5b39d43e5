#!/bin/bash
# An announced token budget that cannot hold a request is the header's fault, not the
# request's (issue 17, item 23): with `x-ratelimit-limit-tokens: 1` on every answer, all 20
# requests are sent and succeed (none fails locally). Against a real limit the provider
# judges: the mock's 10,000 tokens per minute, announced, gets the 20,000-token request and
# answers 429 "request too large", and the 20 others succeed.
. "$SRCDIR/tests/e2e/lib/common.sh"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
CHECK="$SRCDIR/tests/e2e/lib/check_results.py"

start_h1 "header:x-ratelimit-limit-tokens: 1"
timeout 120 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$H1_URL" --provider none \
    --no-progress 2>"$T/err" || fail "tiny header: exit $?: $(cat "$T/err")"
python3 "$CHECK" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "tiny header: results"
read -r _ sent <"$H1_STATS"
[ "$sent" = 20 ] || fail "tiny header: the server saw $sent requests, not 20"

python3 "$SRCDIR/tests/e2e/lib/gen.py" 10 --prefix a >"$T/in2.jsonl"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 1 --prefix big --prompt-bytes 80000 >>"$T/in2.jsonl"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 10 --prefix b >>"$T/in2.jsonl"
start_mock --tpm 10000
rc=0
timeout 120 "$SLUICE" run "$T/in2.jsonl" -o "$T/out2.jsonl" --base-url "$MOCK_URL" \
    --provider none --no-progress 2>"$T/err2" || rc=$?
[ "$rc" = 1 ] || fail "real limit: exit $rc, expected 1: $(cat "$T/err2")"
python3 "$CHECK" "$T/in2.jsonl" "$T/out2.jsonl" --expect-failed 1 \
    --failed-code request_too_large || fail "real limit: results"
grep '"big-1"' "$T/out2.jsonl" | grep -q '"request_too_large"' || fail "big-1 is not the failed one"
n=$(mock_stat "['by_path']['/v1/chat/completions']")
[ "$n" = 21 ] || fail "real limit: the mock saw $n requests, expected 21 (the big one judged by it)"
echo "ok"
