#!/bin/bash
# A wrong base URL is not a slow provider: while nothing has answered, a port that refuses
# connections or a host that does not resolve stops the run after --connect-grace (10 s by
# default) with the transport's words and the URL, exit 3, and every request left for
# --resume. The status line shows the last transport error meanwhile. A server that starts
# within the grace is waited for. Bounds are generous; the times are printed.
. "$SRCDIR/tests/e2e/lib/common.sh"
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
python3 "$SRCDIR/tests/e2e/lib/gen.py" 30 >"$T/in.jsonl"
# unreachable URL -> what to find in the message
check_stops() {
    local url=$1 words=$2 rc=0 t0 t1
    rm -f "$T/out.jsonl"
    t0=$(date +%s.%N)
    timeout 60 "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$url" --provider none \
        --progress 2>"$T/err" || rc=$?
    t1=$(date +%s.%N)
    echo "$url: stopped after $(python3 -c "print('%.1f' % ($t1 - $t0))") s, exit $rc"
    [ "$rc" != 124 ] || fail "$url: still running after 60 s"
    [ "$rc" = 3 ] || fail "$url: exit $rc, expected 3: $(tail -3 "$T/err")"
    grep -q "stopped: cannot reach $url .*$words" "$T/err" ||
        fail "$url: no '$words' and URL in the message: $(tail -2 "$T/err")"
    grep -q -- "--resume" "$T/err" || fail "$url: the message does not say --resume"
    tr '\r' '\n' <"$T/err" | grep -q "^.*0/30 .*error: .*$words" ||
        fail "$url: the status line does not show the error"
    [ ! -s "$T/out.jsonl" ] || fail "$url: results written: $(head -2 "$T/out.jsonl")"
}
port=$(free_port)
check_stops "http://127.0.0.1:$port" "[Rr]efused"
check_stops "http://sluice-test.invalid" "resolve"
# Everything was left for --resume: it all runs once the URL is right.
start_mock
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --resume --base-url "$MOCK_URL" --provider none \
    --no-progress 2>"$T/err" || fail "--resume: exit $?: $(tail -3 "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "--resume results"
# A server that refuses for 2 s (loading its model) and then answers, within the grace.
port=$(free_port)
rc=0
"$SLUICE" run "$T/in.jsonl" -o "$T/late.jsonl" --base-url "http://127.0.0.1:$port" \
    --provider none --no-progress --connect-grace 20 2>"$T/err" &
run_pid=$!
_PIDS="$_PIDS $run_pid"
sleep 2
timeout 600 "$SLUICE" mock --listen "127.0.0.1:$port" >"$T/late.mock" 2>&1 &
_PIDS="$_PIDS $!"
wait "$run_pid" || rc=$?
[ "$rc" = 0 ] || fail "a server late by 2 s: exit $rc: $(tail -3 "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/late.jsonl" --all-success ||
    fail "late server results"
echo ok
