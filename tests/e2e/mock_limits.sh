# sluice mock: rate limits (429 and its headers, OpenAI and Anthropic dialects,
# --no-rate-headers) and --max-concurrency (429, or --overload-status 503).
. "$SRCDIR/tests/e2e/lib/common.sh"

. "$SRCDIR/tests/e2e/lib/http.sh"

CHAT='{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}'

# OpenAI dialect, --rpm 60 (one per second, burst 1): headers on the 200, then a 429.
start_mock --rpm 60
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 200 ] || fail "rpm: first status $code"
[ "$(header x-ratelimit-limit-requests)" = 60 ] || fail "rpm: limit $(header x-ratelimit-limit-requests)"
[ "$(header x-ratelimit-remaining-requests)" = 59 ] || fail "rpm: remaining"
[[ "$(header x-ratelimit-reset-requests)" =~ ^([0-9]+ms|1s)$ ]] ||
    fail "rpm: reset '$(header x-ratelimit-reset-requests)'"
[ -z "$(header x-ratelimit-limit-tokens)" ] || fail "rpm: tokens headers without --tpm"
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 429 ] || fail "rpm: second status $code"
ms=$(header retry-after-ms)
[[ "$ms" =~ ^[0-9]+$ ]] && [ "$ms" -ge 1 ] && [ "$ms" -le 1000 ] || fail "rpm: retry-after-ms '$ms'"
[ "$(header retry-after)" = 1 ] || fail "rpm: retry-after '$(header retry-after)'"
[ "$(header x-ratelimit-remaining-requests)" = 59 ] || fail "rpm: 429 without rate headers"
check 'd["error"]["type"] == "requests"' 'd["error"]["code"] == "rate_limit_exceeded"' \
    'd["error"]["param"] is None' 'd["error"]["message"].startswith("Rate limit reached for requests")' \
    '"Please try again in " in d["error"]["message"]'
# Told when to come back, it is admitted then.
sleep "$(awk -v ms="$ms" 'BEGIN { print ms / 1000 + 0.05 }')"
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 200 ] || fail "rpm: after retry-after-ms, status $code"
curl -s "$MOCK_URL/mock/stats" >"$T/b"
check 'd["rate_limited"] == 1' 'd["status"] == {"200": 2, "429": 1}' \
    'd["faults"]["fail"] == 0'

# --tpm 600 (10 tokens/s): prompt estimate + max_tokens is charged at admission.
start_mock --tpm 600
code=$(post /v1/chat/completions '{"model":"m","max_tokens":99,"messages":[{"role":"user","content":"hi"}]}')
[ "$code" = 200 ] || fail "tpm: first status $code"
[ "$(header x-ratelimit-limit-tokens)" = 600 ] || fail "tpm: limit"
[ "$(header x-ratelimit-remaining-tokens)" = 500 ] || fail "tpm: remaining $(header x-ratelimit-remaining-tokens)"
[[ "$(header x-ratelimit-reset-tokens)" =~ ^(9\.[0-9]+|10)s$ ]] ||
    fail "tpm: reset '$(header x-ratelimit-reset-tokens)'"
[ -z "$(header x-ratelimit-limit-requests)" ] || fail "tpm: requests headers without --rpm"
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 429 ] || fail "tpm: second status $code"
ms=$(header retry-after-ms)
[ "$ms" -gt 8000 ] && [ "$ms" -le 10000 ] || fail "tpm: retry-after-ms $ms"
[ "$(header retry-after)" = $(((ms + 999) / 1000)) ] || fail "tpm: retry-after vs -ms"
check 'd["error"]["type"] == "tokens"' 'd["error"]["code"] == "rate_limit_exceeded"'
# A request larger than the whole minute's budget can never pass: no retry-after.
code=$(post /v1/chat/completions '{"model":"m","max_tokens":1000,"messages":[]}')
[ "$code" = 429 ] || fail "tpm: too large, status $code"
[ -z "$(header retry-after)" ] || fail "tpm: too large with a retry-after"
check 'd["error"]["type"] == "tokens"' '"Request too large" in d["error"]["message"]'

