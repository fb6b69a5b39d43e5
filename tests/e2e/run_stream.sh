#!/bin/bash
# A line whose body asks for a streamed answer ("stream": true) is refused before anything is
# sent: a failed result line (invalid_request) saying to remove "stream" or set it to false, one
# file:line message, and no request reaches the server, so the cost is never silently 0.
# --dry-run says the same lines will be refused. "stream": false is sent as any other line.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
python3 - "$T/in.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
lines[4]["body"]["stream"] = True                                    # line 5
lines[9]["body"]["stream"] = False                                   # line 10: sent
lines[14]["body"]["stream"] = True                                   # line 15
lines[14]["body"]["stream_options"] = {"include_usage": True}
with open(sys.argv[1], "w") as f:
    for l in lines:
        f.write(json.dumps(l) + "\n")
PY
rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
    --no-progress --stats-json "$T/stats.json" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "exit $rc, expected 1: $(cat "$T/err")"
for n in 5 15; do
    [ "$(grep -c "^$T/in.jsonl:$n: \"stream\": true is not supported.*remove \"stream\" from the body or set it to false" "$T/err")" = 1 ] ||
        fail "no one message for line $n: $(cat "$T/err")"
done
[ "$(grep -c "^$T/in.jsonl:" "$T/err")" = 2 ] || fail "other lines reported: $(cat "$T/err")"
[ "$(mock_stat '["requests"]')" = 18 ] || fail "$(mock_stat '["requests"]') requests, expected 18"
python3 - "$T/out.jsonl" "$T/stats.json" <<'PY' || fail "results: $(cat "$T/out.jsonl")"
import json, sys
res = {r["custom_id"]: r for r in map(json.loads, open(sys.argv[1]))}
assert len(res) == 20, len(res)
for id in ("req-5", "req-15"):
    e = res[id]["error"]
    assert e["code"] == "invalid_request" and '"stream": true' in e["message"], res[id]
    assert res[id]["response"] is None, res[id]
assert sum(1 for r in res.values() if r["error"]) == 2
assert res["req-10"]["response"]["status_code"] == 200, res["req-10"]
s = json.load(open(sys.argv[2]))
assert s["succeeded"] == 18 and s["invalid"] == 2, s
assert s["tokens"]["prompt"] > 0 and s["cost_usd"] > 0, s
PY

# --dry-run says which lines will be refused, and counts them out of the estimate.
rc=0
"$SLUICE" run "$T/in.jsonl" --dry-run >"$T/dry" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "dry run: exit $rc"
grep -q "^$T/in.jsonl:5: \"stream\": true is not supported" "$T/err" || fail "dry run: $(cat "$T/err")"
grep -q "^$T/in.jsonl:15: \"stream\": true is not supported" "$T/err" || fail "dry run: $(cat "$T/err")"
grep -q "20 lines, 18 valid, 2 invalid" "$T/dry" || fail "dry run: $(cat "$T/dry")"
[ "$(mock_stat '["requests"]')" = 18 ] || fail "--dry-run sent requests"
echo ok
