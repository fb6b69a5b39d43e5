#!/bin/bash
# `make demo` on a bare Debian 12 (issue 17, item 16): scripts/demo.sh runs with PATH limited to
# what such a machine has with the build's packages (bash, coreutils, grep, sed): a call to
# curl or python3 fails here as it did there. It keeps its results where the user can open
# them, and shows the first ones with their custom_ids.
. "$SRCDIR/tests/e2e/lib/common.sh"
mkdir -p "$T/bin"
for c in bash sh cat head tail sed grep mktemp mkdir rm seq sleep timeout tr cut wc date \
    dirname basename env true false ls; do
    p=$(command -v "$c") || fail "$c is missing on this machine"
    ln -s "$p" "$T/bin/$c"
done
ln -s "$SLUICE" "$T/bin/sluice"
rc=0
DEMO_DIR="$T/demo" PATH="$T/bin" timeout 300 bash "$SRCDIR/scripts/demo.sh" "$SLUICE" \
    >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 0 ] || fail "demo: exit $rc: $(tail -5 "$T/err") $(tail -5 "$T/out")"
grep -q "command not found" "$T/err" "$T/out" && fail "a command the bare machine lacks: $(grep 'not found' "$T/err" "$T/out")"
[ -s "$T/demo/results.jsonl" ] || fail "no results kept in $T/demo"
lines=$(wc -l <"$T/demo/results.jsonl")
[ "$lines" -ge 1 ] || fail "empty results"
grep -q '"custom_id"' "$T/out" || fail "the first results are not shown: $(cat "$T/out")"
grep -q '"requests"' "$T/out" || fail "the mock's stats are not shown: $(cat "$T/out")"
echo "demo: $lines results kept; ok"