# Anthropic dialect: anthropic-ratelimit-* with RFC 3339 resets, request-id, its 429 body.
start_mock --provider anthropic --rpm 60 --tpm 60000
code=$(post /v1/messages '{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}')
[ "$code" = 200 ] || fail "anthropic: first status $code"
[ "$(header anthropic-ratelimit-requests-limit)" = 60 ] || fail "anthropic: requests-limit"
[ "$(header anthropic-ratelimit-requests-remaining)" = 59 ] || fail "anthropic: requests-remaining"
[[ "$(header anthropic-ratelimit-requests-reset)" =~ ^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}Z$ ]] ||
    fail "anthropic: requests-reset '$(header anthropic-ratelimit-requests-reset)'"
[ "$(header anthropic-ratelimit-tokens-limit)" = 60000 ] || fail "anthropic: tokens-limit"
# Anthropic rounds token counts to the nearest thousand: 59994 is reported as 60000.
[ "$(header anthropic-ratelimit-tokens-remaining)" = 60000 ] || fail "anthropic: tokens-remaining"
[ "$(header request-id)" = "$(header x-request-id)" ] || fail "anthropic: request-id"
[ -z "$(header x-ratelimit-limit-requests)" ] || fail "anthropic: OpenAI headers sent"
code=$(post /v1/messages '{"model":"claude","max_tokens":5,"messages":[]}')
[ "$code" = 429 ] || fail "anthropic: second status $code"
[ "$(header retry-after)" = 1 ] || fail "anthropic: retry-after '$(header retry-after)'"
[ -z "$(header retry-after-ms)" ] || fail "anthropic: retry-after-ms sent"
check 'd["type"] == "error"' 'd["error"]["type"] == "rate_limit_error"' \
    'len(d["error"]["message"]) > 0'

# --no-rate-headers: nothing but the 429 and its retry-after.
start_mock --rpm 60 --no-rate-headers
post /v1/chat/completions "$CHAT" >/dev/null
! grep -qi '^x-ratelimit' "$T/h" || fail "no-rate-headers: rate headers on a 200"
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 429 ] || fail "no-rate-headers: second status $code"
[ "$(header retry-after)" = 1 ] || fail "no-rate-headers: retry-after '$(header retry-after)'"
! grep -qi '^x-ratelimit\|^retry-after-ms' "$T/h" || fail "no-rate-headers: extra headers on a 429"

# --max-concurrency 2: of 4 requests at once, 2 are served and 2 refused (429, or 503).
concurrent() {
    local i
    for i in 1 2 3 4; do
        curl -s -o "$T/c$i" -w '%{http_code}\n' "$MOCK_URL/v1/chat/completions" -d "$CHAT" \
            >"$T/code$i" &
    done
    wait # (in the $(...) subshell: only the curls)
    cat "$T"/code? | sort | tr '\n' ' '
}
start_mock --max-concurrency 2 --latency 1500
got=$(concurrent)
[ "$got" = "200 200 429 429 " ] || fail "max-concurrency: statuses $got"
grep -l '"code":"concurrency_limit_exceeded"' "$T"/c? | grep -c . | grep -qx 2 ||
    fail "max-concurrency: 429 bodies do not say concurrency"
grep -q 'concurrent' "$T/c1" "$T/c2" "$T/c3" "$T/c4" || fail "max-concurrency: message"
curl -s "$MOCK_URL/mock/stats" >"$T/b"
check 'd["max_concurrency"] == 2' 'd["rate_limited"] == 2' 'd["in_flight"] == 0' \
    'd["status"] == {"200": 2, "429": 2}'

start_mock --max-concurrency 2 --latency 1500 --overload-status 503
got=$(concurrent)
[ "$got" = "200 200 503 503 " ] || fail "overload-status 503: statuses $got"
grep -l 'overloaded' "$T"/c? | grep -c . | grep -qx 2 || fail "overload 503: body does not say overloaded"
curl -s "$MOCK_URL/mock/stats" >"$T/b"
check 'd["rate_limited"] == 0' 'd["status"] == {"200": 2, "503": 2}'

run_checks
echo "PASS mock_limits"
