#!/bin/bash
# A full disk loses nothing: the output goes to a 64 KiB tmpfs that cannot hold 2000
# results. sluice stops with exit 3 and a message to free space and --resume, then a summary
# that says how many results OUTPUT holds (issue 17.11); the file holds
# only whole lines (no torn tail); after moving it somewhere roomy, --resume sends exactly
# the requests it does not hold, and every id ends up there exactly once.
# Needs to mount a tmpfs (root): skipped (77) otherwise.
. "$SRCDIR/tests/e2e/lib/common.sh"

# /dev/full at -c 1: the one slot must not stay held by the line its write could not place,
# or the run would wait forever instead of stopping.
start_mock --latency 2
python3 "$SRCDIR/tests/e2e/lib/gen.py" 20 >"$T/small.jsonl"
rc=0
timeout -k 5 30 "$SLUICE" run "$T/small.jsonl" -o /dev/full --base-url "$MOCK_URL" \
    --provider none -c 1 --no-progress 2>"$T/err.full" || rc=$?
[ "$rc" != 124 ] || fail "/dev/full -c 1: sluice still running after 30 s"
[ "$rc" = 3 ] || fail "/dev/full -c 1: exit status $rc, expected 3: $(cat "$T/err.full")"
grep -qi "free space" "$T/err.full" || fail "/dev/full: the message does not say to free space"
# Issue 17.11: the error comes first, and the summary says what OUTPUT holds (nothing), never
# "results in /dev/full".
head -n1 "$T/err.full" | grep -q "writing /dev/full failed" ||
    fail "/dev/full: the error is not the first line: $(cat "$T/err.full")"
grep -q "/dev/full holds 0 of them" "$T/err.full" ||
    fail "/dev/full: the summary does not say what OUTPUT holds: $(cat "$T/err.full")"
! grep -q "results in /dev/full" "$T/err.full" ||
    fail "/dev/full: the summary says the results are in /dev/full: $(cat "$T/err.full")"

mkdir -p "$T/disk" "$T/big"
mount -t tmpfs -o size=64k tmpfs "$T/disk" 2>/dev/null || {
    echo "skip: cannot mount a tmpfs (needs root)" >&2
    exit 77
}
# Unmount before common.sh's cleanup removes $T (it would stop at a busy mount point).
cleanup_disk() {
    umount "$T/disk" 2>/dev/null || umount -l "$T/disk" 2>/dev/null || true
    cleanup
}
trap cleanup_disk EXIT

start_mock --latency 2
# About 1 KB per result line: 2000 of them are 30 times the disk.
python3 "$SRCDIR/tests/e2e/lib/gen.py" 2000 --max-tokens 200 >"$T/in.jsonl"
rc=0
timeout -k 5 60 "$SLUICE" run "$T/in.jsonl" -o "$T/disk/out.jsonl" --base-url "$MOCK_URL" \
    --provider none -c 16 --no-progress 2>"$T/err" || rc=$?
cat "$T/err" >&2
[ "$rc" != 124 ] || fail "full disk: sluice still running after 60 s"
[ "$rc" = 3 ] || fail "full disk: exit status $rc, expected 3"
grep -qi "free space" "$T/err" || fail "full disk: the message does not say to free space"
grep -q -- "--resume" "$T/err" || fail "full disk: the message does not mention --resume"

# Only whole lines: each one JSON, the file ends with a newline, no id twice.
kept=$(python3 - "$T/disk/out.jsonl" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
if raw and not raw.endswith(b"\n"):
    sys.exit("torn tail: the file does not end with a newline: %r" % raw[-80:])
ids = []
for n, line in enumerate(raw.splitlines(), 1):
    try:
        ids.append(json.loads(line)["custom_id"])
    except (ValueError, KeyError) as e:
        sys.exit("line %d is not a whole result: %s: %r" % (n, e, line[:80]))
if len(set(ids)) != len(ids):
    sys.exit("an id was written twice")
print(len(ids))
PY
) || fail "full disk: the output is not whole lines"
echo "full disk: $kept whole lines kept of 2000" >&2
[ "$kept" -gt 0 ] || fail "full disk: nothing was written (the test proves nothing)"
[ "$kept" -lt 2000 ] || fail "full disk: everything fit (the disk was not full)"
head -n1 "$T/err" | grep -q "writing $T/disk/out.jsonl failed" || fail "full disk: error not first"
grep -q "out.jsonl holds $kept of them" "$T/err" ||
    fail "full disk: the summary does not say OUTPUT holds the $kept lines it holds"

# Somewhere roomy, --resume finishes, sending only what the file does not hold.
cp "$T/disk/out.jsonl" "$T/big/out.jsonl"
before=$(mock_stat "['requests']")
rc=0
timeout -k 5 60 "$SLUICE" run "$T/in.jsonl" -o "$T/big/out.jsonl" --resume --base-url "$MOCK_URL" \
    --provider none -c 16 --no-progress 2>"$T/err2" || rc=$?
[ "$rc" = 0 ] || fail "resume: exit status $rc: $(cat "$T/err2")"
python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/big/out.jsonl" --all-success ||
    fail "resume: results do not match the input"
sent=$(($(mock_stat "['requests']") - before))
[ "$sent" = $((2000 - kept)) ] ||
    fail "resume: sent $sent requests, expected $((2000 - kept)) (those not on the full disk)"
echo "ok: full disk kept $kept whole lines; --resume sent the other $sent"
