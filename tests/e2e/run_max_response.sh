#!/bin/bash
# --max-response-bytes (issue 17, item 21): an answer larger than the cap fails its request at
# once as response_too_large (its status kept, no body, never retried) while the other lines
# succeed; so does a text body whose escapes take more than the cap in the result line. Through
# the fast path and through curl, with the length announced or not; and a 200 MB answer
# streaming past a 4 MiB cap leaves the process small.
. "$SRCDIR/tests/e2e/lib/common.sh"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 10 |
    sed -e 's/about item 3\./BIG/' -e 's/about item 7\./BIG/' >"$T/in.jsonl"

# check OUT WHY: req-3 and req-7 failed as response_too_large (WHY in the message), the rest
# succeeded, and the server saw each request once.
check() {
    python3 - "$1" "$2" <<'PY' || fail "$1: results"
import json, sys
out, why = sys.argv[1], sys.argv[2]
seen = set()
for line in open(out):
    r = json.loads(line)
    seen.add(r["custom_id"])
    if r["custom_id"] in ("req-3", "req-7"):
        e = r["error"]
        assert e and e["code"] == "response_too_large", r
        assert "--max-response-bytes" in e["message"] and why in e["message"], e
        assert r["response"]["status_code"] == 200 and r["response"]["body"] is None, r
    else:
        assert r["error"] is None, r
assert seen == {"req-%d" % i for i in range(1, 11)}, seen
PY
    read -r _ sent <"$H1_STATS"
    [ "$sent" = 10 ] || fail "$1: the server saw $sent requests for 10 lines (retried?)"
}

run() { # run NAME [args...]: sluice against $H1_URL, which must exit 1
    local name=$1 rc=0
    shift
    "$SLUICE" run "$T/in.jsonl" -o "$T/$name.jsonl" --base-url "$H1_URL" --provider none -c 4 \
        --backoff-base 0.01 --no-progress "$@" 2>"$T/$name.err" || rc=$?
    [ $rc = 1 ] || fail "$name: exit $rc, not 1: $(cat "$T/$name.err")"
    grep -q "response_too_large 2" "$T/$name.err" || fail "$name: summary: $(cat "$T/$name.err")"
}

for http in fast curl; do
    export SLUICE_HTTP=$([ $http = curl ] && echo curl || echo)
    # The length is announced: refused before the body is read.
    start_h1 big:300000
    run "len-$http" --max-response-bytes 100K
    check "$T/len-$http.jsonl" "102400 bytes"
    # No length, the answer ends with the connection: refused once 100 KiB have come.
    start_h1 big:300000:close
    run "close-$http" --max-response-bytes 100K
    check "$T/close-$http.jsonl" "102400 bytes"
done
unset SLUICE_HTTP

# 40,000 control bytes take about 216,000 escaped; 10,000 of them fit.
start_h1 bigtext:40000
run text --max-response-bytes 100k
check "$T/text.jsonl" "escaped"
start_h1 bigtext:10000
"$SLUICE" run "$T/in.jsonl" -o "$T/text-ok.jsonl" --base-url "$H1_URL" --provider none \
    --max-response-bytes 100k --no-progress 2>"$T/err" || fail "text-ok: exit $?: $(cat "$T/err")"
python3 - "$T/text-ok.jsonl" <<'PY' || fail "text-ok: results"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["error"] is None, r
    if r["custom_id"] in ("req-3", "req-7"):
        assert r["response"]["body"] == (bytes(range(32)) * 313)[:10000].decode(), r
PY

# Bad values are refused before anything is sent.
for bad in 0 12Q -5 x; do
    rc=0
    "$SLUICE" run "$T/in.jsonl" -o "$T/bad.jsonl" --max-response-bytes "$bad" 2>"$T/err" || rc=$?
    [ $rc = 2 ] && grep -q -- "--max-response-bytes expects a size" "$T/err" ||
        fail "--max-response-bytes $bad: exit $rc: $(cat "$T/err")"
done

# A 200 MB answer streaming past a 4 MiB cap: the process stays small (it held all of it,
# three times over, before the cap).
start_h1 big:200000000:close
python3 - "$SLUICE" "$T/in.jsonl" "$T/rss.jsonl" "$H1_URL" <<'PY' || fail "memory"
import resource, subprocess, sys
sluice, inp, out, url = sys.argv[1:]
rc = subprocess.call([sluice, "run", inp, "-o", out, "--base-url", url, "--provider", "none",
                      "-c", "1", "--max-response-bytes", "4M", "--no-progress"],
                     stderr=subprocess.DEVNULL)
mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("peak RSS %.0f MB" % mb)
assert rc == 1, rc
assert mb < 150, "peak RSS %.0f MB for a 4 MiB cap" % mb
PY
echo "ok: response_too_large through both clients, with and without a length; text by its escapes"
