# sluice mock --limiter KIND over a real socket: each kind's refusals and the wait its 429
# gives (retry-after, retry-after-ms, and gemini's RetryInfo retryDelay), the rate headers,
# --retry-after S, a token bucket, and the option combinations that are refused.
# Rates are low (one a second and less) so that a loaded machine's slowness between
# back-to-back requests cannot refill anything.
. "$SRCDIR/tests/e2e/lib/common.sh"

start_mock --limiter gcra --rpm 60 --burst 2
GCRA=$MOCK_URL
start_mock --limiter bucket --rpm 60 --burst 3
BUCKET=$MOCK_URL
start_mock --limiter fixed --rpm 60 --window 2
FIXED=$MOCK_URL
start_mock --limiter sliding --rpm 120 --window 1
SLIDING=$MOCK_URL
start_mock --limiter per-second --rpm 180
PERSEC=$MOCK_URL
start_mock --limiter bucket --rpm 60 --burst 1 --provider gemini
GEMINI=$MOCK_URL/v1beta/openai # Gemini's base URL: its mock serves only its own paths
start_mock --limiter bucket --rpm 60 --retry-after 5
FIXED_HINT=$MOCK_URL
start_mock --limiter fixed --rpm 2 --window 30 --retry-after 3 --provider gemini
GEMINI_HINT=$MOCK_URL/v1beta/openai
start_mock --limiter bucket --tpm 6000 --token-burst 40
TOKENS=$MOCK_URL
start_mock --limiter sliding --rpm 60 --window 2 --no-rate-headers
QUIET=$MOCK_URL

timeout 60 python3 - "$GCRA" "$BUCKET" "$FIXED" "$SLIDING" "$PERSEC" "$GEMINI" "$FIXED_HINT" \
    "$GEMINI_HINT" "$TOKENS" "$QUIET" <<'PY' || fail "limiter kinds (above)"
import http.client, json, sys, time, urllib.parse

gcra, bucket, fixed, sliding, persec, gemini, fixed_hint, gemini_hint, tokens, quiet = sys.argv[1:]
CHAT = '{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}'
bad = []


def check(ok, what):
    if not ok:
        bad.append(what)
        print("FAIL:", what, file=sys.stderr)


class Client:
    """One kept-alive connection; ask() returns (status, headers, body)."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        self.path = (u.path or "/v1") + "/chat/completions"  # the SDKs' base URL convention

    def ask(self, body=CHAT):
        self.c.request("POST", self.path, body, {"content-type": "application/json"})
        r = self.c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def ms(h):
    return int(h.get("retry-after-ms", "-1"))


def retry_delay(body):
    """gemini: the RetryInfo retryDelay of a 429's body, as ms (the body may be an array)."""
    d = json.loads(body)
    e = (d[0] if isinstance(d, list) else d).get("error", {})
    for x in e.get("details", []):
        if x.get("@type", "").endswith("google.rpc.RetryInfo"):
            return round(float(x["retryDelay"].rstrip("s")) * 1000)
    return None


def statuses(c, n):
    return [c.ask()[0] for _ in range(n)]


# gcra --burst 2 at 1/s: 3 at once, then a 429 whose exact wait (< 1 s) is honoured.
c = Client(gcra)
check(statuses(c, 3) == [200] * 3, "gcra: the burst of 3")
s, h, _ = c.ask()
check(s == 429 and h.get("retry-after") == "1" and 900 < ms(h) <= 1000,
      f"gcra: 429 with retry-after 1 and ms in (900, 1000]: {s} {h}")
time.sleep(ms(h) / 1000 + 0.03)
check(c.ask()[0] == 200, "gcra: admitted after retry-after-ms")

# bucket --burst 3 at 1/s: burst + 1 at rest with remaining 3, 2, 1, 0; refusals change
# nothing, so the first refusal's wait still holds after five more.
c = Client(bucket)
rem = []
for _ in range(4):
    s, h, _ = c.ask()
    check(s == 200, f"bucket: burst status {s}")
    rem.append(h.get("x-ratelimit-remaining-requests"))
check(rem == ["3", "2", "1", "0"], f"bucket: remaining {rem}")
s, h, _ = c.ask()
first_wait = ms(h)
check(s == 429 and h.get("retry-after") == "1" and 900 < first_wait <= 1000,
      f"bucket: 429 with retry-after 1 and ms in (900, 1000]: {s} {h}")
t0 = time.monotonic()
for _ in range(5):
    check(c.ask()[0] == 429, "bucket: still refused")
time.sleep(max(0, first_wait / 1000 - (time.monotonic() - t0)) + 0.03)
s, h, _ = c.ask()
check(s == 200, f"bucket: admitted when the first refusal said, after 5 more refusals: {s}")
check(c.ask()[0] == 429, "bucket: one per interval")

