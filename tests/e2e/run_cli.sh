#!/bin/bash
# The command line: --help lists every option with its default; bad usage exits 2 with one
# clear line; an unreadable input exits 2.
. "$SRCDIR/tests/e2e/lib/common.sh"
"$SLUICE" run --help >"$T/help" || fail "--help exit $?"
for o in --output --base-url --url --provider --api-key-env --header --concurrency --rpm --tpm \
    --max-attempts --timeout --resume --ordered --progress --no-progress --stats-json \
    --price-in --price-out --prices --max-cost --dry-run --metrics --log; do
    grep -q -- "$o" "$T/help" || fail "--help does not mention $o"
done
grep -q "default 64" "$T/help" || fail "--help does not give the concurrency default"
rc=0; "$SLUICE" run "$T/nope.jsonl" -o "$T/o" --provider none 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "unreadable input: exit $rc, expected 2"
grep -q "nope.jsonl" "$T/err" || fail "unreadable input: message does not name the file"
rc=0; "$SLUICE" run "$T/nope.jsonl" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "missing -o: exit $rc"
grep -q -- "--output" "$T/err" || fail "missing -o: message"
rc=0; "$SLUICE" run x -o y -c zero 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "bad -c: exit $rc"
rc=0; "$SLUICE" run x -o y --provider nope 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "bad --provider: exit $rc"
rc=0; "$SLUICE" run x -o y --max-cost lots 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "bad --max-cost: exit $rc"
rc=0; "$SLUICE" run "$SRCDIR/README.md" -o "$T/o" --provider none --metrics nowhere 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "HOST:PORT" "$T/err" || fail "bad --metrics: exit $rc: $(cat "$T/err")"
rc=0; "$SLUICE" frobnicate 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "unknown command: exit $rc"
"$SLUICE" version | grep -q '^sluice [0-9]' || fail "version"
echo ok
