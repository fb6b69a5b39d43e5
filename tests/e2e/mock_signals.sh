# sluice mock: the "listening on" line, and a clean exit 0 on SIGTERM and SIGINT while
# connections are open, answers are waiting and a request hangs (under ASan: no leaks).
. "$SRCDIR/tests/e2e/lib/common.sh"

# Started directly, not through start_mock's `timeout`, whose own exit status would hide
# the mock's.
# SIGTERM with two answers waiting for their timers, SIGINT with two hung requests.
for sig in TERM INT; do
    opts="--latency 5000"
    [ "$sig" = INT ] && opts="--hang-rate 1"
    # shellcheck disable=SC2086
    "$SLUICE" mock --listen 127.0.0.1:0 $opts >"$T/out.$sig" 2>"$T/err.$sig" &
    pid=$!
    _PIDS="$_PIDS $pid"
    for i in $(seq 1 100); do
        grep -q '^listening on ' "$T/out.$sig" && break
        sleep 0.05
    done
    line=$(head -n1 "$T/out.$sig")
    [[ "$line" =~ ^listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]] || fail "first line: '$line'"
    port=${BASH_REMATCH[1]}
    [ "$port" -gt 0 ] || fail "port 0 was not replaced by the real port"
    url="http://127.0.0.1:$port"
    # Also an idle keep-alive connection with a half-sent request on it.
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"in' >&3
    curl -s -o /dev/null --max-time 10 "$url/v1/chat/completions" -d '{}' &
    curl -s -o /dev/null --max-time 10 "$url/v1/embeddings" -d '{}' &
    sleep 0.5
    [ "$(curl -s "$url/mock/stats" | grep -o '"in_flight":[0-9]*')" = '"in_flight":2' ] ||
        fail "SIG$sig: the two requests are not in flight"
    kill -"$sig" "$pid"
    rc=0
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && fail "SIG$sig: still running 2 s after the signal"
    wait "$pid" || rc=$?
    exec 3>&-
    [ "$rc" = 0 ] || fail "SIG$sig: exit $rc: $(cat "$T/err.$sig")"
    [ ! -s "$T/err.$sig" ] || fail "SIG$sig: stderr: $(cat "$T/err.$sig")"
    wait # the curls, cut off by the stop
done

# Port in use: a clear error, not a crash.
"$SLUICE" mock --listen "127.0.0.1:0" >"$T/a" &
pid=$!
_PIDS="$_PIDS $pid"
for i in $(seq 1 100); do grep -q '^listening' "$T/a" && break; sleep 0.05; done
busy=$(sed -n 's/^listening on http:\/\///p' "$T/a")
rc=0
"$SLUICE" mock --listen "$busy" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" != 0 ] && grep -q 'cannot listen' "$T/err" || fail "busy port: exit $rc, $(cat "$T/err")"
echo "PASS mock_signals"
