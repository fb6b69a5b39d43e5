#!/usr/bin/env bash
# Where `sluice run` spends its instructions and its system calls, per request, against
# `sluice mock --latency 0` (stable figures for before/after comparisons of a fix).
#   1. valgrind --tool=callgrind over N (10000) lines at -c CONC (64): instructions per
#      request, and the top functions by inclusive and by self cost.
#   2. System calls per request over N_SYS (100000) lines: perf's syscall tracepoints when
#      they work, else strace -c -f (which slows the run and so merges some epoll_ctl calls).
# Usage: SLUICE=build/sluice bench/profile/profile.sh   (N, N_SYS, CONC, OUT=dir to keep
# callgrind.out for callgrind_annotate / kcachegrind). Takes about a minute.
set -euo pipefail
. "$(dirname "$0")/../common.bash"
N=${N:-10000}
N_SYS=${N_SYS:-100000}
CONC=${CONC:-64}
OUT=${OUT:-$T}
need valgrind callgrind_annotate curl awk
mkdir -p "$OUT"

mock_start --latency 0
make_input "$N_SYS" "$T/sys.jsonl"
head -n "$N" "$T/sys.jsonl" >"$T/cg.jsonl"
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" -q \
    "$SLUICE" run "$T/cg.jsonl" -o "$T/out.jsonl" --overwrite --base-url "$MOCK_URL" \
    --provider none -c "$CONC" --no-progress >/dev/null 2>"$T/cg.err" ||
    { cat "$T/cg.err" >&2; exit 1; }
total=$(callgrind_annotate "$OUT/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {
    gsub(",", "", $1); print $1; done = 1 }')
echo "callgrind: $N requests, -c $CONC: $total instructions, $((total / N)) per request"
echo
top() { # top MODE COUNT: "instructions/request  %  function  [library]" rows
    callgrind_annotate --inclusive="$1" "$OUT/callgrind.out" 2>/dev/null |
        awk -v n="$N" -v k="$2" '/file:function/ { on = 1; next }
            on && shown < k && /^ *[0-9,]+ \(/ && $NF ~ /\]$/ {
                v = $1; gsub(",", "", v); pct = $0; sub(/^[^(]*\( */, "", pct); sub(/\).*/, "", pct)
                lib = $NF; gsub(/[][]/, "", lib); sub(/^.*\//, "", lib); sub(/\.so.*/, "", lib)
                fn = $0; sub(/^[^)]*\) +/, "", fn); sub(/ \[.*$/, "", fn); sub(/^.*\//, "", fn)
                # the loader, libc start-up, main and unnamed libuv internals wrap everything
                if (fn ~ /below main|libc_start|^main\.c:main$|0x0000000000001ab70/) next
                if (fn ~ /0x[0-9a-f]+$/ && lib != "libcurl") next
                printf "%9.0f %7s  %-44s %s\n", v / n, pct, fn, lib
                shown++
            }'
}
echo "inclusive (a function and everything it calls), instructions per request:"
top yes 40
echo
echo "self, instructions per request:"
top no 25
echo

if perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
    ev=raw_syscalls:sys_enter
    for s in epoll_ctl epoll_wait poll sendto recvfrom write read writev ioctl; do
        ev="$ev,syscalls:sys_enter_$s"
    done
    perf stat -x, -o "$T/perf.csv" -e "$ev" "$SLUICE" run "$T/sys.jsonl" -o "$T/out.jsonl" \
        --overwrite --base-url "$MOCK_URL" --provider none -c "$CONC" --no-progress \
        >/dev/null 2>"$T/err"
    echo "system calls per request (perf stat, $N_SYS requests, -c $CONC):"
    awk -F, -v n="$N_SYS" '$1 ~ /^[0-9]+$/ && $1 > 0 { name = $3; sub(/.*sys_enter_?/, "", name)
        printf "  %-12s %7.2f\n", (name == "" ? "all" : name), $1 / n }' "$T/perf.csv"
else
    strace -f -c -o "$T/strace.txt" "$SLUICE" run "$T/sys.jsonl" -o "$T/out.jsonl" --overwrite \
        --base-url "$MOCK_URL" --provider none -c "$CONC" --no-progress >/dev/null 2>"$T/err"
    echo "system calls per request (strace -c -f, $N_SYS requests, -c $CONC):"
    awk -v n="$N_SYS" '$NF ~ /^[a-z_0-9]+$/ && $(NF-1) ~ /^[0-9]+$/ && $4 ~ /^[0-9]+$/ {
        if ($4 / n >= 0.01) printf "  %-12s %7.2f\n", $NF, $4 / n }' "$T/strace.txt"
fi
[ "$OUT" = "$T" ] || echo "callgrind output kept in $OUT/callgrind.out"
