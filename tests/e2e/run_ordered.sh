#!/bin/bash
# --ordered writes results in input order under random latency, with invalid lines in between,
# and still exactly once each; without it, completion order differs.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 20 --jitter 1.0 --fail-rate 0.05 --seed 11
python3 "$SRCDIR/tests/e2e/lib/gen.py" 2000 >"$T/in.jsonl"
sed -i '500s/.*/not json/' "$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 32 \
    --backoff-base 0.05 --ordered --no-progress 2>"$T/err" || [ $? = 1 ] || fail "exit: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --expect-failed 1 || fail "results"
python3 - "$T/out.jsonl" <<'PY' || fail "not in input order"
import json, sys
ids = [json.loads(l)["custom_id"] for l in open(sys.argv[1])]
want = ["req-%d" % i if i != 500 else "line-500" for i in range(1, 2001)]
assert ids == want, next((i, a, b) for i, (a, b) in enumerate(zip(ids, want)) if a != b)
PY
"$SLUICE" run "$T/in.jsonl" -o "$T/out2.jsonl" --base-url "$MOCK_URL" --provider none -c 32 \
    --backoff-base 0.05 --no-progress 2>"$T/err" || [ $? = 1 ] || fail "exit: $(cat "$T/err")"
python3 - "$T/out2.jsonl" <<'PY' || fail "without --ordered the order was the input's: the test proves nothing"
import json, sys
ids = [json.loads(l)["custom_id"] for l in open(sys.argv[1])]
want = ["req-%d" % i if i != 500 else "line-500" for i in range(1, 2001)]
assert ids != want
PY
echo ok
