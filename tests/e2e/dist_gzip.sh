#!/bin/bash
# A distributed job fed from gzip-compressed INPUT: the feeder puts the text's lines in Redis
# (a bad line is named by its line of the text), a worker works on them, and every line gets
# one result. A file cut short is refused before the job is created in Redis; from a pipe the
# feeding stops at the bad point with one clear error.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
start_redis
start_mock --latency 5
python3 "$SRCDIR/tests/e2e/lib/gen.py" 200 >"$T/plain.jsonl"
sed -i '120i this line is not JSON' "$T/plain.jsonl"
gzip -c "$T/plain.jsonl" >"$T/in.jsonl.gz"
COMMON=(--base-url "$MOCK_URL" --provider none --rpm 6000 -c 8 --no-progress)

rc=0
timeout 60 "$SLUICE" run "$T/in.jsonl.gz" -o "$T/out.jsonl" --redis "$REDIS_URL" --job gz \
    "${COMMON[@]}" 2>"$T/err" &
run=$!
wait_job gz
timeout 60 "$SLUICE" work --redis "$REDIS_URL" --job gz -c 8 --no-progress 2>"$T/work.err" &
worker=$!
wait "$run" || rc=$?
wait "$worker" || true
[ "$rc" = 1 ] || fail "run: exit $rc, expected 1: $(cat "$T/err")"
grep -q "^$T/in.jsonl.gz:120: not valid JSON" "$T/err" || fail "line 120: $(cat "$T/err")"
python3 - "$T/out.jsonl" <<'PY' || fail "result lines"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1])]
assert len(res) == 201, len(res)
bad = [r["custom_id"] for r in res if r["error"]]
assert bad == ["line-120"], bad
assert {r["custom_id"] for r in res if not r["error"]} == {"req-%d" % i for i in range(1, 201)}
PY
[ "$(mock_stat "['requests']")" = 200 ] || fail "$(mock_stat "['requests']") requests, expected 200"

# Cut short: refused before Redis is touched.
size=$(stat -c %s "$T/in.jsonl.gz")
head -c $((size / 2)) "$T/in.jsonl.gz" >"$T/cut.gz"
rc=0
timeout 60 "$SLUICE" run "$T/cut.gz" -o "$T/cut.jsonl" --redis "$REDIS_URL" --job cut \
    "${COMMON[@]}" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "cut short: exit $rc: $(cat "$T/err")"
grep -q "cannot read $T/cut.gz: its gzip data ends before its end mark" "$T/err" ||
    fail "cut short: $(cat "$T/err")"
[ -z "$(rcli --scan --pattern 'sluice:job:{cut}*')" ] || fail "cut short: the job is in Redis"
[ ! -e "$T/cut.jsonl" ] || fail "cut short: OUTPUT was created"

# From a pipe: what was whole is fed, then the run stops and says why.
rc=0
cat "$T/cut.gz" | timeout 60 "$SLUICE" run - -o "$T/pipe.jsonl" --redis "$REDIS_URL" \
    --job pipe "${COMMON[@]}" 2>"$T/err" || rc=$?
[ "$rc" = 3 ] || fail "cut pipe: exit $rc: $(cat "$T/err")"
grep -q "feeding - into the job failed (its gzip data ends before its end mark" "$T/err" ||
    fail "cut pipe: $(cat "$T/err")"
# Every whole line before the cut is in the job (the rest of its work goes on next time).
whole=$(python3 -c 'import sys, zlib
print(zlib.decompressobj(31).decompress(open(sys.argv[1], "rb").read()).count(b"\n"))' "$T/cut.gz")
"$SLUICE" job status --redis "$REDIS_URL" --job pipe --json >"$T/status.json" || fail "status"
fed=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["fed"])' "$T/status.json")
[ "$fed" = "$whole" ] || fail "cut pipe: $fed lines fed of $whole whole lines"
echo ok
