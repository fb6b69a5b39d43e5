#!/bin/bash
# Issue 17, item 7: a base URL with a path, as the SDKs are configured
# (OPENAI_BASE_URL=https://api.openai.com/v1), takes Batch lines' "/v1/..." without doubling
# it: the path replaces the lines' leading /v1. Gemini's base URL (/v1beta/openai) and Azure's
# deployment with its api-version in the base URL's query likewise; the mock 404s any other
# path, as the providers do. Through the fast path and through libcurl (SLUICE_HTTP=curl).
. "$SRCDIR/tests/e2e/lib/common.sh"
export OPENAI_API_KEY=sk-test AZURE_OPENAI_API_KEY=sk-test GEMINI_API_KEY=sk-test
unset SLUICE_BASE_URL OPENAI_BASE_URL
{
    python3 "$SRCDIR/tests/e2e/lib/gen.py" 3 --prefix chat
    python3 "$SRCDIR/tests/e2e/lib/gen.py" 2 --prefix short --url /chat/completions
    python3 "$SRCDIR/tests/e2e/lib/gen.py" 2 --prefix emb --url /v1/embeddings
} >"$T/in.jsonl"

# expect NAME PATHS-AS-PYTHON-DICT: every line succeeded, and the mock saw exactly these paths.
expect() {
    python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
        fail "$1: results: $(cat "$T/err")"
    curl -s "$MOCK_URL/mock/stats" >"$T/stats.json"
    python3 - "$T/stats.json" "$2" <<'PY' || fail "$1: paths"
import ast, json, sys
got, want = json.load(open(sys.argv[1]))["by_path"], ast.literal_eval(sys.argv[2])
assert got == want, f"the mock saw {got}, expected {want}"
PY
}

# OPENAI_BASE_URL with /v1, as the OpenAI SDKs read it.
for http in fast curl; do
    start_mock
    rc=0
    if [ "$http" = curl ]; then export SLUICE_HTTP=curl; else unset SLUICE_HTTP; fi
    OPENAI_BASE_URL=$MOCK_URL/v1 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --overwrite \
        --no-progress 2>"$T/err" || rc=$?
    [ "$rc" = 0 ] || fail "OPENAI_BASE_URL .../v1 ($http): exit $rc: $(cat "$T/err")"
    expect "OPENAI_BASE_URL ($http)" '{"/v1/chat/completions": 5, "/v1/embeddings": 2}'
done
unset SLUICE_HTTP

# --base-url .../v1/ (a trailing slash).
start_mock
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --overwrite --base-url "$MOCK_URL/v1/" \
    --no-progress 2>"$T/err" || fail "--base-url .../v1/: exit $?: $(cat "$T/err")"
expect "--base-url .../v1/" '{"/v1/chat/completions": 5, "/v1/embeddings": 2}'

# Gemini's base URL: /v1beta/openai, the lines' /v1 dropped.
start_mock --provider gemini
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --overwrite --provider gemini \
    --base-url "$MOCK_URL/v1beta/openai" --no-progress 2>"$T/err" ||
    fail "gemini: exit $?: $(cat "$T/err")"
expect gemini '{"/v1beta/openai/chat/completions": 5, "/v1beta/openai/embeddings": 2}'

# Azure: a deployment in the base URL's path, the api-version in its query, on every request.
start_mock --provider azure
for http in fast curl; do
    if [ "$http" = curl ]; then export SLUICE_HTTP=curl; else unset SLUICE_HTTP; fi
    "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --overwrite --provider azure \
        --base-url "$MOCK_URL/openai/deployments/gpt-4o-mini?api-version=2024-10-21" \
        --no-progress 2>"$T/err" || fail "azure ($http): exit $?: $(cat "$T/err")"
done
unset SLUICE_HTTP
expect azure '{"/openai/deployments/gpt-4o-mini/chat/completions": 10,
               "/openai/deployments/gpt-4o-mini/embeddings": 4}'

# --help says so.
"$SLUICE" run --help | grep -q "leading /v1" || fail "--help does not explain the base URL's path"
echo ok
