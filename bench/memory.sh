#!/usr/bin/env bash
# sluice's memory against the size of the input and the number of requests in flight.
#   1. Peak RSS of `sluice run` over N_SMALL (100k) and N_BIG (1M) lines at concurrency 256
#      against `sluice mock --latency 0`: the big run's peak, and the growth per input line,
#      (rss_big - rss_small) / (N_BIG - N_SMALL).
#   2. FLIGHT (10000) requests in flight at once: `sluice run -c FLIGHT` over 2 x FLIGHT
#      lines against `sluice mock --latency 2000`; the mock's max_concurrency must reach
#      ~FLIGHT, every line must succeed, and the peak RSS is reported.
# Usage: SLUICE=build/sluice bench/memory.sh   (N_SMALL, N_BIG, CONC, FLIGHT, LATENCY_MS)
#   CHECK=0: print only; by default a missed target makes the exit status 1.
# Targets (issue 7): peak <= 48 MB at 1M lines, <= 16 bytes per line; FLIGHT in flight in
# <= 200 MB with no errors. Takes about 1.5 minutes at today's speed.
set -euo pipefail
. "$(dirname "$0")/common.bash"
N_SMALL=${N_SMALL:-100000}
N_BIG=${N_BIG:-1000000}
CONC=${CONC:-256}
FLIGHT=${FLIGHT:-10000}
LATENCY_MS=${LATENCY_MS:-2000}
CHECK=${CHECK:-1}
need curl awk

# Both processes hold one socket per request in flight, plus files and the loop's own.
want_fds=$((FLIGHT + 512))
ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge "$want_fds" ] ||
    die "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); FLIGHT=$FLIGHT needs $want_fds"

echo "sluice memory: peak RSS of sluice run (/usr/bin/time %M)"
echo "machine: $(machine_line)"
echo

run_sluice() { # run_sluice INPUT N CONC TIMEOUT_S: appends "wall user sys rss_kb" to $T/rss
    timed "$T/time" timeout "$4" "$SLUICE" run "$1" -o "$T/out.jsonl" --overwrite \
        --base-url "$MOCK_URL" --provider none -c "$3" --no-progress --stats-json "$T/stats.json" \
        >/dev/null 2>"$T/err" || { cat "$T/err" >&2; die "sluice run $1 failed or timed out"; }
    local ok
    ok=$(grep -o '"succeeded":[0-9]*' "$T/stats.json" | cut -d: -f2)
    [ "$ok" = "$2" ] || die "$ok of $2 succeeded"
    cat "$T/time"
}

mock_start --latency 0
make_input "$N_BIG" "$T/big.jsonl"
head -n "$N_SMALL" "$T/big.jsonl" >"$T/small.jsonl"
read -r w1 u1 s1 rss_small < <(run_sluice "$T/small.jsonl" "$N_SMALL" "$CONC" 120)
read -r w2 u2 s2 rss_big < <(run_sluice "$T/big.jsonl" "$N_BIG" "$CONC" 600)
rm -f "$T/big.jsonl" "$T/out.jsonl"
per_line=$(awk -v a="$rss_small" -v b="$rss_big" -v n="$N_SMALL" -v m="$N_BIG" \
    'BEGIN { printf "%.1f", (b - a) * 1024 / (m - n) }')

mock_start --latency "$LATENCY_MS"
make_input $((2 * FLIGHT)) "$T/flight.jsonl"
read -r w3 u3 s3 rss_flight < <(run_sluice "$T/flight.jsonl" $((2 * FLIGHT)) "$FLIGHT" 300)
max_conc=$(mock_stat max_concurrency)

printf '| %-50s | %9s | %8s | %12s | %11s |\n' run lines "wall s" "CPU us/line" "peak RSS MB"
printf '| %-50s | %9s | %8s | %12s | %11s |\n' :-- --: --: --: --:
row() {
    printf '| %-50s | %9d | %8.1f | %12.1f | %11.1f |\n' "$1" "$2" "$3" \
        "$(awk -v u="$4" -v s="$5" -v n="$2" 'BEGIN { print (u + s) * 1e6 / n }')" \
        "$(awk -v k="$6" 'BEGIN { print k / 1024 }')"
}
row "-c $CONC, --latency 0" "$N_SMALL" "$w1" "$u1" "$s1" "$rss_small"
row "-c $CONC, --latency 0" "$N_BIG" "$w2" "$u2" "$s2" "$rss_big"
row "-c $FLIGHT, --latency $LATENCY_MS (mock saw $max_conc at once)" $((2 * FLIGHT)) "$w3" "$u3" \
    "$s3" "$rss_flight"
echo

missed=0
target() { # target NAME VALUE OP LIMIT
    local ok
    ok=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { print (op == ">=" ? v >= l : v <= l) }')
    printf '%-40s %10.1f %s %-8s %s\n' "$1" "$2" "$3" "$4" "$([ "$ok" = 1 ] && echo met ||
        echo MISSED)"
    [ "$ok" = 1 ] || missed=$((missed + 1))
}
echo "targets (issue 7)"
target "peak RSS MB at $N_BIG lines, -c $CONC" "$(awk -v k="$rss_big" 'BEGIN { print k / 1024 }')" \
    "<=" 48
target "RSS growth, bytes per input line" "$per_line" "<=" 16
target "requests in flight at once (mock)" "${max_conc:-0}" ">=" $((FLIGHT * 95 / 100))
target "peak RSS MB with $FLIGHT in flight" "$(awk -v k="$rss_flight" 'BEGIN { print k / 1024 }')" \
    "<=" 200
[ "$CHECK" = 0 ] || [ "$missed" = 0 ] || exit 1
