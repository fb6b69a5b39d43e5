#!/bin/bash
# When stderr is not a terminal, the default is a plain progress line every 10 s (no escape
# codes, no carriage returns); --no-progress prints none.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock --latency 300
python3 "$SRCDIR/tests/e2e/lib/gen.py" 170 >"$T/in.jsonl"
# 170 requests, 4 at a time, 0.3 s each: about 13 s.
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 4 \
    2>"$T/err" || fail "exit $?: $(cat "$T/err")"
python3 - "$T/err" <<'PY' || fail "plain progress: $(cat -A "$T/err")"
import re, sys
err = open(sys.argv[1]).read()
assert "\r" not in err and "\033" not in err, "terminal codes in a file"
lines = [l for l in err.split("\n") if re.match(r"^sluice: \d+/170 [\d.]+% ", l)]
assert len(lines) == 1, lines  # one at 10 s, none at 20 s
assert len(lines[0]) <= 80 + len("sluice: "), lines[0]
assert "slots " in lines[0] and "/s" in lines[0], lines[0]
PY
"$SLUICE" run "$T/in.jsonl" -o "$T/out2.jsonl" --base-url "$MOCK_URL" --provider none -c 4 \
    --no-progress 2>"$T/err2" || fail "exit $?: $(cat "$T/err2")"
grep -q "/170 " "$T/err2" && fail "--no-progress printed a progress line: $(cat "$T/err2")"
echo ok
