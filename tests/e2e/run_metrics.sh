#!/bin/bash
# --metrics serves valid Prometheus text (0.0.4) during the run: HELP/TYPE lines, samples
# `name{labels} value`, a cumulative latency histogram ending in le="+Inf" equal to _count;
# counters only grow; other paths get 404; and the server does not keep the run alive.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 100 --fail-rate 0.1 --seed 4
python3 "$SRCDIR/tests/e2e/lib/gen.py" 120 >"$T/in.jsonl"
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 4 \
    --backoff-base 0.05 --metrics 127.0.0.1:0 --no-progress 2>"$T/err" &
RUN_PID=$!
_PIDS="$_PIDS $RUN_PID"
metrics_url "$T/err"
URL=$METRICS_URL
for i in 1 2 3; do
    sleep 0.7
    curl -s -D "$T/head.$i" "$URL" >"$T/scrape.$i" || fail "scrape $i failed"
done
kill -0 "$RUN_PID" 2>/dev/null || fail "the run ended before the scrapes; make it slower"
code=$(curl -s -o /dev/null -w '%{http_code}' "${URL%/metrics}/other")
[ "$code" = 404 ] || fail "GET /other: $code"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/head.1" || fail "content type: $(cat "$T/head.1")"

cat >"$T/promcheck.py" <<'PY'
"""A small validator of the Prometheus text format 0.0.4; prints the samples as JSON."""
import json, math, re, sys
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*,?)?\})? (\S+)( -?\d+)?$" % (NAME, LABEL, LABEL))
def check(text):
    assert text.endswith("\n"), "no final newline"
    types, helps, samples = {}, set(), []
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert re.fullmatch(NAME, name) and name not in helps, line
            helps.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, ("TYPE twice", line)
            assert not any(s[0] == name or s[0].startswith(name + "_") for s in samples), \
                ("TYPE after its samples", line)
            types[name] = typ
        else:
            assert not line.startswith("#") and line, ("bad line", line)
            m = SAMPLE.match(line)
            assert m, ("not name{labels} value", line)
            v = float(m.group(3))  # also accepts +Inf, NaN
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            samples.append((m.group(1), labels, v))
    for name, labels, v in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or base in types, ("sample without TYPE", name)
        if types.get(name) == "counter" or (types.get(name) is None and types.get(base) == "histogram"):
            assert v >= 0 and not math.isnan(v), (name, v)
    for h in [n for n, t in types.items() if t == "histogram"]:
        b = [(s[1]["le"], s[2]) for s in samples if s[0] == h + "_bucket"]
        assert b and b[-1][0] == "+Inf", (h, "last bucket is not +Inf")
        les = [float(le) for le, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), (h, les)
        counts = [c for _, c in b]
        assert all(x <= y for x, y in zip(counts, counts[1:])), (h, "not cumulative", counts)
        cnt = [s[2] for s in samples if s[0] == h + "_count"]
        assert len(cnt) == 1 and cnt[0] == counts[-1], (h, "+Inf != _count")
        assert len([s for s in samples if s[0] == h + "_sum"]) == 1, (h, "_sum")
    return {(n + json.dumps(l, sort_keys=True) if l else n): v for n, l, v in samples}
out = [check(open(p).read()) for p in sys.argv[1:]]
json.dump(out, sys.stdout)
PY
# The validator must reject what is wrong, or it proves nothing.
printf '# TYPE x histogram\nx_bucket{le="1"} 2\nx_bucket{le="+Inf"} 1\nx_count 1\nx_sum 0\n' >"$T/bad1"
printf '# TYPE x counter\nx 1 2 3\n' >"$T/bad2"
for b in bad1 bad2; do
    python3 "$T/promcheck.py" "$T/$b" >/dev/null 2>&1 && fail "the validator accepts $b"
done
python3 "$T/promcheck.py" "$T"/scrape.1 "$T"/scrape.2 "$T"/scrape.3 >"$T/samples.json" ||
    fail "invalid Prometheus text: $(cat "$T/scrape.1")"
python3 - "$T/samples.json" <<'PY' || fail "metrics content: $(cat "$T/scrape.3")"
import json, sys
a, b, c = json.load(open(sys.argv[1]))
for k in ('sluice_requests_total{"outcome": "succeeded"}', "sluice_attempts_total",
          "sluice_retries_total", "sluice_rate_limited_total", 'sluice_tokens_total{"kind": "prompt"}',
          'sluice_tokens_total{"kind": "completion"}', "sluice_cost_usd_total", "sluice_in_flight",
          "sluice_slots", "sluice_rpm_limit", "sluice_attempt_duration_seconds_count"):
    assert k in c, k
for k, v in a.items():
    if k.endswith("_total") or "_total{" in k or "_bucket" in k or k.endswith("_count"):
        assert b[k] >= v and c[k] >= b[k], ("counter went down", k)
assert 0 < c['sluice_requests_total{"outcome": "succeeded"}'] < 120, "not scraped mid-run"
assert c["sluice_attempt_duration_seconds_count"] > a["sluice_attempt_duration_seconds_count"]
assert c["sluice_slots"] == 4 and 0 <= c["sluice_in_flight"] <= 4
assert c["sluice_cost_usd_total"] > 0
# Attempts take about 100 ms: most fall in the (0.1, 0.25] bucket.
assert c['sluice_attempt_duration_seconds_bucket{"le": "0.05"}'] < c['sluice_attempt_duration_seconds_bucket{"le": "0.25"}']
PY
# The run ends by itself, with the server still listening.
for i in $(seq 1 200); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$RUN_PID" 2>/dev/null && fail "the run did not end: the metrics server keeps it alive"
wait "$RUN_PID" || fail "run exit $?: $(cat "$T/err")"
echo ok
