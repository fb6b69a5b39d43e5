#!/bin/bash
# Issue 9, quota exhausted: after 200 answers the mock says the quota is gone (OpenAI 429
# insufficient_quota). sluice stops dispatch at once, writes what was in flight, leaves the
# rest for --resume and exits 3 with one line naming the quota and what to do, ending with the
# provider's own words, whole; --resume against a provider with quota completes the rest
# exactly once.
. "$SRCDIR/tests/e2e/lib/common.sh"
export OPENAI_API_KEY=dummy
python3 "$SRCDIR/tests/e2e/lib/gen.py" 1000 >"$T/in.jsonl"
start_mock --quota-after 200 --latency 5
t0=$(date +%s%N)
rc=0
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" -c 16 \
    --no-progress >"$T/stdout" 2>"$T/stderr" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$T/stderr" >&2
[ "$rc" = 3 ] || fail "exit $rc, expected 3"
# The 200 successes take ~0.1 s at -c 16 and 5 ms each: the first quota answer comes then, so
# the whole run ends well within 5 s of it.
[ "$ms" -lt 5000 ] || fail "took $ms ms"
python3 - "$T/out.jsonl" <<'PY' || fail "results after the quota"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ok = [l for l in lines if l["error"] is None]
failed = [l for l in lines if l["error"] is not None]
assert len(ok) == 200, "%d success lines, expected 200" % len(ok)
# The quota answers of the requests that were in flight may be written as failed (they were
# sent), but never a line for a request that was not sent: at most the 16 in flight.
assert len(failed) <= 16, "%d failed lines: unsent requests written as failed" % len(failed)
for l in failed:
    assert "quota" in l["error"]["code"], l["error"]
PY
n=$(grep -ci 'quota' "$T/stderr" || true)
[ "$n" = 1 ] || fail "stderr has $n lines about the quota, expected 1"
grep -i 'quota' "$T/stderr" | grep -qi -- '--resume\|billing\|plan' || fail "the quota line says nothing of what to do"
# Issue 17.15: the provider's words come whole, not cut inside its link (they were cut at 200
# bytes of the JSON body, mid-URL).
grep -i 'quota' "$T/stderr" |
    grep -qF 'read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.' ||
    fail "the quota line does not give the provider's link whole"
! grep -i 'quota' "$T/stderr" | grep -q '{"error"' || fail "the quota line quotes raw JSON"
sent=$(mock_stat "['requests']")
quota=$(mock_stat "['faults']['quota']")
[ "$quota" -ge 1 ] && [ "$quota" -le 16 ] || fail "$quota quota answers sent: dispatch did not stop"
echo "first run: exit 3 after $ms ms, $sent requests, $quota quota answers"

# A fresh mock, with quota: --resume sends only what is missing, once.
start_mock
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" -c 16 --no-progress \
    --resume 2>"$T/stderr2" || fail "resume: exit $?: $(cat "$T/stderr2")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "resume: results"
n=$(mock_stat "['requests']")
[ "$n" = 800 ] || fail "resume sent $n requests, expected 800"
echo ok
