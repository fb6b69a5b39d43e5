#!/bin/bash
# HTTPS with certificate verification on, over HTTP/2 (nginx in front of the mock): works with
# --cacert; without it the run stops at once (exit 3) with a hint instead of retrying; --insecure
# skips the check.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/nginx.sh"
start_mock --latency 20
start_tls_proxy "$MOCK_URL"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 200 >"$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$TLS_URL" --provider none -c 16 \
    --cacert "$TLS_CA" --no-progress 2>"$T/err" || fail "with --cacert: exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success || fail "results"
h2=$(grep -c '^HTTP/2.0 200' "$NGINX_LOG" || true)
[ "$h2" -ge 200 ] || fail "only $h2 of 200 requests went over HTTP/2: $(sort "$NGINX_LOG" | uniq -c)"

rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/out2.jsonl" --base-url "$TLS_URL" --provider none \
    --no-progress 2>"$T/err2" || rc=$?
[ "$rc" = 3 ] || fail "unverifiable certificate: exit $rc, expected 3; $(cat "$T/err2")"
grep -q -- "--cacert" "$T/err2" || fail "no --cacert hint: $(cat "$T/err2")"
[ ! -s "$T/out2.jsonl" ] || fail "requests were written as failed instead of left for --resume"

"$SLUICE" run "$T/in.jsonl" -o "$T/out3.jsonl" --base-url "$TLS_URL" --provider none --insecure \
    --no-progress 2>"$T/err3" || fail "--insecure: exit $?: $(cat "$T/err3")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out3.jsonl" --all-success || fail "insecure results"
echo "ok: $h2 requests over HTTP/2"
