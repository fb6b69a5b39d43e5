#!/bin/bash
# --dry-run validates and counts every line, estimates tokens (prompt bytes/4 rounded up +
# max_tokens), cost and the least time under --rpm/--tpm, and sends nothing.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 300 --max-tokens 40 >"$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" --dry-run --base-url "$MOCK_URL" --rpm 60 --tpm 2000 \
    --stats-json "$T/s.json" >"$T/out" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
python3 - "$T/in.jsonl" "$T/s.json" "$T/out" <<'PY' || fail "estimates: $(cat "$T/out")"
import json, math, re, sys
prompt = comp = 0
for l in open(sys.argv[1]):
    b = json.loads(l)["body"]
    prompt += math.ceil(sum(len(m["content"].encode()) for m in b["messages"]) / 4)
    comp += b["max_tokens"]
s = json.load(open(sys.argv[2]))
out = open(sys.argv[3]).read()
assert s["dry_run"] is True and s["lines"] == 300 and s["valid"] == 300 and s["invalid"] == 0, s
assert s["est_tokens"] == {"prompt": prompt, "completion": comp}, (s["est_tokens"], prompt, comp)
usd = (prompt * 0.15 + comp * 0.60) / 1e6  # gpt-4o-mini in the built-in table
assert abs(s["est_cost_usd"] - usd) < 1e-6, (s["est_cost_usd"], usd)
# max(N / rpm, tokens / tpm) minutes: 300/60 = 5 min; tokens/3000 is more.
want = max(300 / 60, (prompt + comp) / 2000) * 60
assert (prompt + comp) / 2000 > 5, "the token budget should be the binding one here"
assert abs(s["min_time_s"] - want) < 0.01, (s["min_time_s"], want)
assert "300 valid, 0 invalid" in out and "nothing was sent" in out, out
assert re.search(r"%d prompt \+ at most %d completion" % (prompt, comp), out), out
assert "minimum time: %.1f min" % (want / 60) in out, out
PY
[ "$(mock_stat '["requests"]')" = 0 ] || fail "--dry-run sent requests"

# Invalid lines: each reported as file:line, exit 1; no output file is needed or written.
printf '{"custom_id": "x", "body": 1}\n\n{oops\n' >>"$T/in.jsonl"
rc=0; "$SLUICE" run "$T/in.jsonl" --dry-run >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "invalid lines: exit $rc"
grep -q "^$T/in.jsonl:301: body must be a JSON object" "$T/err" || fail "line 301: $(cat "$T/err")"
grep -q "^$T/in.jsonl:303: not valid JSON" "$T/err" || fail "line 303: $(cat "$T/err")"
grep -q "302 lines, 300 valid, 2 invalid" "$T/out" || fail "counts: $(cat "$T/out")"
grep -q "unknown without --rpm or --tpm" "$T/out" || fail "min time without budgets: $(cat "$T/out")"
[ "$(mock_stat '["requests"]')" = 0 ] || fail "--dry-run sent requests"

# --dry-run --resume -o OUTPUT: only the lines still to do, as the real run would skip them;
# OUTPUT is read, not rewritten (a real --resume drops its failed and torn lines).
python3 "$SRCDIR/tests/e2e/lib/gen.py" 300 --max-tokens 40 >"$T/in2.jsonl"
for i in $(seq 1 100); do
    printf '{"custom_id":"req-%d","response":{"status_code":200,"body":{}},"error":null}\n' "$i"
done >"$T/done.jsonl"
printf '{"custom_id":"req-150","response":null,"error":{"code":"http_500"}}\n{"custom_id":"re' \
    >>"$T/done.jsonl"
before=$(md5sum <"$T/done.jsonl")
"$SLUICE" run "$T/in2.jsonl" --dry-run --resume -o "$T/done.jsonl" --stats-json "$T/s2.json" \
    >"$T/out" 2>"$T/err" || fail "--dry-run --resume: exit $?: $(cat "$T/err")"
python3 - "$T/s2.json" "$T/out" <<'PY' || fail "--dry-run --resume: $(cat "$T/out")"
import json, sys
s = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
# 100 ids done; req-150 failed and the torn line hold no success: they are still to do.
assert s["skipped"] == 100 and s["lines"] == 200 and s["valid"] == 200, s
assert "200 lines, 200 valid" in out and "100 more lines skipped" in out, out
PY
[ "$(md5sum <"$T/done.jsonl")" = "$before" ] || fail "--dry-run --resume changed OUTPUT"
rc=0; "$SLUICE" run "$T/in2.jsonl" --dry-run --resume >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "--dry-run --resume without -o: exit $rc"
grep -q -- "--resume needs -o OUTPUT" "$T/err" || fail "no -o: $(cat "$T/err")"
[ "$(mock_stat '["requests"]')" = 0 ] || fail "--dry-run sent requests"
echo ok
