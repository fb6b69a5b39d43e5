# sluice mock --provider openai|azure|anthropic|gemini over a real socket: each dialect's
# headers, 429 bodies and retry hints, and the dialect faults --quota-after,
# --overloaded-rate, --concurrency-429 and --auth-fail, counted in /mock/stats faults{}.
. "$SRCDIR/tests/e2e/lib/common.sh"

. "$SRCDIR/tests/e2e/lib/http.sh"
stats() { curl -s "$MOCK_URL/mock/stats" >"$T/b"; }

CHAT='{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}'
MSG='{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
# Each provider's chat path (the mock serves no other: a 404, as the provider gives).
AZURE_CHAT='/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21'
GEMINI_CHAT=/v1beta/openai/chat/completions
path_of() {
    case $1 in
    openai) echo /v1/chat/completions ;;
    azure) echo "$AZURE_CHAT" ;;
    anthropic) echo /v1/messages ;;
    gemini) echo "$GEMINI_CHAT" ;;
    esac
}

# Azure: only x-ratelimit-remaining-*, -1 for a budget it does not know; 429 with
# retry-after-ms and retry-after and its own {"error":{"code":"429",...}}.
start_mock --provider azure --rpm 60
[ "$(post "$AZURE_CHAT" "$CHAT")" = 200 ] || fail "azure: first status"
[ "$(header x-ratelimit-remaining-requests)" = 59 ] || fail "azure: remaining-requests"
[ "$(header x-ratelimit-remaining-tokens)" = -1 ] || fail "azure: remaining-tokens"
! grep -qi '^x-ratelimit-limit\|^x-ratelimit-reset' "$T/h" || fail "azure: limit/reset headers sent"
[ "$(post "$AZURE_CHAT" "$CHAT")" = 429 ] || fail "azure: second status"
ms=$(header retry-after-ms)
[[ "$ms" =~ ^[0-9]+$ ]] && [ "$ms" -ge 1 ] && [ "$ms" -le 1000 ] || fail "azure: retry-after-ms '$ms'"
[ "$(header retry-after)" = 1 ] || fail "azure: retry-after '$(header retry-after)'"
check 'e["code"] == "429"' '"Please retry after 1 seconds" in e["message"]'
# Only Azure's paths: OpenAI's, and a deployment's without an api-version, are Azure's 404.
for u in /v1/chat/completions /openai/deployments/gpt-4o-mini/chat/completions; do
    [ "$(post "$u" "$CHAT")" = 404 ] || fail "azure: $u not a 404"
    check 'e["code"] == "404"' 'e["message"] == "Resource not found"'
done
start_mock --provider azure
[ "$(post /openai/v1/chat/completions "$CHAT")" = 200 ] || fail "azure: the v1 API"
[ "$(post '/openai/deployments/d/embeddings?api-version=2024-10-21' '{"input":"x"}')" = 200 ] ||
    fail "azure: embeddings"

# Gemini: no rate headers and no Retry-After; RESOURCE_EXHAUSTED with RetryInfo in the body;
# every second error wrapped in an array. Only its OpenAI-compatible paths answer.
start_mock --provider gemini --rpm 60
[ "$(post "$GEMINI_CHAT" "$CHAT")" = 200 ] || fail "gemini: first status"
check 'd["object"] == "chat.completion"'
! grep -qi '^x-ratelimit\|^anthropic-ratelimit\|^retry-after' "$T/h" || fail "gemini: rate headers"
for i in 1 2; do
    [ "$(post "$GEMINI_CHAT" "$CHAT")" = 429 ] || fail "gemini: 429 #$i"
    ! grep -qi '^retry-after' "$T/h" || fail "gemini: retry-after header"
    check 'e["status"] == "RESOURCE_EXHAUSTED"' 'e["code"] == 429' \
        '[x for x in e["details"] if x["@type"].endswith("RetryInfo")][0]["retryDelay"].endswith("s")' \
        '0 < float([x for x in e["details"] if x["@type"].endswith("RetryInfo")][0]["retryDelay"][:-1]) <= 1' \
        '"PerMinute" in e["details"][0]["violations"][0]["quotaId"]'
