#!/bin/bash
# What the run says about time. The latency percentiles count every attempt, those that timed
# out included (they were left out: a run with 3 s stalls reported a p99 of 27 ms). The status
# line's rate is in req/s and is not 0 while results come in during the first second.
. "$SRCDIR/tests/e2e/lib/common.sh"
# A fifth of the attempts hang until --timeout 1 s; each is tried again and then answers.
start_mock --hang-rate 0.2 --seed 7
python3 "$SRCDIR/tests/e2e/lib/gen.py" 100 >"$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 32 \
    --timeout 1 --backoff-base 0.05 --no-progress --stats-json "$T/stats.json" 2>"$T/err" ||
    fail "exit $?: $(tail -3 "$T/err")"
python3 - "$T/stats.json" <<'PY' || fail "latency: $(cat "$T/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
lat, timeouts = s["latency_ms"], s["attempts"] - s["total"]
print("attempts %d (%d timed out): p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms"
      % (s["attempts"], timeouts, lat["p50"], lat["p90"], lat["p99"], lat["max"]))
assert timeouts >= 5, "too few timeouts to tell"
assert lat["p99"] >= 900 and lat["max"] >= 900, "timed-out attempts are not counted"
assert lat["p50"] < 500, "most attempts answered at once"
PY
# 400 answers of 50 ms, 8 at a time: about 160 a second for 2.5 s, drawn every 100 ms.
start_mock --latency 50
python3 "$SRCDIR/tests/e2e/lib/gen.py" 400 >"$T/in2.jsonl"
"$SLUICE" run "$T/in2.jsonl" -o "$T/out2.jsonl" --base-url "$MOCK_URL" --provider none -c 8 \
    --progress 2>"$T/err2" || fail "exit $?: $(tail -3 "$T/err2")"
python3 - "$T/err2" <<'PY' || fail "status lines"
import re, sys
text = open(sys.argv[1], newline="").read().replace("\033[K", "")
lines = [l for l in text.split("\r") if re.match(r"^\d+/400 ", l)]
assert lines, "no status line"
print("first status lines: %s" % [l.split("  slots")[0] for l in lines[:3]])
for l in lines:
    m = re.match(r"^(\d+)/400 [\d.]+%  ([\d.]+[kMG]?) req/s  ", l)
    assert m, ("no 'N req/s' rate after done/total", l)
    done, rate = int(m.group(1)), m.group(2)
    assert done == 0 or rate not in ("0", "0.0"), ("results came in, but the rate is 0", l)
PY
echo ok
