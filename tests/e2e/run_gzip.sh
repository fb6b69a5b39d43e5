#!/bin/bash
# gzip-compressed INPUT, found by its magic bytes whatever its name, is read as the text inside:
# a file, stdin (a pipe, slow or not, and a redirect), --dry-run, --resume, several members one
# after the other. Line numbers in messages are those of the text. A file cut short or corrupt
# is refused before anything is sent or OUTPUT is touched; from a pipe, the run stops at the
# bad point with one clear error and no garbage result lines.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 300 >"$T/plain.jsonl"
# Line 150 is not JSON: its message must name line 150 of the text inside.
sed -i '150i this line is not JSON' "$T/plain.jsonl"
gzip -c "$T/plain.jsonl" >"$T/data.bin" # no .gz in the name: the bytes decide
requests() { mock_stat '["requests"]'; }
run() { "$SLUICE" run "$@" --base-url "$MOCK_URL" --provider none --no-progress; }

# Each result line of $1 is a success for one of gen.py's ids, or line 150's failure; $2 lines.
check_out() {
    python3 - "$1" "$2" <<'PY' || fail "results in $1"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1])]
assert len(res) == int(sys.argv[2]), (len(res), sys.argv[2])
for r in res:
    if r["error"]:
        assert r["custom_id"] == "line-150" and r["error"]["code"] == "invalid_request", r
    else:
        assert r["custom_id"].startswith("req-"), r
assert len({r["custom_id"] for r in res}) == len(res), "an id twice"
PY
}

# A file.
rc=0
run "$T/data.bin" -o "$T/out.jsonl" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "file: exit $rc: $(cat "$T/err")"
grep -q "^$T/data.bin:150: not valid JSON" "$T/err" || fail "file: no line 150: $(cat "$T/err")"
[ "$(grep -c '^[^ ]*:[0-9]*: ' "$T/err")" = 1 ] || fail "file: other lines failed: $(cat "$T/err")"
check_out "$T/out.jsonl" 301
[ "$(requests)" = 300 ] || fail "file: $(requests) requests sent, expected 300"

# stdin: a pipe, and a redirect.
rc=0
cat "$T/data.bin" | run - -o "$T/pipe.jsonl" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "pipe: exit $rc: $(cat "$T/err")"
grep -q "^-:150: not valid JSON" "$T/err" || fail "pipe: no line 150: $(cat "$T/err")"
check_out "$T/pipe.jsonl" 301
rc=0
run - -o "$T/redir.jsonl" <"$T/data.bin" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "redirect: exit $rc: $(cat "$T/err")"
check_out "$T/redir.jsonl" 301

# A slow producer: the compressed bytes come in small pieces, a member's header split too.
rc=0
python3 -c '
import sys, time
d = open(sys.argv[1], "rb").read()
for i in range(0, len(d), 97):
    sys.stdout.buffer.write(d[i:i + 97]); sys.stdout.flush(); time.sleep(0.002)
' "$T/data.bin" | run - -o "$T/slow.jsonl" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "slow pipe: exit $rc: $(cat "$T/err")"
check_out "$T/slow.jsonl" 301

# --dry-run counts the text's lines.
rc=0
"$SLUICE" run "$T/data.bin" --dry-run >"$T/dry" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "dry run: exit $rc"
grep -q "301 lines, 300 valid, 1 invalid" "$T/dry" || fail "dry run: $(cat "$T/dry")"
grep -q "^$T/data.bin:150: not valid JSON" "$T/err" || fail "dry run: $(cat "$T/err")"

# --resume sends only what OUTPUT lacks.
head -n 100 "$T/out.jsonl" >"$T/part.jsonl"
done_ok=$(grep -c '"error":null' "$T/part.jsonl")
before=$(requests)
rc=0
run "$T/data.bin" -o "$T/part.jsonl" --resume 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "resume: exit $rc: $(cat "$T/err")"
check_out "$T/part.jsonl" 301
[ $(($(requests) - before)) = $((300 - done_ok)) ] ||
    fail "resume sent $(($(requests) - before)), expected $((300 - done_ok))"

