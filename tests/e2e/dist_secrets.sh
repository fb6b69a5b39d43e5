#!/bin/bash
# Issue 17.22: credentials never reach Redis, and a worker sends its key only where it was told.
# (1) A run with -H 'Authorization: ...' and a --secret-header: nothing of either is stored in,
#     or even sent to, Redis (every key's value, the AOF and MONITOR are searched), nor shown by
#     `sluice job status`; the mock did receive the header.
# (2) The job's base URL rewritten in Redis to a recording server: a worker with an API key
#     refuses the job (exit 2, saying how to allow it) and the server receives nothing; with
#     --allow-origin it goes there, with its own key and the job's other headers.
# (3) A job-mismatch message shows the headers that differ, never a credential; a worker that
#     gives only its own credential header is not a mismatch.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
start_redis
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
SECRETS=(SECRET-H22 TEAMSECRET-22 RUNKEY-22 WORKERKEY-22 OTHER-22 OWN-22 HDRKEY-22)

# Everything that goes to Redis from here on, as the server received it.
(exec timeout 300 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" monitor >"$T/monitor" 2>/dev/null) &
_PIDS="$_PIDS $!"
sleep 0.2

# ---- (1) ----
"$SLUICE" run "$T/in.jsonl" -o "$T/s1.jsonl" --redis "$REDIS_URL" --job s1 --base-url "$MOCK_URL" \
    --provider none -H 'Authorization: Bearer SECRET-H22' -H 'X-Team: blue' \
    -H 'X-Team-Token: TEAMSECRET-22' --secret-header x-team-token --no-progress 2>"$T/s1.err" ||
    fail "run s1: exit $?: $(cat "$T/s1.err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/s1.jsonl" --all-success ||
    fail "s1 results"
[ "$(mock_stat "['auth']['bearer']")" -ge 20 ] || fail "the mock did not get the Authorization header"
[ "$(rcli hget 'sluice:job:{s1}:meta' s:headers)" = "X-Team: blue" ] ||
    fail "the job's stored headers: $(rcli hget 'sluice:job:{s1}:meta' s:headers)"
"$SLUICE" job status --redis "$REDIS_URL" --job s1 >"$T/s1.status" 2>&1 || fail "job status: exit $?"
"$SLUICE" job status --redis "$REDIS_URL" --job s1 --json >"$T/s1.status.json" 2>&1 ||
    fail "job status --json: exit $?"

# ---- (3) ----
# A run of the same job with other headers: told which, with no credential in the message.
rc=0
timeout 20 "$SLUICE" run "$T/in.jsonl" -o "$T/s1.jsonl" --redis "$REDIS_URL" --job s1 \
    --base-url "$MOCK_URL" --provider none -H 'Authorization: Bearer OTHER-22' -H 'X-Team: red' \
    --no-progress 2>"$T/mismatch.err" || rc=$?
[ "$rc" = 2 ] || fail "mismatched headers: exit $rc: $(cat "$T/mismatch.err")"
grep -q "created with -H 'X-Team: blue', this run says 'X-Team: red'" "$T/mismatch.err" ||
    fail "the mismatch message: $(cat "$T/mismatch.err")"
# A worker that gives only its own credential adopts the job's other headers: no mismatch.
rc=0
timeout 20 "$SLUICE" work --redis "$REDIS_URL" --job s1 --base-url "$MOCK_URL" \
    -H 'Authorization: Bearer OWN-22' --no-progress 2>"$T/own.err" || rc=$?
[ "$rc" = 0 ] || fail "a worker with its own Authorization: exit $rc: $(cat "$T/own.err")"

# ---- (2) ----
# A recording server: answers every request as the API would, and logs its headers.
cat >"$T/rec.py" <<'PY'
import http.server, json, sys
log, portfile = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(log, "a") as f:
            f.write("%s %s\n" % (self.path, json.dumps(dict(self.headers.items()))))
        body = json.dumps({"id": "x", "object": "chat.completion", "choices": [{"index": 0,
                "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
: >"$T/rec.log"
timeout 120 python3 "$T/rec.py" "$T/rec.log" "$T/rec.port" &
_PIDS="$_PIDS $!"
for _ in $(seq 1 100); do
    [ -s "$T/rec.port" ] && break
    sleep 0.05
done
[ -s "$T/rec.port" ] || fail "the recording server did not start"
REC_URL="http://127.0.0.1:$(cat "$T/rec.port")"

# A job with work left: its run (one request at a time, each taking 2 s) is killed once every
# line is fed, so most lines wait in Redis for another worker.
python3 "$SRCDIR/tests/e2e/lib/gen.py" 300 >"$T/in2.jsonl"
start_mock --latency 2000
(OPENAI_API_KEY=RUNKEY-22 exec timeout 60 "$SLUICE" run "$T/in2.jsonl" -o "$T/s2.jsonl" \
    --redis "$REDIS_URL" --job s2 --base-url "$MOCK_URL" -c 1 -H 'X-Team: blue' \
    --no-progress 2>"$T/s2.err") &
_PIDS="$_PIDS $!"
s2t=$!
s2=$(child_of "$s2t") # the run itself: a SIGKILL does not pass through timeout
for _ in $(seq 1 100); do
    [ "$(rcli hexists 'sluice:job:{s2}:meta' total)" = 1 ] && break
    sleep 0.1
done
[ "$(rcli hexists 'sluice:job:{s2}:meta' total)" = 1 ] || fail "job s2 was not fed: $(cat "$T/s2.err")"
kill -9 "$s2"
wait "$s2t" 2>/dev/null || true
# Whoever can write the job's hash points it at their server.
rcli hset 'sluice:job:{s2}:meta' s:base_url "$REC_URL" >/dev/null

rc=0
OPENAI_API_KEY=WORKERKEY-22 timeout 20 "$SLUICE" work --redis "$REDIS_URL" --job s2 -c 4 \
    --no-progress >"$T/w1.out" 2>"$T/w1.err" || rc=$?
cat "$T/w1.err" >&2
[ "$rc" = 2 ] || fail "a worker with a key went on with a job on another origin: exit $rc"
grep -q -- "--allow-origin $REC_URL" "$T/w1.err" || fail "the refusal does not say how to allow it"
[ ! -s "$T/rec.log" ] || fail "the recording server got: $(cat "$T/rec.log")"
# A credential header of the worker's own counts as a key.
rc=0
timeout 20 "$SLUICE" work --redis "$REDIS_URL" --job s2 -H 'x-api-key: HDRKEY-22' --no-progress \
    2>"$T/w2.err" || rc=$?
[ "$rc" = 2 ] || fail "a worker with a credential header: exit $rc: $(cat "$T/w2.err")"
grep -q -- "--allow-origin" "$T/w2.err" || fail "w2: $(cat "$T/w2.err")"
[ ! -s "$T/rec.log" ] || fail "the recording server got: $(cat "$T/rec.log")"

# Told to trust that origin, the worker goes there with its own key and the job's headers.
(OPENAI_API_KEY=WORKERKEY-22 exec timeout 60 "$SLUICE" work --redis "$REDIS_URL" --job s2 -c 4 \
    --allow-origin "$REC_URL" --no-progress >/dev/null 2>"$T/w3.err") &
w3=$!
_PIDS="$_PIDS $w3"
for _ in $(seq 1 100); do
    [ -s "$T/rec.log" ] && break
    sleep 0.1
done
kill "$w3" 2>/dev/null || true
wait "$w3" 2>/dev/null || true
[ -s "$T/rec.log" ] || fail "--allow-origin: nothing reached the server: $(cat "$T/w3.err")"
python3 - "$T/rec.log" <<'PY' || fail "--allow-origin: the requests' headers: $(head -n2 "$T/rec.log")"
import json, sys
for line in open(sys.argv[1]):
    h = {k.lower(): v for k, v in json.loads(line.split(" ", 1)[1]).items()}
    assert h.get("authorization") == "Bearer WORKERKEY-22", h
    assert h.get("x-team") == "blue", h
PY

# ---- nothing of any credential in Redis, in what it received, or in what sluice wrote ----
: >"$T/redis.dump"
while IFS= read -r k; do
    case "$(rcli type "$k")" in
    string) rcli --raw get "$k" ;;
    hash) rcli --raw hgetall "$k" ;;
    set) rcli --raw smembers "$k" ;;
    zset) rcli --raw zrange "$k" 0 -1 withscores ;;
    list) rcli --raw lrange "$k" 0 -1 ;;
    stream) rcli --raw xrange "$k" - + ;;
    esac >>"$T/redis.dump"
    echo "$k" >>"$T/redis.dump"
done < <(rcli --scan)
grep -q "sluice:job:{s1}:meta" "$T/redis.dump" || fail "the dump misses the job's settings"
grep -q "X-Team: blue" "$T/redis.dump" || fail "the dump misses the job's headers"
for s in "${SECRETS[@]}"; do
    for f in "$T/redis.dump" "$T/monitor" "$T/s1.status" "$T/s1.status.json" "$T"/*.err "$T"/*.jsonl; do
        ! grep -qa -- "$s" "$f" || fail "$s is in $f: $(grep -a -- "$s" "$f" | head -c 300)"
    done
    ! grep -rqa -- "$s" "$REDIS_DIR" || fail "$s is in Redis's files: $(grep -rla -- "$s" "$REDIS_DIR")"
done
grep -q "X-Team: blue" "$T/monitor" || fail "MONITOR saw nothing of the job's settings"
echo "ok"
