# sluice mock: the shape and usage of each endpoint, 404, 400, request ids, keep-alive,
# pipelining, a large body, the stats document, --help and bad options.
. "$SRCDIR/tests/e2e/lib/common.sh"

start_mock

. "$SRCDIR/tests/e2e/lib/http.sh"

# chat: 35 bytes of message text -> 9 prompt tokens; completion within max_tokens.
CHAT='{"model":"gpt-4o-mini","max_tokens":7,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello, world!!!"}]}'
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 200 ] || fail "chat: status $code"
header content-type | grep -q '^application/json' || fail "chat: content-type $(header content-type)"
[ "$(header content-length)" = "$(wc -c <"$T/b")" ] || fail "chat: content-length mismatch"
id1=$(header x-request-id)
[[ "$id1" =~ ^req_[0-9a-f]+$ ]] || fail "chat: x-request-id '$id1'"
check 'd["object"] == "chat.completion"' 'd["model"] == "gpt-4o-mini"' \
    'd["id"].startswith("chatcmpl-")' 'isinstance(d["created"], int)' \
    'd["choices"][0]["message"]["role"] == "assistant"' \
    'len(d["choices"][0]["message"]["content"].split()) == d["usage"]["completion_tokens"]' \
    'd["usage"]["prompt_tokens"] == 9' '1 <= d["usage"]["completion_tokens"] <= 7' \
    'd["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + d["usage"]["completion_tokens"]' \
    'd["choices"][0]["finish_reason"] in ("stop", "length")'
cp "$T/b" "$T/chat1"

# The same body gives the same answer (deterministic) under a different request id.
post /v1/chat/completions "$CHAT" >/dev/null
id2=$(header x-request-id)
[ "$id1" != "$id2" ] || fail "x-request-id repeated: $id1"
check 'd["usage"] == json.load(open(T + "/chat1"))["usage"]' \
    'd["choices"] == json.load(open(T + "/chat1"))["choices"]'

# Without max_tokens the completion is at most 16 tokens; max_completion_tokens also caps.
post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"x"}]}' >/dev/null
check 'd["usage"]["prompt_tokens"] == 1' '1 <= d["usage"]["completion_tokens"] <= 16'
post /v1/chat/completions '{"model":"m","max_completion_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"12345678"}]}]}' >/dev/null
check 'd["usage"]["prompt_tokens"] == 2' 'd["usage"]["completion_tokens"] == 1' \
    'd["choices"][0]["finish_reason"] == "length"'

# completions: 40-byte prompt -> 10 tokens
code=$(post /v1/completions '{"model":"gpt-3.5-turbo-instruct","prompt":"0123456789012345678901234567890123456789","max_tokens":3}')
[ "$code" = 200 ] || fail "completions: status $code"
check 'd["object"] == "text_completion"' 'd["id"].startswith("cmpl-")' \
    'd["model"] == "gpt-3.5-turbo-instruct"' 'isinstance(d["choices"][0]["text"], str)' \
    'd["usage"]["prompt_tokens"] == 10' '1 <= d["usage"]["completion_tokens"] <= 3'

# embeddings: two inputs, two vectors of the asked dimensions; no completion tokens.
code=$(post /v1/embeddings '{"model":"text-embedding-3-small","input":["hello","world!"],"dimensions":4}')
[ "$code" = 200 ] || fail "embeddings: status $code"
check 'd["object"] == "list"' 'd["model"] == "text-embedding-3-small"' 'len(d["data"]) == 2' \
    'd["data"][1]["index"] == 1' 'd["data"][0]["object"] == "embedding"' \
    'all(len(e["embedding"]) == 4 for e in d["data"])' \
    'd["usage"]["prompt_tokens"] == 3' 'd["usage"]["total_tokens"] == 3' \
    '"id" in d and "created" in d'

# messages (Anthropic, whose mock serves it): system + text blocks count; stop_reason; usage
# names. OpenAI has no /v1/messages.
code=$(post /v1/messages '{"model":"claude-3-5-haiku","max_tokens":5,"messages":[]}')
[ "$code" = 404 ] || fail "messages at openai: status $code"
OPENAI_MOCK=$MOCK_URL
start_mock --provider anthropic
code=$(post /v1/messages '{"model":"claude-3-5-haiku","max_tokens":5,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"Hello!!"}]}]}')
[ "$code" = 200 ] || fail "messages: status $code"
check 'd["type"] == "message"' 'd["role"] == "assistant"' 'd["id"].startswith("msg_")' \
    'd["model"] == "claude-3-5-haiku"' 'd["content"][0]["type"] == "text"' \
    'len(d["content"][0]["text"].split()) == d["usage"]["output_tokens"]' \
    'd["usage"]["input_tokens"] == 4' '1 <= d["usage"]["output_tokens"] <= 5' \
    'd["stop_reason"] in ("end_turn", "max_tokens")'
MOCK_URL=$OPENAI_MOCK

# 404 for an unknown path and for the wrong method; both JSON.
code=$(post /v1/nothing '{}')
[ "$code" = 404 ] || fail "unknown path: status $code"
check 'd["error"]["type"] == "invalid_request_error"' '"/v1/nothing" in d["error"]["message"]'
code=$(curl -s -o "$T/b" -D "$T/h" -w '%{http_code}' "$MOCK_URL/v1/chat/completions")
[ "$code" = 404 ] || fail "GET chat: status $code"
[ -n "$(header x-request-id)" ] || fail "404 without x-request-id"

