#!/bin/bash
# The live status line on a real terminal (tmux): one line, at most 80 columns, redrawn in
# place, showing done/total with the percentage, the rate, the request slots and the ETA.
. "$SRCDIR/tests/e2e/lib/common.sh"
command -v tmux >/dev/null || { echo "tmux is not installed: skipped"; exit 77; }
SOCK="sluice-test-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null || true; cleanup' EXIT
start_mock --latency 200
python3 "$SRCDIR/tests/e2e/lib/gen.py" 200 >"$T/in.jsonl"
cat >"$T/cmd.sh" <<SH
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" --provider none -c 4
echo "exit \$?" >"$T/rc"
sleep 30
SH
# Wider than 80 columns, so a line that is too long shows as too long instead of wrapping.
tmux -L "$SOCK" new-session -d -s run -x 132 -y 24 "bash $T/cmd.sh"
lines=()
for i in 1 2 3; do
    sleep 1.2
    tmux -L "$SOCK" capture-pane -p -t run >"$T/pane.$i"
done
[ ! -e "$T/rc" ] || fail "the run ended before the status line could be seen"
python3 - "$T"/pane.* <<'PY' || fail "status line: $(cat "$T"/pane.*)"
import re, sys
for path in sys.argv[1:]:
    rows = [r.rstrip() for r in open(path).read().split("\n")]
    status = [r for r in rows if "/200" in r]
    assert len(status) == 1, ("not exactly one status line", rows)
    line = status[0]
    assert len(line) <= 80, ("longer than 80 columns", len(line), line)
    m = re.match(r"^(\d+)/200 ([\d.]+)%", line)
    assert m, ("no done/total and %", line)
    done, pct = int(m.group(1)), float(m.group(2))
    assert 0 < done < 200, line
    assert abs(pct - 100.0 * done / 200) <= 0.5, line  # whole percents from 10%
    assert "slots " in line and "/4" in line, ("no request slots", line)
    assert "/s" in line, ("no rate", line)
    # Nothing else on the screen: the line is redrawn in place, not printed again.
    others = [r for r in rows if r.strip() and r != line]
    assert not others, ("other lines on the terminal", others)
last = [r for r in open(sys.argv[-1]).read().split("\n") if "/200" in r][0]
assert "ETA " in last, ("no ETA once the rate is known", last)
PY
echo ok