done
check 'isinstance(d, list)' # the second error
for u in /v1/nothing /v1/chat/completions /v1beta/openai/v1/chat/completions; do
    [ "$(post "$u" "$CHAT")" = 404 ] || fail "gemini: $u not a 404"
    check 'e["status"] == "NOT_FOUND"'
done

# Anthropic: requests, tokens, input-tokens, output-tokens headers; token counts rounded to
# thousands.
start_mock --provider anthropic --rpm 60 --tpm 50000 --itpm 40000 --otpm 8000
[ "$(post /v1/messages "$MSG")" = 200 ] || fail "anthropic: first status"
for k in requests tokens input-tokens output-tokens; do
    for f in limit remaining reset; do
        [ -n "$(header "anthropic-ratelimit-$k-$f")" ] || fail "anthropic: no $k-$f"
    done
done
[ "$(header anthropic-ratelimit-tokens-remaining)" = 50000 ] || fail "anthropic: tokens rounded"
[ "$(header anthropic-ratelimit-input-tokens-limit)" = 40000 ] || fail "anthropic: input limit"
[ "$(header anthropic-ratelimit-output-tokens-remaining)" = 8000 ] || fail "anthropic: output"
start_mock --provider anthropic
[ "$(post /v1/chat/completions "$CHAT")" = 200 ] || fail "anthropic: OpenAI SDK compatibility"
[ "$(post /v1/embeddings '{"input":"x"}')" = 404 ] || fail "anthropic: embeddings"
# And OpenAI has no /v1/messages.
start_mock
[ "$(post /v1/messages "$MSG")" = 404 ] || fail "openai: /v1/messages"

# --quota-after: after N admitted requests, each dialect's quota answer.
quota() { # provider path body status python-checks...
    local p=$1 path=$2 body=$3 want=$4
    shift 4
    start_mock --provider "$p" --quota-after 2
    local i code
    for i in 1 2; do
        code=$(post "$path" "$body")
        [ "$code" = 200 ] || fail "$p quota: request $i status $code"
    done
    for i in 3 4; do
        code=$(post "$path" "$body")
        [ "$code" = "$want" ] || fail "$p quota: request $i status $code"
        check "$@"
    done
    stats
    check 'd["faults"]["quota"] == 2' 'd["status"]["200"] == 2'
}
quota openai /v1/chat/completions "$CHAT" 429 'e["code"] == "insufficient_quota"' \
    'e["type"] == "insufficient_quota"'
[ "$(header x-should-retry)" = false ] || fail "openai quota: x-should-retry"
quota azure "$AZURE_CHAT" "$CHAT" 429 'e["code"] == "insufficient_quota"'
quota anthropic /v1/messages "$MSG" 400 'd["type"] == "error"' \
    'e["type"] == "invalid_request_error"' \
    '"credit balance is too low" in e["message"] or "API usage limits" in e["message"]'
quota gemini "$GEMINI_CHAT" "$CHAT" 429 'e["status"] == "RESOURCE_EXHAUSTED"' \
    '"PerDay" in e["details"][0]["violations"][0]["quotaId"]'

# --overloaded-rate 1: 529 overloaded_error (anthropic), 503 saying overloaded (the others).
for p in openai azure anthropic gemini; do
    start_mock --provider "$p" --overloaded-rate 1 --rpm 60
    code=$(post "$(path_of "$p")" "$MSG")
    if [ "$p" = anthropic ]; then
        [ "$code" = 529 ] || fail "$p overloaded: status $code"
        check 'e["type"] == "overloaded_error"'
        [ "$(header x-should-retry)" = true ] || fail "anthropic overloaded: x-should-retry"
    else
        [ "$code" = 503 ] || fail "$p overloaded: status $code"
        check '"overloaded" in e["message"]'
    fi
    ! grep -qi 'ratelimit' "$T/h" || fail "$p overloaded: rate headers"
    post "$(path_of "$p")" "$MSG" >/dev/null # charged nothing: the budget of 1 is still there
    stats
    check 'd["faults"]["overloaded"] == 2' 'd["rate_limited"] == 0'
