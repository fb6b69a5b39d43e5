#!/bin/bash
# Issue 17, item 8: every command of the README's "Providers" block, as written there, runs
# against `sluice mock` in that provider's mode (which serves only the provider's own paths,
# and 404s the rest as it does), with only the host of the base URL and the key changed.
# Every line must succeed, with the provider's auth header, at the path the provider serves.
# The README points here: change the two together.
. "$SRCDIR/tests/e2e/lib/common.sh"

# In the README's order: the provider of each command and the path its requests must reach.
EXPECT=(
    "openai /v1/chat/completions"
    "azure /openai/v1/chat/completions"
    "azure /openai/deployments/gpt-4o-mini/chat/completions"
    "anthropic /v1/messages"
    "gemini /v1beta/openai/chat/completions"
    "none /v1/chat/completions"
)

# The commands, one a line, continuation lines joined: the indented block of "## Providers".
python3 - "$SRCDIR/README.md" >"$T/commands" <<'PY' || fail "reading README.md"
import re, sys
text = open(sys.argv[1]).read()
section = text.split("\n## Providers\n", 1)[1].split("\n## ", 1)[0]
cmd = None
for line in section.split("\n"):
    if not line.startswith("    "):
        continue
    line = line.strip()
    if cmd is None and line.startswith("sluice run "):
        cmd = ""
    if cmd is not None:
        cmd += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            print(cmd.strip())
            cmd = None
PY
n=$(wc -l <"$T/commands")
[ "$n" = ${#EXPECT[@]} ] || fail "README has $n commands under Providers, the test knows ${#EXPECT[@]}: $(cat "$T/commands")"

python3 "$SRCDIR/tests/e2e/lib/gen.py" 5 >"$T/in.jsonl"
i=0
while IFS= read -r cmd; do
    read -r provider path <<<"${EXPECT[$i]}"
    i=$((i + 1))
    got=$(sed -n 's/.*--provider \([a-z]*\).*/\1/p' <<<"$cmd")
    [ "${got:-openai}" = "$provider" ] || fail "command $i is for ${got:-openai}, expected $provider: $cmd"
    mode=$provider
    [ "$provider" = none ] && mode=openai
    start_mock --provider "$mode"
    # Only the host changes: the README's https://HOST (and the local server's address) become
    # the mock's; a command without --base-url gets the default's host the same way.
    run=$(sed -e "s#https://[^/ ']*#$MOCK_URL#g" -e "s#http://localhost:8000#$MOCK_URL#g" \
        -e 's#^sluice #"$SLUICE" #' <<<"$cmd")
    case $provider in
    openai) keyvar=OPENAI_API_KEY auth=bearer ;;
    azure) keyvar=AZURE_OPENAI_API_KEY auth=api-key ;;
    anthropic) keyvar=ANTHROPIC_API_KEY auth=x-api-key ;;
    gemini) keyvar=GEMINI_API_KEY auth=bearer ;;
    none) keyvar="" auth=none ;;
    esac
    rm -f "$T/out.jsonl"
    rc=0
    (
        cd "$T"
        unset OPENAI_API_KEY AZURE_OPENAI_API_KEY ANTHROPIC_API_KEY GEMINI_API_KEY OPENAI_BASE_URL
        export SLUICE_BASE_URL=$MOCK_URL
        [ -z "$keyvar" ] || export "$keyvar=sk-readme-$provider"
        eval "timeout 60 $run"
    ) >"$T/stdout" 2>"$T/err" || rc=$?
    [ "$rc" = 0 ] || fail "command $i ($run): exit $rc: $(cat "$T/err")"
    python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
        fail "command $i ($cmd): results"
    curl -s "$MOCK_URL/mock/stats" >"$T/stats.json"
    python3 - "$T/stats.json" "$path" "$auth" <<'PY' || fail "command $i ($cmd): see above"
import json, sys
s, path, auth = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
assert s["by_path"] == {path: 5}, f"paths {s['by_path']}, expected {path}"
assert s["status"] == {"200": 5}, s["status"]
assert s["auth"][auth] == 5, f"auth {s['auth']}, expected {auth}"
PY
    echo "ok: $cmd"
done <"$T/commands"
echo ok
