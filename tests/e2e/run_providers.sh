#!/bin/bash
# Each provider sends its own auth header (openai: Bearer, azure: api-key, anthropic: x-api-key
# + anthropic-version, none: nothing), from its default variable, --api-key-env or
# --api-key-file, and the key never appears in anything sluice prints or writes.
. "$SRCDIR/tests/e2e/lib/common.sh"
SECRET="sk-test-$RANDOM$RANDOM-do-not-print"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 5 >"$T/in.jsonl"
check() { # provider, expected auth key in the mock's stats, then extra options
    local provider=$1 key=$2
    shift 2
    start_mock
    "$SLUICE" run "$T/in.jsonl" -o "$T/out.$provider.jsonl" --base-url "$MOCK_URL" \
        --provider "$provider" --no-progress --stats-json "$T/stats.$provider.json" --overwrite "$@" \
        >"$T/stdout.$provider" 2>"$T/stderr.$provider" || fail "$provider: exit $?: $(cat "$T/stderr.$provider")"
    python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.$provider.jsonl" --all-success ||
        fail "$provider: results"
    local n
    n=$(mock_stat "['auth']['$key']")
    [ "$n" = 5 ] || fail "$provider: the mock saw $n requests with $key, expected 5"
}
OPENAI_API_KEY=$SECRET check openai bearer
AZURE_OPENAI_API_KEY=$SECRET check azure api-key
ANTHROPIC_API_KEY=$SECRET check anthropic x-api-key
[ "$(mock_stat "['auth']['anthropic-version']")" = 5 ] || fail "anthropic: no anthropic-version header"
MY_KEY=$SECRET check openai bearer --api-key-env MY_KEY
printf '%s\n' "$SECRET" >"$T/keyfile"
check azure api-key --api-key-file "$T/keyfile"
OPENAI_API_KEY=$SECRET check none none
# With no key at all: a warning naming the variable, and requests go out without one.
env -u OPENAI_API_KEY "$SLUICE" run "$T/in.jsonl" -o "$T/out.nokey.jsonl" --base-url "$MOCK_URL" \
    --no-progress 2>"$T/stderr.nokey" || fail "no key: exit $?"
grep -q 'OPENAI_API_KEY is not set' "$T/stderr.nokey" || fail "no warning about the missing key"
if grep -rl -- "$SECRET" "$T" | grep -v "/keyfile$"; then
    fail "the key appears in the files above"
fi
echo ok
