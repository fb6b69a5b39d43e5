#!/bin/bash
# A real provider (openai, azure, anthropic, gemini) at an https:// base URL with no API key:
# exit 2 at once, naming the variable to set and --api-key-file, before INPUT is read (a FIFO
# nobody writes would hang a run that opened it) or OUTPUT touched (its results stay as they
# were; a new OUTPUT is not created). No server is needed: nothing connects. http:// (local
# servers, the mock), --provider none and a credential in -H go on without a key; --dry-run
# only notes it.
. "$SRCDIR/tests/e2e/lib/common.sh"
unset OPENAI_API_KEY AZURE_OPENAI_API_KEY ANTHROPIC_API_KEY GEMINI_API_KEY MYKEY \
    SLUICE_BASE_URL OPENAI_BASE_URL
mkfifo "$T/in.fifo"
printf '{"custom_id":"a","response":{"status_code":200,"body":{}},"error":null}\n' >"$T/old.jsonl"
sum=$(md5sum <"$T/old.jsonl")

# refused VAR ARGS...: exit 2 within the timeout, one line naming $VAR and --api-key-file.
refused() {
    local var=$1 rc=0
    shift
    timeout 20 "$SLUICE" run "$T/in.fifo" "$@" --no-progress 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "$*: exit $rc (124: it read INPUT), expected 2: $(cat "$T/err")"
    grep -q "^sluice: no API key: https://.* needs one and \$$var is not set; export $var=..., or pass --api-key-file FILE" \
        "$T/err" || fail "$*: message: $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "$*: more than one line: $(cat "$T/err")"
    [ "$(md5sum <"$T/old.jsonl")" = "$sum" ] || fail "$*: OUTPUT changed"
    [ ! -e "$T/new.jsonl" ] && [ ! -e "$T/new.jsonl.lock" ] && [ ! -e "$T/old.jsonl.lock" ] ||
        fail "$*: a file was created: $(ls "$T")"
}
refused OPENAI_API_KEY -o "$T/old.jsonl" --overwrite
refused OPENAI_API_KEY -o "$T/old.jsonl" --resume --base-url https://api.openai.com/v1
refused OPENAI_API_KEY -o "$T/new.jsonl" --provider openai
refused AZURE_OPENAI_API_KEY -o "$T/new.jsonl" --provider azure \
    --base-url https://my-resource.openai.azure.com
refused ANTHROPIC_API_KEY -o "$T/new.jsonl" --provider anthropic --base-url https://api.anthropic.com
refused GEMINI_API_KEY -o "$T/new.jsonl" --provider gemini \
    --base-url https://generativelanguage.googleapis.com/v1beta/openai
refused MYKEY -o "$T/new.jsonl" --api-key-env MYKEY
OPENAI_API_KEY= refused OPENAI_API_KEY -o "$T/new.jsonl" # empty is not a key
# With --redis: before Redis is asked (nothing listens on this port).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
refused OPENAI_API_KEY -o "$T/new.jsonl" --redis "redis://127.0.0.1:$port" --job nokey
# An empty --api-key-file.
: >"$T/empty.key"
rc=0
timeout 20 "$SLUICE" run "$T/in.fifo" -o "$T/new.jsonl" --api-key-file "$T/empty.key" \
    2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "empty key file: exit $rc"
grep -q "^sluice: no API key: .*--api-key-file $T/empty.key is empty; put the key on its first line" \
    "$T/err" || fail "empty key file: $(cat "$T/err")"

# --dry-run sends nothing: a note, and the estimate.
python3 "$SRCDIR/tests/e2e/lib/gen.py" 3 >"$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" --dry-run >"$T/dry" 2>"$T/err" || fail "dry run: exit $?: $(cat "$T/err")"
grep -q "^sluice: note: no API key: .*OPENAI_API_KEY.*the run itself will refuse to start" \
    "$T/err" || fail "dry run: $(cat "$T/err")"
grep -q "3 lines, 3 valid" "$T/dry" || fail "dry run: $(cat "$T/dry")"

# No key needed: http:// (the mock), --provider none, a credential in -H.
start_mock
"$SLUICE" run "$T/in.jsonl" -o "$T/http.jsonl" --base-url "$MOCK_URL" --no-progress \
    2>"$T/err" || fail "http: exit $?: $(cat "$T/err")"
grep -q 'warning: $OPENAI_API_KEY is not set' "$T/err" || fail "http: no warning: $(cat "$T/err")"
for extra in "--provider none" "-H Authorization:Bearer-x" "--provider azure -H api-key:k"; do
    # shellcheck disable=SC2086  # $extra is several words on purpose
    timeout 20 "$SLUICE" run "$T/in.jsonl" -o "$T/tls.jsonl" --overwrite \
        --base-url https://127.0.0.1:1 --connect-grace 0.2 --no-progress $extra 2>"$T/err" || true
    ! grep -q "API key" "$T/err" || fail "$extra: $(cat "$T/err")"
    grep -q "cannot reach https://127.0.0.1:1" "$T/err" || fail "$extra: $(cat "$T/err")"
done
echo ok