# Several members, one after the other (cat a.gz b.gz), are one input.
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 --prefix a | gzip -c >"$T/multi.gz"
python3 "$SRCDIR/tests/e2e/lib/gen.py" 30 --prefix b | gzip -c >>"$T/multi.gz"
run "$T/multi.gz" -o "$T/multi.jsonl" 2>"$T/err" || fail "members: exit $?: $(cat "$T/err")"
[ "$(wc -l <"$T/multi.jsonl")" = 50 ] || fail "members: $(wc -l <"$T/multi.jsonl") results"

# A file cut short: refused at once, nothing sent, no OUTPUT.
size=$(stat -c %s "$T/data.bin")
head -c $((size / 2)) "$T/data.bin" >"$T/cut.gz"
before=$(requests)
rc=0
run "$T/cut.gz" -o "$T/cut.jsonl" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "cut short: exit $rc: $(cat "$T/err")"
grep -q "cannot read $T/cut.gz: its gzip data ends before its end mark.*nothing was sent" \
    "$T/err" || fail "cut short: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "cut short: more than one line: $(cat "$T/err")"
[ ! -e "$T/cut.jsonl" ] || fail "cut short: OUTPUT was created"
[ "$(requests)" = "$before" ] || fail "cut short: requests were sent"
rc=0
"$SLUICE" run "$T/cut.gz" --dry-run >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "cut short, dry run: exit $rc: $(cat "$T/err")"
grep -q "ends before its end mark" "$T/err" || fail "cut short, dry run: $(cat "$T/err")"

# A corrupt file (its checksum no longer matches): refused; OUTPUT is left as it was.
python3 - "$T/data.bin" "$T/bad.gz" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-8] ^= 0xff  # the CRC-32 of the member's text
open(sys.argv[2], "wb").write(d)
PY
sum=$(md5sum <"$T/part.jsonl")
rc=0
run "$T/bad.gz" -o "$T/part.jsonl" --resume 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "corrupt: exit $rc: $(cat "$T/err")"
grep -q "cannot read $T/bad.gz: its gzip data is corrupt (zlib: incorrect data check)" \
    "$T/err" || fail "corrupt: $(cat "$T/err")"
[ "$(md5sum <"$T/part.jsonl")" = "$sum" ] || fail "corrupt: OUTPUT was changed"
[ "$(requests)" = "$before" ] || fail "corrupt: requests were sent"

# From a pipe the end of a member is the first chance to know: the lines before it run, the
# cut line is not made into a failed result, and the run stops with one clear error.
rc=0
cat "$T/cut.gz" | run - -o "$T/cutpipe.jsonl" 2>"$T/err" || rc=$?
[ "$rc" = 3 ] || fail "cut pipe: exit $rc: $(cat "$T/err")"
grep -q "^sluice: reading - failed: its gzip data ends before its end mark" "$T/err" ||
    fail "cut pipe: $(cat "$T/err")"
whole=$(python3 -c 'import sys, zlib
print(zlib.decompressobj(31).decompress(open(sys.argv[1], "rb").read()).count(b"\n"))' "$T/cut.gz")
[ "$whole" -gt 50 ] || fail "cut pipe: only $whole whole lines in the cut file"
check_out "$T/cutpipe.jsonl" "$whole"
rc=0
cat "$T/bad.gz" | run - -o "$T/badpipe.jsonl" 2>"$T/err" || rc=$?
[ "$rc" = 3 ] || fail "corrupt pipe: exit $rc: $(cat "$T/err")"
grep -q "^sluice: reading - failed: its gzip data is corrupt (zlib: incorrect data check)" \
    "$T/err" || fail "corrupt pipe: $(cat "$T/err")"
echo ok
