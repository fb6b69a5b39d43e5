# `sluice mock --limiter bucket` against real nginx limit_req: one trace of 300 arrival times
# (bursts 2 ms apart, pauses, gaps near the 50 ms interval, irregular gaps; from a seeded
# generator)
# replayed with exact timing against nginx at rate=20r/s burst=3 nodelay in front of a mock
# with no limit, and against `sluice mock --limiter bucket --rpm 1200 --burst 3`, must get
# the same sequence of accepts and refusals. Skipped (77) without nginx.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/nginx.sh"
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 77; }

start_mock
start_limit_req "$MOCK_URL" 20r/s 3
start_mock --limiter bucket --rpm 1200 --burst 3
BUCKET_URL=$MOCK_URL

timeout 180 python3 - "$LIMIT_URL" "$BUCKET_URL" "$T/replay" <<'PY' || fail "mock and nginx disagree (above)"
import http.client, random, sys, time, urllib.parse

nginx_url, mock_url, out = sys.argv[1:]
SEED, N = 16, 300
RATE, BURST = 20000, 3000  # nginx's units: milli-requests per second, and burst * 1000
# Both servers read a ms clock when their event loop wakes: nginx the wall clock, the mock a
# monotonic one, each truncated to the ms at its own phase, and the mock sees each request
# ~0.2 ms after nginx (they are asked in turn). So the elapsed ms each computes for the same
# pair of requests may differ by 1, more when the machine stalls between the two sends. A
# request whose fate turns on 1 ms (20 milli-requests of leak) can then differ, and one
# difference changes the next request's excess too. The generator below moves every arrival
# whose fate would change within MARGIN ms of its planned elapsed time a little later, so
# that the trace stays away from those boundaries; the test still allows MAX_DIFF. For the
# margin to hold, each request must go out when planned: "back to back" is GAP_MIN = 2 ms
# apart (a round trip to both servers takes ~0.5 ms), else a burst drifts later and later
# and the request that first finds room is a matter of luck.
MARGIN, MAX_DIFF, GAP_MIN = 3, 2, 2


def excess_after(excess, elapsed_ms, fresh):
    """nginx's ngx_http_limit_req_lookup: the excess a request would leave (refused above
    BURST). A new key starts at 0; elapsed is whole ms since the last admitted request."""
    if fresh:
        return 0
    return max(0, excess - RATE * abs(elapsed_ms) // 1000 + 1000)


def generate():
    """Arrival times in ms from the start, with the model's expected accepts."""
    rnd = random.Random(SEED)
    times, expect = [], []
    t, excess, last, fresh = 0, 0, 0, True
    while len(times) < N:
        kind = rnd.choices(["burst", "pause", "interval", "irregular"], [3, 1, 3, 3])[0]
        if kind == "burst":
            gaps = [GAP_MIN] * rnd.randint(3, 8)
        elif kind == "pause":
            gaps = [rnd.randint(300, 1200)]
        elif kind == "interval":
            gaps = [rnd.randint(44, 56) for _ in range(rnd.randint(8, 20))]
        else:
            gaps = [rnd.randint(GAP_MIN, 120) for _ in range(rnd.randint(5, 15))]
        for g in gaps:
            if len(times) == N:
                break
            t += g
            while not fresh:
                e = t - last
                lo = excess_after(excess, max(0, e - MARGIN), False) <= BURST
                hi = excess_after(excess, e + MARGIN, False) <= BURST
                if lo == hi:
                    break
                t += 1  # on a boundary: a little later
            x = excess_after(excess, t - last, fresh)
            ok = x <= BURST
            if ok:
                excess, last, fresh = x, t, False
            times.append(t)
            expect.append(ok)
    return times, expect


class Client:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)

    def ask(self):
        self.c.request("POST", "/v1/chat/completions",
                       '{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}',
                       {"content-type": "application/json"})
        r = self.c.getresponse()
        r.read()
        if r.status not in (200, 429):
            raise SystemExit(f"unexpected status {r.status}")
        return r.status == 200


times, expect = generate()
print(f"trace: seed {SEED}, {N} requests over {times[-1] / 1000:.1f} s, "
      f"the model refuses {expect.count(False)}")
nginx, mock = Client(nginx_url), Client(mock_url)
got_nginx, got_mock, sent = [], [], []
start = time.monotonic() + 0.2
for t in times:
    due = start + t / 1000
    while True:  # sleep to within 2 ms, then spin: the timing is the test
        left = due - time.monotonic()
        if left <= 0:
            break
        if left > 0.002:
            time.sleep(left - 0.002)
    sent.append((time.monotonic() - start) * 1000)
    got_nginx.append(nginx.ask())
    got_mock.append(mock.ask())

late = max(s - t for s, t in zip(sent, times))
diff = [i for i in range(N) if got_nginx[i] != got_mock[i]]
with open(out, "w") as f:
    for i in range(N):
        f.write(f"{i} {times[i]} {sent[i]:.2f} {int(expect[i])} {int(got_nginx[i])} "
                f"{int(got_mock[i])}\n")
print(f"nginx refused {got_nginx.count(False)}, the mock {got_mock.count(False)}; "
      f"{len(diff)} differ; nginx vs the model: "
      f"{sum(a != b for a, b in zip(got_nginx, expect))} differ; latest send {late:.1f} ms")
if diff:
    i = diff[0]
    lo = max(0, i - 5)
    print(f"first difference at request {i} (planned {times[i]} ms, sent {sent[i]:.2f} ms): "
          f"nginx {'200' if got_nginx[i] else '429'}, mock {'200' if got_mock[i] else '429'}")
    for j in range(lo, min(N, i + 3)):
        print(f"  #{j} planned {times[j]} sent {sent[j]:.2f} model {int(expect[j])} "
              f"nginx {int(got_nginx[j])} mock {int(got_mock[j])}")
if got_nginx.count(False) < 30 or got_nginx.count(True) < 100:
    raise SystemExit("the trace did not press on the limit: nothing is compared")
# A machine that stalls (ASan, parallel tests) sends some requests late, and each can meet the
# two servers a different ms apart: each such request may differ, on top of MAX_DIFF. On time,
# a wrong model (another burst) differs by a dozen or more.
stalled = sum(1 for s, t in zip(sent, times) if s - t > 3)
allowed = MAX_DIFF + stalled
if len(diff) > allowed:
    raise SystemExit(f"{len(diff)} differences, at most {allowed} allowed "
                     f"({MAX_DIFF} + {stalled} sent more than 3 ms late)")
PY
echo "PASS mock_vs_nginx"