done
# At 0.3, about 30% of 400.
start_mock --overloaded-rate 0.3 --seed 7
# One curl, 400 URLs: the body and headers apply to each.
for i in $(seq 1 400); do printf 'url = "%s"\noutput = /dev/null\n' "$MOCK_URL/v1/chat/completions"; done >"$T/cfg"
curl -s -K "$T/cfg" -d '{}' -H 'content-type: application/json'
stats
check '80 <= d["faults"]["overloaded"] <= 160' 'd["status"]["503"] == d["faults"]["overloaded"]'

# --concurrency-429 2: of 4 at once, 2 served and 2 refused with the dialect's concurrency 429.
for p in anthropic openai; do
    start_mock --provider "$p" --concurrency-429 2 --latency 1500
    pids=""
    for i in 1 2 3 4; do
        curl -s -o "$T/c$i" -D "$T/ch$i" -w '%{http_code}\n' "$MOCK_URL$(path_of "$p")" -d "$MSG" \
            >"$T/code$i" &
        pids="$pids $!"
    done
    wait $pids # not the mocks
    got=$(cat "$T"/code? | sort | tr '\n' ' ')
    [ "$got" = "200 200 429 429 " ] || fail "$p concurrency-429: statuses $got"
    [ "$(grep -il 'concurren' "$T"/c? | grep -c .)" = 2 ] || fail "$p concurrency-429: bodies"
    if [ "$p" = anthropic ]; then
        grep -q 'Number of concurrent connections has exceeded your rate limit' "$T"/c? ||
            fail "anthropic concurrency-429: message"
        [ "$(grep -il '^retry-after: 1' "$T"/ch? | grep -c .)" = 2 ] || fail "anthropic: retry-after"
    fi
    stats
    check 'd["faults"]["concurrency_429"] == 2' 'd["rate_limited"] == 2' \
        'd["max_concurrency"] == 2' 'd["in_flight"] == 0'
done

# --auth-fail: every API request a 401 in the dialect's shape, before anything else.
for p in openai azure anthropic gemini; do
    start_mock --provider "$p" --auth-fail
    [ "$(post "$(path_of "$p")" "$CHAT")" = 401 ] || fail "$p auth: status"
    case $p in
    openai) check 'e["code"] == "invalid_api_key"' ;;
    azure) check 'e["code"] == "401"' ;;
    anthropic) check 'd["type"] == "error"' 'e["type"] == "authentication_error"' ;;
    gemini) check 'e["status"] == "UNAUTHENTICATED"' ;;
    esac
    [ "$(post /v1/nothing x)" = 401 ] || fail "$p auth: unknown path"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$MOCK_URL/mock/stats")" = 200 ] || fail "$p auth: admin"
    stats
    check 'd["faults"]["auth"] == 2' 'd["status"] == {"401": 2}' 'd["requests"] == 2'
done

# Bad values: one line, exit 2.
for bad in "--provider vertex" "--quota-after -1" "--overloaded-rate 2" "--concurrency-429 x" \
    "--auth-fail=1"; do
    # shellcheck disable=SC2086
    if "$SLUICE" mock --listen 127.0.0.1:0 $bad >"$T/o" 2>"$T/e"; then fail "accepted $bad"; fi
    [ "$(wc -l <"$T/e")" = 1 ] || fail "$bad: not one line: $(cat "$T/e")"
done
"$SLUICE" mock --help | grep -q -- '--quota-after' || fail "--help lacks --quota-after"

run_checks
echo "PASS mock_dialects"
