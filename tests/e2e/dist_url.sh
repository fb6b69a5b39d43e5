#!/bin/bash
# Issue 17, items 7 and 8 in distributed mode: the job stores --base-url and --url, and a
# `sluice work` builds the same URLs as the run: --url over the Batch lines' own url, and a
# base URL's path (and query) in place of their leading /v1. Each mock serves only its
# provider's paths, so a worker that built another URL would get 404s.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=100
start_redis
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"
export AZURE_OPENAI_API_KEY=sk-test-dist GEMINI_API_KEY=sk-test-dist
unset SLUICE_BASE_URL OPENAI_BASE_URL

# job NAME PATH-THE-MOCK-MUST-SEE RUN-AND-WORK-OPTIONS...: a run and one worker, both given the
# same request settings (a worker takes its base URL from its own command line).
job() {
    local name=$1 want=$2 run work rc
    shift 2
    timeout 120 "$SLUICE" run "$T/in.jsonl" -o "$T/out.$name.jsonl" --redis "$REDIS_URL" \
        --job "$name" -c 4 --backlog 8 --no-progress --stats-json "$T/run.$name.json" "$@" \
        2>"$T/run.$name.err" &
    run=$!
    wait_job "$name"
    timeout 120 "$SLUICE" work --redis "$REDIS_URL" --job "$name" -c 4 --no-progress \
        --stats-json "$T/work.$name.json" "$@" 2>"$T/work.$name.err" &
    work=$!
    rc=0; wait "$run" || rc=$?
    [ "$rc" = 0 ] || fail "$name: run: exit $rc: $(cat "$T/run.$name.err")"
    rc=0; wait "$work" || rc=$?
    [ "$rc" = 0 ] || fail "$name: work: exit $rc: $(cat "$T/work.$name.err")"
    python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.$name.jsonl" \
        --all-success || fail "$name: results"
    curl -s "$MOCK_URL/mock/stats" >"$T/stats.$name.json"
    python3 - "$N" "$want" "$T/stats.$name.json" "$T/run.$name.json" "$T/work.$name.json" <<'PY' ||
import json, sys
n, want = int(sys.argv[1]), sys.argv[2]
stats = json.load(open(sys.argv[3]))
assert stats["by_path"] == {want: n}, f"the mock saw {stats['by_path']}, expected {want}"
done = [json.load(open(p))["succeeded"] for p in sys.argv[4:]]
assert sum(done) == n and done[1] > 0, f"run and worker succeeded {done}: the worker took no part"
PY
        fail "$name: see above"
}

start_mock --provider azure --latency 100
job azure /openai/deployments/gpt-4o-mini/chat/completions --provider azure \
    --base-url "$MOCK_URL" --url '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21'

start_mock --provider gemini --latency 100
job gemini /v1beta/openai/chat/completions --provider gemini --base-url "$MOCK_URL/v1beta/openai"
echo ok