# 400 for a body that is not JSON (or not one JSON object), OpenAI's error shape.
for body in 'not json' '{"model":' '[1,2]' '{"a":1} trailing' ''; do
    code=$(post /v1/chat/completions "$body")
    [ "$code" = 400 ] || fail "bad JSON '$body': status $code"
    check 'd["error"]["type"] == "invalid_request_error"' 'd["error"]["param"] is None' \
        'd["error"]["code"] is None' 'len(d["error"]["message"]) > 0'
done

# Keep-alive: curl reuses one connection for several URLs; Connection: close is honoured.
curl -sv -o /dev/null -o /dev/null -d '{}' "$MOCK_URL/v1/embeddings" "$MOCK_URL/v1/embeddings" \
    2>"$T/v"
grep -q 'Re-using existing connection' "$T/v" || fail "connection not kept alive"
curl -s -o /dev/null -D "$T/h" -H 'Connection: close' -d '{}' "$MOCK_URL/v1/embeddings"
header connection | grep -qi close || fail "Connection: close not answered with close"

# Pipelining: three requests in one write get three answers, in order, on one connection.
# The last one asks to close, so the mock closes the connection after answering it.
req() { printf 'POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s' "$1" "${#2}" "$3" "$2"; }
port=${MOCK_URL##*:}
exec 3<>"/dev/tcp/127.0.0.1/$port"
{ req /v1/embeddings '{"model":"a"}' ''; req /v1/nope '{}' ''
  req /v1/chat/completions '{"model":"c"}' $'Connection: close\r\n'; } >&3
timeout 5 cat <&3 >"$T/pipe" || fail "pipelined connection not closed after Connection: close"
exec 3<&-
[ "$(grep -a -o 'HTTP/1.1 [0-9]*' "$T/pipe" | tr '\n' ' ')" = "HTTP/1.1 200 HTTP/1.1 404 HTTP/1.1 200 " ] ||
    fail "pipelined answers: $(grep -a -o 'HTTP/1.1 [0-9]*' "$T/pipe")"
grep -a -o '"model":"a"\|/v1/nope\|"model":"c"' "$T/pipe" | tr '\n' ' ' |
    grep -q '^"model":"a" /v1/nope "model":"c" $' || fail "pipelined answers out of order"

# A body of several MB is read whole and counted (4 MB of text -> 1 Mi tokens).
{ printf '{"model":"big","input":"'; head -c $((4 << 20)) /dev/zero | tr '\0' x; printf '"}'; } \
    >"$T/big.json"
code=$(curl -s -o "$T/b" -w '%{http_code}' --data-binary @"$T/big.json" "$MOCK_URL/v1/embeddings")
[ "$code" = 200 ] || fail "large body: status $code"
check 'd["usage"]["prompt_tokens"] == 1048576'

# Stats: the exact top-level keys, and counts that match what was sent above.
curl -s "$MOCK_URL/mock/stats" >"$T/b"
check 'sorted(d) == sorted(["requests","status","rate_limited","faults","max_concurrency","in_flight","tokens","auth","by_path"])' \
    'sorted(d["faults"]) == sorted(["fail","reset","hang","slow","bad_json","outage","quota","overloaded","concurrency_429","auth"])' \
    'd["requests"] == 21' 'd["status"]["404"] == 4' 'd["status"]["400"] == 5' \
    'd["status"]["200"] == 12' 'd["in_flight"] == 0' 'd["max_concurrency"] >= 1' \
    'd["by_path"]["/v1/chat/completions"] == 11' 'd["by_path"]["/v1/embeddings"] == 6' \
    'd["by_path"]["/v1/nope"] == 1' 'd["tokens"]["prompt"] >= 1048576' \
    'set(d["tokens"]) == {"prompt","completion"}' 'd["rate_limited"] == 0'

# Unknown admin paths are 404 and are not counted.
code=$(curl -s -o /dev/null -w '%{http_code}' "$MOCK_URL/mock/nothing")
[ "$code" = 404 ] || fail "unknown admin path: status $code"
curl -s "$MOCK_URL/mock/stats" >"$T/b"
check 'd["requests"] == 21'  # admin requests are not counted

# --help names every option with its default; bad options: one line on stderr, exit 2.
"$SLUICE" mock --help >"$T/help"
for o in --listen --provider --latency --jitter --ms-per-token --rpm --tpm --burst-s \
    --no-rate-headers --max-concurrency --overload-status --fail-rate --reset-rate \
    --hang-rate --slow-rate --bad-json-rate --seed; do
    grep -q -- "$o" "$T/help" || fail "--help does not mention $o"
done
grep -q '127.0.0.1:8080' "$T/help" || fail "--help does not give the default address"
for args in "--rpm abc" "--fail-rate 1.5" "--nope" "--listen nowhere" "--overload-status 500" \
    "--provider foo" "--latency"; do
    rc=0
    # shellcheck disable=SC2086
    "$SLUICE" mock $args >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "'$args': exit $rc, want 2"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "'$args': stderr is not one line: $(cat "$T/err")"
done
run_checks
echo "PASS mock_endpoints"
