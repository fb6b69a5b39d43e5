#!/bin/bash
# Idle connections to --metrics (issue 17, item 23): 200 of them at once hold few descriptors
# (the oldest make way) and a scrape still answers meanwhile; one that says nothing is closed
# after a few seconds; and the run, with 128 descriptors in all, completes every request.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 100
python3 "$SRCDIR/tests/e2e/lib/gen.py" 600 >"$T/in.jsonl"
(
    ulimit -n 128
    exec "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none \
        -c 4 --metrics 127.0.0.1:0 --no-progress 2>"$T/err"
) &
RUN_PID=$!
_PIDS="$_PIDS $RUN_PID"
metrics_url "$T/err"
python3 - "$METRICS_PORT" "$RUN_PID" <<'PY' || fail "metrics under idle connections"
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
def alive():
    return os.path.exists("/proc/%d" % pid)
def scrape():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data
# 200 held open: the server keeps few of them, and a scrape still answers.
held = []
for i in range(200):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError as e:
        sys.exit("connection %d: %s" % (i, e))
time.sleep(0.5)
fds = len(os.listdir("/proc/%d/fd" % pid))
print("%d descriptors with 200 idle connections" % fds)
assert fds < 64, fds
data = scrape()
assert data.startswith(b"HTTP/1.1 200") and b"sluice_requests_total" in data, data[:200]
assert alive(), "the run ended before the scrape: make it longer"
for s in held:
    s.close()
# One connection that says nothing is closed by the server, while the run goes on.
lone = socket.create_connection(("127.0.0.1", port), timeout=30)
t0 = time.time()
try:
    got = lone.recv(1)
except socket.timeout:
    sys.exit("an idle connection was still open after 30 s")
assert got == b"", got
assert alive(), "the run ended before the idle connection was closed: make it longer"
print("idle connection closed after %.1f s" % (time.time() - t0))
PY
wait "$RUN_PID" || fail "run exit $?: $(cat "$T/err")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
    fail "results"
echo ok
