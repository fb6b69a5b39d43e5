# sluice mock: each fault at rate 1 (fail, reset, hang, slow, bad_json), --seed, latency,
# and the outage switch.
. "$SRCDIR/tests/e2e/lib/common.sh"

. "$SRCDIR/tests/e2e/lib/http.sh"

CHAT='{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}'

# fail: only 500, 502 and 503, with OpenAI error bodies, and a mix of them.
start_mock --fail-rate 1
codes=""
for i in $(seq 1 12); do
    code=$(post /v1/chat/completions "$CHAT")
    codes="$codes $code"
    check 'd["error"]["type"] == "server_error"' 'len(d["error"]["message"]) > 0'
    [ -n "$(header x-request-id)" ] || fail "fail: no x-request-id"
done
for c in $codes; do [[ "$c" =~ ^50[023]$ ]] || fail "fail: status $c in:$codes"; done
[ "$(tr ' ' '\n' <<<"$codes" | sort -u | grep -c .)" -ge 2 ] || fail "fail: no mix:$codes"
curl -s "$MOCK_URL/mock/stats" >"$T/b"
check 'd["faults"]["fail"] == 12' 'd["requests"] == 12' 'd["tokens"]["prompt"] == 0' \
    'sum(d["status"].values()) == 12'

# --seed: the same seed replays the same sequence of faults; another seed does not.
# (Not in a $(...) subshell: start_mock must record the PID in this shell for cleanup.)
seq_of() {
    start_mock --fail-rate 0.5 --seed "$1"
    local i
    SEQ=""
    for i in $(seq 1 24); do SEQ="$SEQ$(post /v1/embeddings '{"input":"x"}')"; done
    kill "$MOCK_PID"
}
seq_of 7
a=$SEQ
seq_of 7
b=$SEQ
seq_of 8
c=$SEQ
[ "$a" = "$b" ] || fail "seed 7 twice: $a vs $b"
[ "$a" != "$c" ] || fail "seeds 7 and 8 gave the same sequence: $a"
[[ "$a" == *200* && "$a" =~ 50[023] ]] || fail "fail-rate 0.5 gave no mix: $a"

# reset: headers with a Content-Length, part of the body, then the connection closes.
start_mock --reset-rate 1
rc=0
curl -s -o "$T/b" -D "$T/h" "$MOCK_URL/v1/chat/completions" -d "$CHAT" || rc=$?
[ "$rc" = 18 ] || fail "reset: curl exit $rc, want 18 (partial transfer)"
grep -q '^HTTP/1.1 200' "$T/h" || fail "reset: no status line"
len=$(header content-length)
got=$(wc -c <"$T/b")
[ -n "$len" ] && [ "$got" -gt 0 ] && [ "$got" -lt "$len" ] || fail "reset: got $got of '$len' bytes"

# bad_json: a 200 whose body is truncated JSON, with a Content-Length that matches it.
start_mock --bad-json-rate 1
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 200 ] || fail "bad_json: status $code"
[ "$(header content-length)" = "$(wc -c <"$T/b")" ] || fail "bad_json: content-length mismatch"
check 'd is None' 'raw.startswith(b"{\"id\":")'

# hang: never answered; the client gives up and the mock lets the connection go.
start_mock --hang-rate 1
rc=0
curl -s -o /dev/null --max-time 1 "$MOCK_URL/v1/chat/completions" -d "$CHAT" || rc=$?
[ "$rc" = 28 ] || fail "hang: curl exit $rc, want 28 (timeout)"
curl -s "$MOCK_URL/mock/stats" >"$T/b"
check 'd["faults"]["hang"] == 1' 'd["in_flight"] == 0' 'd["status"] == {}' \
    'd["max_concurrency"] == 1'

# slow: at least 1 s when the latency is 0.
start_mock --slow-rate 1
s=$(curl -s -o "$T/b" -w '%{http_code} %{time_total}' "$MOCK_URL/v1/chat/completions" -d "$CHAT")
[ "${s% *}" = 200 ] || fail "slow: status ${s% *}"
awk -v t="${s#* }" 'BEGIN { exit !(t >= 1.0 && t < 5) }' || fail "slow: took ${s#* } s"
check 'd["object"] == "chat.completion"'

# latency and ms-per-token: 300 ms + 100 ms per completion token.
start_mock --latency 300 --ms-per-token 100
s=$(curl -s -o "$T/b" -w '%{time_total}' "$MOCK_URL/v1/chat/completions" -d "$CHAT")
n=$(grep -o '"completion_tokens":[0-9]*' "$T/b" | cut -d: -f2)
awk -v t="$s" -v n="$n" 'BEGIN { want = 0.3 + 0.1 * n; exit !(t >= want && t < want + 1) }' ||
    fail "latency: took $s s for $n tokens"

# outage: every /v1 request gets a 503 for N seconds, then the mock recovers.
start_mock
curl -s -o "$T/b" -X POST "$MOCK_URL/mock/outage?seconds=1"
check 'd == {"outage_s": 1}'
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$MOCK_URL/mock/outage?seconds=x")
[ "$code" = 400 ] || fail "outage with a bad seconds: status $code"
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 503 ] || fail "outage: status $code"
check 'd["error"]["type"] == "server_error"'
code=$(post /v1/anything '{}')
[ "$code" = 503 ] || fail "outage: /v1/anything status $code"
sleep 1.1
code=$(post /v1/chat/completions "$CHAT")
[ "$code" = 200 ] || fail "after the outage: status $code"
curl -s "$MOCK_URL/mock/stats" >"$T/b"
check 'd["faults"]["outage"] == 2' 'd["status"] == {"503": 2, "200": 1}' 'd["requests"] == 3'

run_checks
echo "PASS mock_faults"