# fixed: Q = 2 per 2 s window; the wait is the window's end, and the next window has Q.
c = Client(fixed)
check(statuses(c, 2) == [200, 200], "fixed: Q = 2")
s, h, _ = c.ask()
w = ms(h)
check(s == 429 and 0 < w <= 2000 and h.get("retry-after") == str((w + 999) // 1000),
      f"fixed: 429 with the window's end: {s} {h}")
reset = h.get("x-ratelimit-reset-requests", "")
check(h.get("x-ratelimit-remaining-requests") == "0", f"fixed: remaining {h}")
check(reset.endswith("s"), f"fixed: reset {reset!r}")
time.sleep(w / 1000 + 0.03)
check(statuses(c, 3) == [200, 200, 429], "fixed: the next window")

# sliding: Q = 2 in any 1 s; the wait is until the oldest counted request leaves.
c = Client(sliding)
t0 = time.monotonic()
check(c.ask()[0] == 200, "sliding: first")
time.sleep(0.4)
check(c.ask()[0] == 200, "sliding: second")
s, h, _ = c.ask()
w, elapsed = ms(h), (time.monotonic() - t0) * 1000
check(s == 429 and 1000 - elapsed - 50 <= w <= 1000 - elapsed + 5,
      f"sliding: wait {w} for the first to leave, {elapsed:.0f} ms after it")
time.sleep(w / 1000 + 0.03)
check(c.ask()[0] == 200, "sliding: the first left")
s, h, _ = c.ask()
check(s == 429 and 250 <= ms(h) <= 420, f"sliding: then the second must leave: {s} {ms(h)}")

# per-second, 180/min: 3 in any second; the 4th waits for the second to pass.
c = Client(persec)
check(statuses(c, 3) == [200] * 3, "per-second: ceil(180/60) = 3")
s, h, _ = c.ask()
check(s == 429 and 900 < ms(h) <= 1000 and h.get("retry-after") == "1",
      f"per-second: 429 {s} {h}")
time.sleep(ms(h) / 1000 + 0.03)
check(statuses(c, 4) == [200, 200, 200, 429], "per-second: the next second")

# gemini: no retry-after header; the wait is RetryInfo's retryDelay.
c = Client(gemini)
check(statuses(c, 2) == [200, 200], "gemini bucket: burst 1 + 1")
s, h, b = c.ask()
d = retry_delay(b)
check(s == 429 and "retry-after" not in h and d is not None and 900 < d <= 1000,
      f"gemini: 429 with retryDelay in (900, 1000] ms and no header: {s} {h} {d}")

# --retry-after S: the hint says S whatever the wait, in every place it goes.
c = Client(fixed_hint)
check(statuses(c, 1) == [200], "retry-after: first")
s, h, b = c.ask()
check(s == 429 and h.get("retry-after") == "5" and ms(h) == 5000 and b"try again in 5s" in b,
      f"--retry-after 5: {s} {h} {b[:200]}")
c = Client(gemini_hint)
check(statuses(c, 1) == [200], "gemini retry-after: first")
s, h, b = c.ask()
check(s == 429 and "retry-after" not in h and retry_delay(b) == 3000,
      f"gemini --retry-after 3: {s} {h} {retry_delay(b)}")

# A token bucket: 100 tokens/s, 40 beyond the first request; each request costs 1 + 16.
c = Client(tokens)
body = '{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'
check([c.ask(body)[0] for _ in range(3)] == [200] * 3, "tokens: 0, 17, 34 of 40")
s, h, b = c.ask(body)
check(s == 429 and b'"type":"tokens"' in b and 90 <= ms(h) <= 110,
      f"tokens: 429 on tokens, 51 > 40 waits ~110 ms: {s} {h} {b[:120]}")
s, h, b = c.ask('{"model":"m","max_tokens":6000,"messages":[]}')
check(s == 429 and "retry-after" not in h and b"Request too large" in b,
      f"tokens: too large, no hint: {s} {h}")

# --no-rate-headers under a new kind: no x-ratelimit-*, no retry-after-ms; retry-after stays.
c = Client(quiet)
s, h, _ = c.ask()
check(s == 200 and not any(k.startswith("x-ratelimit") for k in h), f"quiet: 200 {s} {h}")
c.ask()
s, h, _ = c.ask()
check(s == 429 and h.get("retry-after") in ("1", "2") and "retry-after-ms" not in h
      and not any(k.startswith("x-ratelimit") for k in h), f"quiet: 429 {s} {h}")

sys.exit(1 if bad else 0)
PY

# Every refusal above is counted as rate_limited.
MOCK_URL=$BUCKET
[ "$(mock_stat '["rate_limited"]')" = 7 ] || fail "bucket: rate_limited $(mock_stat '["rate_limited"]')"

# Options that do not go together: one line on stderr, exit 2.
for args in "--limiter token-bucket" "--burst 3 --burst-s 1 --rpm 60" "--burst 3" \
    "--limiter fixed --rpm 60 --burst 1" "--limiter bucket --rpm 60 --window 5" \
    "--limiter gcra --rpm 60 --token-burst 10" "--limiter sliding --burst-s 2" \
    "--limiter bucket --rpm 2000000000000" "--retry-after -1" "--window 0"; do
    rc=0
    # shellcheck disable=SC2086
    timeout 10 "$SLUICE" mock $args >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "'$args': exit $rc, want 2"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "'$args': stderr is not one line: $(cat "$T/err")"
done
grep -q 'give one' <(timeout 10 "$SLUICE" mock --rpm 60 --burst 3 --burst-s 1 2>&1) ||
    fail "--burst with --burst-s: the message does not say to give one"
"$SLUICE" mock --help >"$T/help"
for o in --limiter --burst --token-burst --window --retry-after gcra bucket fixed sliding \
    per-second; do
    grep -q -- "$o" "$T/help" || fail "--help does not mention $o"
done
echo "PASS mock_limit_kinds"
