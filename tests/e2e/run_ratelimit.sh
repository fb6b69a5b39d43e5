#!/bin/bash
# Learned limits: not told any budget, sluice paces to the mock's x-ratelimit-* headers, or
# learns the rate from 429s alone when there are none, and collects almost no 429s either way.
# (Wall time against the floor is bench/ratelimit.sh's job; tests do not time.)
. "$SRCDIR/tests/e2e/lib/common.sh"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 600 >"$T/in.jsonl"
check() { # name, max 429s, expected rate source, then mock options
    local name=$1 max429=$2 source=$3
    shift 3
    start_mock --latency 20 --rpm 6000 "$@"
    "$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --overwrite --base-url "$MOCK_URL" \
        --provider none -c 64 --no-progress --stats-json "$T/stats.json" 2>"$T/err" || fail "$name: exit $?: $(cat "$T/err")"
    python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.jsonl" --all-success ||
        fail "$name: results"
    python3 - "$T/stats.json" "$max429" "$source" "$(mock_stat "['rate_limited']")" <<'PY' || fail "$name"
import json, sys
s = json.load(open(sys.argv[1]))
max429, source, mock429 = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
assert s["rate_limited"] == mock429, (s["rate_limited"], mock429)
assert s["rate_limited"] <= max429, "%d 429s, at most %d expected" % (s["rate_limited"], max429)
assert s["limits"]["rate_source"] == source, s["limits"]
# The rate when the run ends: a probe above the limit may be under way (it grows faster the
# longer nothing is refused, and a loaded machine delays the refusal that ends it).
assert 0 < s["limits"]["rpm"] <= 6000 * 1.3, s["limits"]
PY
    echo "$name: $(mock_stat "['rate_limited']") 429s"
}
check "headers" 6 headers
check "anthropic headers" 6 headers --provider anthropic
check "429s only" 60 learned --no-rate-headers
# The same without pacing would collect hundreds: show the mock does refuse a blind client.
start_mock --latency 20 --rpm 6000 --no-rate-headers
python3 - "$MOCK_URL" <<'PY' || fail "the mock did not refuse a burst"
import sys, urllib.request, urllib.error, concurrent.futures as cf
url = sys.argv[1] + "/v1/chat/completions"
def post(_):
    try:
        urllib.request.urlopen(urllib.request.Request(url, b'{"model":"m"}', {"Content-Type": "application/json"}))
        return 200
    except urllib.error.HTTPError as e:
        return e.code
with cf.ThreadPoolExecutor(32) as ex:
    codes = list(ex.map(post, range(300)))
assert codes.count(429) > 50, codes.count(429)
PY
echo ok
