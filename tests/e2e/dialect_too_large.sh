#!/bin/bash
# Issue 9, request too large: one request estimated at ~20,000 tokens against a 10,000
# tokens-per-minute budget can never be served. sluice fails it at once with
# request_too_large (without sending it), and the 20 others succeed: exit 1.
. "$SRCDIR/tests/e2e/lib/common.sh"
export OPENAI_API_KEY=dummy
python3 "$SRCDIR/tests/e2e/lib/gen.py" 10 --prefix a >"$T/in.jsonl"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 1 --prefix big --prompt-bytes 80000 >>"$T/in.jsonl"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 10 --prefix b >>"$T/in.jsonl"
start_mock --tpm 10000
t0=$(date +%s%N)
rc=0
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --tpm 10000 \
    --no-progress 2>"$T/err" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 1 ] || fail "exit $rc, expected 1: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" \
    --expect-failed 1 --failed-code request_too_large || fail "results"
grep '"big-1"' "$T/out.jsonl" | grep -q '"request_too_large"' || fail "big-1 is not the failed one"
n=$(mock_stat "['by_path']['/v1/chat/completions']")
[ "$n" = 20 ] || fail "the mock saw $n requests, expected 20 (the big one never sent)"
# 20 requests of ~24 tokens fit the budget's burst: nothing waits a minute for the big one.
[ "$ms" -lt 10000 ] || fail "took $ms ms"
echo "ok: $ms ms"
