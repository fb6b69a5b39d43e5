#!/bin/bash
# Proxies come from the usual environment variables (http_proxy, NO_PROXY ...), through curl:
# with http_proxy set every request goes through the proxy; with NO_PROXY naming the host, none.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/nginx.sh"
start_mock
start_forward_proxy
before=$(wc -l <"$PROXY_LOG")
python3 "$SRCDIR/tests/e2e/lib/gen.py" 30 >"$T/in.jsonl"
http_proxy=$PROXY_URL "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" \
    --provider none --no-progress 2>"$T/err" || fail "via proxy: exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "results"
sleep 0.2
through=$(($(wc -l <"$PROXY_LOG") - before))
[ "$through" -ge 30 ] || fail "only $through of 30 requests went through http_proxy"
before=$(wc -l <"$PROXY_LOG")
http_proxy=$PROXY_URL NO_PROXY=127.0.0.1 "$SLUICE" run "$T/in.jsonl" -o "$T/out2.jsonl" \
    --base-url "$MOCK_URL" --provider none --no-progress 2>"$T/err" || fail "no_proxy: exit $?"
sleep 0.2
[ "$(wc -l <"$PROXY_LOG")" = "$before" ] || fail "NO_PROXY was not honoured"
echo "ok: $through requests through the proxy, none with NO_PROXY"
