#!/bin/bash
# The API key goes only to --base-url: a line whose url is an absolute URL on another host is
# written as failed (invalid_request) and never sent; one on --base-url's own origin is sent.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
OTHER_URL_MOCK=$MOCK_URL
OTHER_PID=$MOCK_PID
start_mock
BASE=$MOCK_URL
{
    echo '{"custom_id":"elsewhere","url":"'"$OTHER_URL_MOCK"'/v1/chat/completions","body":{"model":"m"}}'
    echo '{"custom_id":"same-origin","url":"'"$BASE"'/v1/chat/completions","body":{"model":"m"}}'
    echo '{"custom_id":"path","url":"/v1/chat/completions","body":{"model":"m"}}'
} >"$T/in.jsonl"
rc=0
OPENAI_API_KEY=sk-secret-origin "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$BASE" \
    --no-progress 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "exit $rc, expected 1: $(cat "$T/err")"
MOCK_URL=$OTHER_URL_MOCK
[ "$(mock_stat "['requests']")" = 0 ] || fail "the other host received a request (and the key)"
MOCK_URL=$BASE
[ "$(mock_stat "['auth']['bearer']")" = 2 ] || fail "the base URL did not get the two requests"
python3 - "$T/out.jsonl" <<'PY' || fail "result lines"
import json, sys
r = {json.loads(l)["custom_id"]: json.loads(l) for l in open(sys.argv[1])}
assert r["elsewhere"]["error"]["code"] == "invalid_request", r["elsewhere"]
assert r["elsewhere"]["response"] is None
assert r["same-origin"]["error"] is None and r["path"]["error"] is None, r
PY
echo ok
