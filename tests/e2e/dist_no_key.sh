#!/bin/bash
# `sluice work` for a job whose provider is real (openai at https://api.openai.com) with no API
# key of its own: exit 2 as soon as the job's settings are read, naming the variable to set,
# before any lease or request. A worker of a job at an http:// URL needs none.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
unset OPENAI_API_KEY SLUICE_BASE_URL OPENAI_BASE_URL
start_redis
# A job as `sluice run ... --base-url https://api.openai.com --job real` stores it (the run
# itself would need a key to start).
rcli hset 'sluice:job:{real}:meta' s:created 1 s:base_url https://api.openai.com \
    s:provider openai >/dev/null
rc=0
timeout 30 "$SLUICE" work --redis "$REDIS_URL" --job real --no-progress 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "worker: exit $rc, expected 2: $(cat "$T/err")"
grep -q "^sluice: no API key: https://api.openai.com needs one and \$OPENAI_API_KEY is not set; export OPENAI_API_KEY=..., or pass --api-key-file FILE" \
    "$T/err" || fail "worker: $(cat "$T/err")"
[ "$(rcli exists 'sluice:job:{real}:workers')" = 0 ] || fail "the worker sent a heartbeat"

# The same job at the mock's http:// URL: no key needed, the worker runs and finds it done.
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 5 >"$T/in.jsonl"
timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --redis "$REDIS_URL" --job local \
    --base-url "$MOCK_URL" --no-progress 2>"$T/err" || fail "run: exit $?: $(cat "$T/err")"
timeout 30 "$SLUICE" work --redis "$REDIS_URL" --job local --no-progress 2>"$T/err" ||
    fail "local worker: exit $?: $(cat "$T/err")"
! grep -q "no API key" "$T/err" || fail "local worker: $(cat "$T/err")"
echo ok
