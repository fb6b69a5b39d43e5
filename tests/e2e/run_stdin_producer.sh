#!/bin/bash
# A slow producer on stdin does not freeze the run: stdin is read by the loop, so while the next
# line is awaited, answers are still taken in and written. A producer writes a line every
# 200 ms; answers take 50 ms; every answer must be in OUTPUT within 100 ms of its arrival (it
# waited for the next line, about 150 ms, when stdin was read with blocking reads). The test
# watches OUTPUT as it grows; arrivals are the mock's --request-log times plus its latency.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 50 --request-log "$T/requests.log"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 12 >"$T/in.jsonl"
python3 - "$SLUICE" "$MOCK_URL" "$T" <<'PY' || fail "answers waited for the producer: $(tail -3 "$T/err")"
import json, subprocess, sys, time
sluice, url, t = sys.argv[1:]
out = t + "/out.jsonl"
lines = open(t + "/in.jsonl").readlines()
p = subprocess.Popen([sluice, "run", "-", "-o", out, "--base-url", url, "--provider", "none",
                      "--no-progress"], stdin=subprocess.PIPE, stderr=open(t + "/err", "w"))
seen = {}  # custom_id -> unix ms when its result line was first seen in OUTPUT

def look():
    now = time.time() * 1000
    try:
        data = open(out).read()
    except FileNotFoundError:
        return
    for l in data.split("\n")[:-1]:  # whole lines only
        seen.setdefault(json.loads(l)["custom_id"], now)

due = time.time()
for l in lines:
    p.stdin.write(l.encode())
    p.stdin.flush()
    due += 0.2
    while time.time() < due:
        look()
        time.sleep(0.002)
p.stdin.close()
deadline = time.time() + 20
while len(seen) < len(lines) and time.time() < deadline:
    look()
    time.sleep(0.002)
assert p.wait(timeout=20) == 0, "exit %d" % p.returncode
arrived = [int(l.split()[0]) for l in open(t + "/requests.log")]
assert len(arrived) == len(lines), (len(arrived), len(lines))
delays = []
for i, l in enumerate(lines):
    cid = json.loads(l)["custom_id"]
    assert cid in seen, ("never written", cid)
    delays.append(seen[cid] - (arrived[i] + 50))  # one request at a time, in input order
print("written after the answer: max %.0f ms, each: %s" % (max(delays), [round(d) for d in delays]))
assert max(delays) <= 100, "an answer waited more than 100 ms to be written"
PY
echo ok
