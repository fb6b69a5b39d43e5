#!/bin/bash
# Issue 17.10: when OUTPUT (or --stats-json, --log) cannot be written, the message names the
# user's file and says which directory is missing, is not a directory, or is not writable;
# never the lock file sluice keeps beside OUTPUT. Each is found before anything is sent, so a
# --stats-json into a missing directory does not wait for the end of the run to fail.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 5 >"$T/in.jsonl"
cd "$T"
refused() { # refused WANT ARGS...: exit 2, WANT in the message, no word of the lock file
    local want=$1 rc=0
    shift
    "$SLUICE" run in.jsonl --base-url "$MOCK_URL" --provider none --no-progress "$@" \
        2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "$*: exit $rc, expected 2: $(cat "$T/err")"
    grep -qF "$want" "$T/err" || fail "$*: no '$want' in: $(cat "$T/err")"
    ! grep -q '\.lock' "$T/err" || fail "$*: the message names the lock file: $(cat "$T/err")"
}
refused "cannot write OUTPUT nodir/x/out.jsonl: directory nodir/x does not exist" \
    -o nodir/x/out.jsonl
touch afile
refused "cannot write OUTPUT afile/out.jsonl: afile is not a directory" -o afile/out.jsonl
refused "cannot write --stats-json nodir/s.json: directory nodir does not exist" \
    -o out.jsonl --stats-json nodir/s.json
refused "cannot write --log afile/log: afile is not a directory" -o out.jsonl --log afile/log
[ ! -e out.jsonl ] || fail "a refused run created OUTPUT"
[ "$(mock_stat "['requests']")" = 0 ] || fail "a refused run sent requests"

# A directory that is not writable, with OUTPUT already in it (--resume): the lock beside it
# cannot be created. Root writes anywhere, so as root this runs as nobody.
mkdir ro
"$SLUICE" run in.jsonl -o ro/out.jsonl --base-url "$MOCK_URL" --provider none 2>/dev/null ||
    fail "a run into ro/: exit $?"
chmod 555 ro
as_user=()
if [ "$(id -u)" = 0 ]; then
    if ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
        echo "ok (the unwritable directory is not checked: root without setpriv or nobody)"
        exit 0
    fi
    chmod 755 "$T"
    chmod 644 in.jsonl ro/out.jsonl
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    # nobody may not be able to run the build at all (a root-only checkout, libraries it can't
    # read in a fresh chroot): that is this machine, not the check.
    if ! "${as_user[@]}" "$SLUICE" version >/dev/null 2>&1; then
        echo "ok (the unwritable directory is not checked: nobody cannot run $SLUICE here)"
        exit 0
    fi
fi
rc=0
"${as_user[@]}" "$SLUICE" run in.jsonl -o ro/out.jsonl --resume --base-url "$MOCK_URL" \
    --provider none --no-progress 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "unwritable directory: exit $rc: $(cat "$T/err")"
grep -qF "cannot write OUTPUT ro/out.jsonl: directory ro is not writable" "$T/err" ||
    fail "unwritable directory: $(cat "$T/err")"
! grep -q '\.lock' "$T/err" || fail "unwritable directory: names the lock file: $(cat "$T/err")"
echo ok
