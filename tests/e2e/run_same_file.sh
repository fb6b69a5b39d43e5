#!/bin/bash
# Issue 17.1: a file the run writes must not be one it reads or another one it writes. OUTPUT
# naming INPUT (the same name, ./name, a hard link, a symlink, or stdin redirected from it),
# and --stats-json or --log naming INPUT or OUTPUT, are refused with exit 2 before anything is
# opened for writing: INPUT is intact and nothing is sent.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/in.jsonl"
sum=$(md5sum <"$T/in.jsonl")
ln "$T/in.jsonl" "$T/hard.jsonl"
ln -s in.jsonl "$T/sym.jsonl"
cd "$T"

refused() { # refused NAME ARGS...: exit 2, one line naming the clash, INPUT unchanged
    local name=$1 rc=0
    shift
    "$SLUICE" run "$@" --base-url "$MOCK_URL" --provider none --no-progress \
        <"$T/in.jsonl" >"$T/stdout" 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "$name: exit $rc, expected 2: $(cat "$T/err")"
    grep -q "same file\|are both" "$T/err" || fail "$name: no word of the clash: $(cat "$T/err")"
    [ "$(md5sum <"$T/in.jsonl")" = "$sum" ] || fail "$name: INPUT was changed"
}
refused "OUTPUT is INPUT" in.jsonl -o in.jsonl
grep -q "OUTPUT and INPUT are both in.jsonl" "$T/err" || fail "the message: $(cat "$T/err")"
refused "./name" in.jsonl -o ./in.jsonl
refused "absolute name" in.jsonl -o "$T/in.jsonl"
refused "hard link" in.jsonl -o hard.jsonl
grep -q "hard link" "$T/err" || fail "hard link: the message: $(cat "$T/err")"
refused "symlink" sym.jsonl -o in.jsonl
refused "stdin from OUTPUT" - -o in.jsonl
refused "--resume" in.jsonl -o in.jsonl --resume
refused "--stats-json is INPUT" in.jsonl -o out.jsonl --stats-json ./in.jsonl
refused "--log is INPUT" in.jsonl -o out.jsonl --log hard.jsonl
refused "--log is OUTPUT" in.jsonl -o out.jsonl --log out.jsonl
[ ! -e out.jsonl ] || fail "--log is OUTPUT: OUTPUT was created"
mkdir -p new
refused "--stats-json is OUTPUT, another name" in.jsonl -o new/../out.jsonl --stats-json out.jsonl
refused "--log is --stats-json" in.jsonl -o out.jsonl --stats-json s.json --log ./s.json
refused "both to stdout" in.jsonl -o - --stats-json -
refused "--dry-run --stats-json is INPUT" in.jsonl --dry-run --stats-json in.jsonl
[ "$(mock_stat "['requests']")" = 0 ] || fail "a refused run sent requests"

# Distinct files still work, and so do two names for a terminal or /dev/null.
"$SLUICE" run in.jsonl -o out.jsonl --stats-json s.json --log /dev/null --base-url "$MOCK_URL" \
    --provider none --no-progress 2>"$T/err" || fail "distinct files: exit $?: $(cat "$T/err")"
"$SLUICE" run in.jsonl -o /dev/null --log /dev/null --base-url "$MOCK_URL" --provider none \
    --no-progress 2>"$T/err" || fail "/dev/null twice: exit $?: $(cat "$T/err")"
# --dry-run only reads OUTPUT, so --resume may name any file there.
"$SLUICE" run in.jsonl --dry-run --resume -o hard.jsonl >/dev/null 2>"$T/err" ||
    fail "--dry-run --resume -o INPUT: exit $?: $(cat "$T/err")"
[ "$(md5sum <"$T/in.jsonl")" = "$sum" ] || fail "INPUT was changed"
echo ok
