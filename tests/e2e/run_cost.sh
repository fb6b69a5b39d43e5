#!/bin/bash
# Cost from the tokens the mock reported: at --price-in/--price-out, at a --prices file's price
# for the model (over the built-in table), and for a model the table does not know.
. "$SRCDIR/tests/e2e/lib/common.sh"
check_cost() { # STATS_JSON IN_PRICE OUT_PRICE: cost_usd == the mock's tokens at these prices
    curl -s "$MOCK_URL/mock/stats" >"$T/mock.json"
    python3 - "$1" "$T/mock.json" "$2" "$3" <<'PY'
import json, sys
s, m = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
pin, pout = float(sys.argv[3]), float(sys.argv[4])
want = (m["tokens"]["prompt"] * pin + m["tokens"]["completion"] * pout) / 1e6
assert m["tokens"]["prompt"] > 0 and m["tokens"]["completion"] > 0, m
assert s["tokens"] == m["tokens"], (s["tokens"], m["tokens"])
assert abs(s["cost_usd"] - want) < 1e-6 * max(1, want), (s["cost_usd"], want)
PY
}
python3 "$SRCDIR/tests/e2e/lib/gen.py" 200 >"$T/in.jsonl"

start_mock --latency 2
"$SLUICE" run "$T/in.jsonl" -o "$T/o1" --base-url "$MOCK_URL" --provider none \
    --price-in 3 --price-out 15 --stats-json "$T/s1.json" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
check_cost "$T/s1.json" 3 15 || fail "--price-in/--price-out"
grep -q 'cost \$' "$T/err" || fail "the summary does not give the cost: $(cat "$T/err")"

start_mock --latency 2
echo '{"gpt-4o-mini": {"in": 7, "out": 11}, "other": {"in": 1, "out": 1}}' >"$T/prices.json"
"$SLUICE" run "$T/in.jsonl" -o "$T/o2" --base-url "$MOCK_URL" --provider none \
    --prices "$T/prices.json" --stats-json "$T/s2.json" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
check_cost "$T/s2.json" 7 11 || fail "--prices file over the table"

# Embeddings: the table's text-embedding-3-small, input tokens only.
start_mock --latency 2
python3 "$SRCDIR/tests/e2e/lib/gen.py" 50 --url /v1/embeddings >"$T/emb.jsonl"
"$SLUICE" run "$T/emb.jsonl" -o "$T/o3" --base-url "$MOCK_URL" --provider none \
    --stats-json "$T/s3.json" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
curl -s "$MOCK_URL/mock/stats" >"$T/mock.json"
python3 - "$T/s3.json" "$T/mock.json" <<'PY' || fail "embeddings cost"
import json, sys
s, m = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert m["tokens"]["prompt"] > 0
assert abs(s["cost_usd"] - m["tokens"]["prompt"] * 0.02 / 1e6) < 1e-9, (s, m)
PY

# A model without a price: the cost is unknown, and the summary says how to give one.
start_mock --latency 2
sed 's/gpt-4o-mini/acme-llm-7/' "$T/in.jsonl" >"$T/acme.jsonl"
"$SLUICE" run "$T/acme.jsonl" -o "$T/o4" --base-url "$MOCK_URL" --provider none \
    --stats-json "$T/s4.json" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
grep -q "model acme-llm-7 have no price" "$T/err" || fail "no unpriced-model note: $(cat "$T/err")"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['cost_usd'] is None and s['unpriced_tokens'] > 0, s" \
    "$T/s4.json" || fail "unpriced: $(cat "$T/s4.json")"

# A bad --prices file is bad usage.
echo '{"gpt-4o": {"in": "cheap"}}' >"$T/bad.json"
rc=0; "$SLUICE" run "$T/in.jsonl" -o "$T/o5" --prices "$T/bad.json" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "bad --prices: exit $rc"
grep -q "gpt-4o" "$T/err" || fail "bad --prices: message does not name the entry: $(cat "$T/err")"
echo ok
