#!/bin/bash
# --fsync S syncs OUTPUT every S seconds while results are written, and at the end; --fsync 0
# never syncs it. Counted with strace (skipped when strace is missing).
. "$SRCDIR/tests/e2e/lib/common.sh"
command -v strace >/dev/null || { echo "SKIP: strace is not installed"; exit 77; }
start_mock --latency 100
python3 "$SRCDIR/tests/e2e/lib/gen.py" 60 >"$T/in.jsonl"
count_fsync() { # fsync interval -> number of fsync calls on the output
    # LeakSanitizer cannot run under ptrace; the other tests check for leaks.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -e trace=fsync,fdatasync -o "$T/strace.$1" "$SLUICE" run "$T/in.jsonl" \
            -o "$T/out.$1.jsonl" --base-url "$MOCK_URL" --provider none -c 4 --fsync "$1" \
            --no-progress 2>"$T/err" || fail "--fsync $1: exit $?: $(cat "$T/err")"
    python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/out.$1.jsonl" --all-success ||
        fail "--fsync $1: results"
    grep -c 'fsync(' "$T/strace.$1" || true
}
# 60 requests, 4 at a time, 100 ms each: about 1.5 s of writing.
often=$(count_fsync 0.2)
never=$(count_fsync 0)
[ "$often" -ge 4 ] || fail "--fsync 0.2 synced $often times in ~1.5 s of writing"
[ "$never" = 0 ] || fail "--fsync 0 synced $never times"
echo "ok: --fsync 0.2: $often fsyncs; --fsync 0: none"
