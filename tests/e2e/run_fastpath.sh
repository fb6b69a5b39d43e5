#!/bin/bash
# The plain-HTTP/1.1 fast path (src/http/h1.c) on what the mock does not do: chunked answers, a
# server that closes kept-alive connections, a refused connection; and SLUICE_HTTP=curl.
. "$SRCDIR/tests/e2e/lib/common.sh"

python3 "$SRCDIR/tests/e2e/lib/gen.py" 60 >"$T/in.jsonl"
CHECK="$SRCDIR/tests/e2e/lib/check_results.py"

# Chunked answers are put together whole.
start_h1 chunked
"$SLUICE" run "$T/in.jsonl" -o "$T/chunked.jsonl" --base-url "$H1_URL" --provider none \
    -c 4 --max-attempts 1 --no-progress 2>"$T/err" || fail "chunked: exit $?: $(cat "$T/err")"
python3 "$CHECK" "$T/in.jsonl" "$T/chunked.jsonl" --all-success || fail "chunked: results"
python3 - "$T/chunked.jsonl" <<'PY' || fail "chunked: bodies"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)["response"]
    assert r["request_id"] == "req_h1", r
    assert r["body"]["usage"]["completion_tokens"] == 40, r
    assert r["body"]["choices"][0]["message"]["content"] == "chunk " * 40, r
PY
read -r conns reqs <"$H1_STATS"
[ "$reqs" = 60 ] || fail "chunked: the server saw $reqs requests, not 60"
[ "$conns" -le 4 ] || fail "chunked: $conns connections for -c 4: not kept alive"

# A server that closes every connection after its answer: a request that finds its kept-alive
# connection dead is sent again on a fresh one, without using up an attempt (--max-attempts 1).
start_h1 close-idle
"$SLUICE" run "$T/in.jsonl" -o "$T/close.jsonl" --base-url "$H1_URL" --provider none \
    -c 4 --max-attempts 1 --no-progress 2>"$T/err" || fail "close-idle: exit $?: $(cat "$T/err")"
python3 "$CHECK" "$T/in.jsonl" "$T/close.jsonl" --all-success || fail "close-idle: results"
read -r conns reqs <"$H1_STATS"
[ "$reqs" = 60 ] && [ "$conns" = 60 ] || fail "close-idle: $conns connections, $reqs requests"

# A refused connection is "connection_failed", as through curl.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
head -n 3 "$T/in.jsonl" >"$T/in3.jsonl"
for http in fast curl; do
    rc=0
    SLUICE_HTTP=$([ $http = curl ] && echo curl || echo) "$SLUICE" run "$T/in3.jsonl" \
        -o "$T/refused.$http.jsonl" --base-url "http://127.0.0.1:$port" --provider none \
        --max-attempts 1 --give-up-after 600 --no-progress 2>"$T/err" || rc=$?
    [ "$rc" = 1 ] || fail "refused ($http): exit $rc, want 1: $(cat "$T/err")"
    python3 "$CHECK" "$T/in3.jsonl" "$T/refused.$http.jsonl" --expect-failed 3 \
        --failed-code connection_failed || fail "refused ($http): results"
done

# SLUICE_HTTP=curl: libcurl checks a kept-alive connection with poll(2) before each reuse;
# the fast path never calls poll. Counted with strace (skipped when strace is missing).
if command -v strace >/dev/null; then
    start_mock
    head -n 20 "$T/in.jsonl" >"$T/in20.jsonl"
    polls() { # LeakSanitizer cannot run under ptrace; the other runs check for leaks
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" SLUICE_HTTP=$1 strace -f -qq -e trace=poll,ppoll -o "$T/strace.$1" "$SLUICE" run \
            "$T/in20.jsonl" -o "$T/poll.$1.jsonl" --base-url "$MOCK_URL" --provider none \
            -c 2 --no-progress 2>"$T/err" || fail "SLUICE_HTTP=$1: exit $?: $(cat "$T/err")"
        grep -c 'poll(' "$T/strace.$1" || true
    }
    fast=$(polls auto)
    slow=$(polls curl)
    [ "$fast" = 0 ] || fail "the fast path called poll $fast times"
    [ "$slow" -ge 10 ] || fail "SLUICE_HTTP=curl called poll $slow times: not libcurl?"
    echo "ok: poll(2) calls: fast path $fast, SLUICE_HTTP=curl $slow"
else
    echo "strace is not installed: SLUICE_HTTP=curl not checked"
fi
# A server that resets the connection while a large body is still being written: the write
# fails (ECONNRESET), an attempt's failure like any other.
start_h1 reset
python3 "$SRCDIR/tests/e2e/lib/gen.py" 2 --prompt-bytes 8000000 >"$T/big.jsonl"
rc=0
"$SLUICE" run "$T/big.jsonl" -o "$T/reset.jsonl" --base-url "$H1_URL" --provider none -c 2 \
    --max-attempts 2 --backoff-base 0.01 --no-progress 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "reset: exit $rc (141 is SIGPIPE), expected 1: $(tail -3 "$T/err")"
[ "$(wc -l <"$T/reset.jsonl")" = 2 ] || fail "reset: $(wc -l <"$T/reset.jsonl") result lines"
# A later write to such a connection fails with EPIPE and raises SIGPIPE: sluice ignores it
# (its SigIgn mask has bit 13), so the error is handled where it happens.
start_mock --latency 3000
(exec "$SLUICE" run "$T/in.jsonl" -o "$T/slow.jsonl" --base-url "$MOCK_URL" --provider none \
    -c 2 --no-progress 2>/dev/null) &
pid=$!
# Once the mock has seen a request, sluice's main() has long begun.
for _ in $(seq 1 200); do
    [ "$(mock_stat "['requests']")" -ge 1 ] && break
    sleep 0.02
done
ign=$(awk '/^SigIgn:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -n "$ign" ] || fail "no SigIgn for pid $pid"
(( (16#$ign >> 12) & 1 )) || fail "sluice run does not ignore SIGPIPE (SigIgn $ign)"
echo "ok: chunked, close-idle, refused, reset mid-body through the fast path"
