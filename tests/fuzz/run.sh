#!/bin/sh
# Runs one libFuzzer target for a while from its seed corpus (tests/fuzz/README.md):
#   tests/fuzz/run.sh [--fresh] BUILD_DIR/.../fuzz_NAME SECONDS [libFuzzer options...]
# The seed corpus, tests/fuzz/corpus/NAME/, is only read: what the run finds goes to
# work/NAME/corpus/ beside the binary (--fresh empties it first, as the CTest tests do), a
# crash to work/NAME/crash-*, the output to work/NAME/log. Exits non-zero when the target
# crashed, leaked, ran out of memory or broke a property.
set -eu
fresh=0
if [ "${1:-}" = --fresh ]; then
    fresh=1
    shift
fi
[ $# -ge 2 ] || { echo "usage: $0 [--fresh] FUZZ_BINARY SECONDS [libFuzzer options]" >&2; exit 2; }
bin=$1
secs=$2
shift 2
name=$(basename "$bin")
name=${name#fuzz_}
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/corpus/$name
work=$(cd "$(dirname "$bin")" && pwd)/work/$name
[ -x "$bin" ] || { echo "$bin: no such fuzz target (make fuzz builds them)" >&2; exit 2; }
[ -d "$seeds" ] || { echo "$seeds: no seed corpus" >&2; exit 2; }
[ $fresh = 0 ] || rm -rf "$work"
mkdir -p "$work/corpus"
# A reply that asks for gigabytes must be reported, not take the machine: every allocation
# over 256 MB is a failure, and so is the process passing 2 GB.
limits="-timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=256"
# shellcheck disable=SC2086
set -- -max_total_time="$secs" $limits -artifact_prefix="$work/" -print_final_stats=1 "$@"
[ ! -f "$here/$name.dict" ] || set -- -dict="$here/$name.dict" "$@"
echo "fuzz_$name: $secs s from $seeds (log in $work/log)"
rc=0
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} "$bin" "$@" "$work/corpus" "$seeds" \
    >"$work/log" 2>&1 || rc=$?
if [ $rc != 0 ]; then
    tail -n 60 "$work/log"
    for f in "$work"/crash-* "$work"/leak-* "$work"/oom-* "$work"/timeout-*; do
        [ -f "$f" ] && echo "fuzz_$name: FAILED on $f; replay it with: $bin $limits $f"
    done
    exit $rc
fi
# libFuzzer's last status line: executions, coverage (cov: edges, ft: features), corpus size.
grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -n 1 | sed "s/^/fuzz_$name: /"
grep -E '^stat::number_of_executed_units' "$work/log" | sed "s/^/fuzz_$name: /"
