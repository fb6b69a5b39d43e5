#!/usr/bin/env bash
# sluice against its peers, side by side in one run: the same request bodies, the same
# concurrency, the same zero-latency local server (`sluice mock --latency 0`).
#   wrk + bench/peers/wrk_post.lua    the HTTP ceiling of this machine (no input, no output)
#   sluice run                        parses the JSONL, writes the results JSONL
#   curl --parallel --config          one transfer per line, responses to one file
#   bench/peers/aiohttp_batch.py      asyncio + aiohttp + Semaphore + tenacity (Debian's)
# Each client runs REPEAT times, round-robin; the table shows medians. CPU is user + sys of
# the client process only (the mock has the other core), from /usr/bin/time.
#
# Usage: SLUICE=build/sluice bench/compare.sh
#   CONC (64)  N_SLUICE (100000)  N_CURL (50000)  N_PY (10000)  WRK_S (5)  WRK_THREADS (2)
#   REPEAT (3)  CHART=path.png (gnuplot bar chart)  DATA=path (the table as data)
#   CHECK=0: print only; by default a missed target makes the exit status 1.
# Targets (issue 7): sluice >= 0.5 x wrk, >= 3 x curl -Z, >= 10 x python; <= 15 us CPU
# per request. Memory and 10,000-in-flight targets: bench/memory.sh.
set -euo pipefail
. "$(dirname "$0")/common.bash"
CONC=${CONC:-64}
N_SLUICE=${N_SLUICE:-100000}
N_CURL=${N_CURL:-50000}
N_PY=${N_PY:-10000}
WRK_S=${WRK_S:-5}
WRK_THREADS=${WRK_THREADS:-2}
REPEAT=${REPEAT:-3}
CHECK=${CHECK:-1}
need wrk curl "$PY" awk
"$PY" -c 'import aiohttp, tenacity' 2>/dev/null ||
    die "$PY cannot import aiohttp and tenacity (apt-get install python3-aiohttp python3-tenacity)"
[ "$CONC" -le 300 ] || die "CONC is at most 300 (curl's --parallel-max limit)"

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
mock_start --latency 0
N_MAX=$N_SLUICE
[ "$N_CURL" -gt "$N_MAX" ] && N_MAX=$N_CURL
[ "$N_PY" -gt "$N_MAX" ] && N_MAX=$N_PY
make_input "$N_MAX" "$T/all.jsonl"
head -n "$N_SLUICE" "$T/all.jsonl" >"$T/sluice.jsonl"
head -n "$N_CURL" "$T/all.jsonl" >"$T/curl.jsonl"
head -n "$N_PY" "$T/all.jsonl" >"$T/py.jsonl"
"$PY" "$BENCH_DIR/peers/to_curl_config.py" "$T/curl.jsonl" "$MOCK_URL" "$T/curl.cfg" \
    "$T/bodies.txt" 1000

# Each run_* appends "requests wall user sys maxrss_kb" to $T/NAME.runs, or fails loudly.
run_wrk() {
    timed "$T/time" wrk -t"$WRK_THREADS" -c"$CONC" -d"${WRK_S}s" -s "$BENCH_DIR/peers/wrk_post.lua" \
        "$MOCK_URL/v1/chat/completions" -- "$T/bodies.txt" 1000 >"$T/wrk.out" 2>&1 ||
        { cat "$T/wrk.out" >&2; die "wrk failed"; }
    if grep -Eq 'Non-2xx|Socket errors' "$T/wrk.out"; then
        cat "$T/wrk.out" >&2
        die "wrk saw errors"
    fi
    # wrk's own duration (its requests/s) rather than the process's, which includes setup.
    local n secs
    n=$(awk '/requests in/ { print $1 }' "$T/wrk.out")
    secs=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' "$T/wrk.out")
    read -r _ u s m <"$T/time"
    echo "$n $secs $u $s $m" >>"$T/wrk.runs"
}

run_sluice() {
    timed "$T/time" "$SLUICE" run "$T/sluice.jsonl" -o "$T/sluice.out" --overwrite \
        --base-url "$MOCK_URL" --provider none -c "$CONC" --no-progress \
        --stats-json "$T/sluice.stats" \
        >/dev/null 2>"$T/sluice.err" || { cat "$T/sluice.err" >&2; die "sluice run failed"; }
    local ok
    ok=$(grep -o '"succeeded":[0-9]*' "$T/sluice.stats" | cut -d: -f2)
    [ "$ok" = "$N_SLUICE" ] || die "sluice: $ok of $N_SLUICE succeeded"
    [ "$(wc -l <"$T/sluice.out")" = "$N_SLUICE" ] || die "sluice: wrong number of result lines"
    read -r w u s m <"$T/time"
    echo "$N_SLUICE $w $u $s $m" >>"$T/sluice.runs"
}

run_curl() {
    timed "$T/time" curl -sS --no-progress-meter --parallel --parallel-max "$CONC" \
        --config "$T/curl.cfg" >"$T/curl.out" 2>"$T/curl.err" ||
        { cat "$T/curl.err" >&2; die "curl failed"; }
    local ok
    # (curl -Z does not print every -w "\n" between bodies, so count answers, not lines)
    ok=$(grep -o '"object":"chat.completion"' "$T/curl.out" | wc -l)
    [ "$ok" = "$N_CURL" ] || die "curl: $ok of $N_CURL answers"
    read -r w u s m <"$T/time"
    echo "$N_CURL $w $u $s $m" >>"$T/curl.runs"
}

run_python() {
    OPENAI_API_KEY=sk-none timed "$T/time" "$PY" "$BENCH_DIR/peers/aiohttp_batch.py" \
        "$T/py.jsonl" "$T/py.out" --base-url "$MOCK_URL" -c "$CONC" \
        >/dev/null 2>"$T/py.err" || { cat "$T/py.err" >&2; die "the python peer failed"; }
    local ok
    ok=$(grep -c '"error": null' "$T/py.out" || true)
    [ "$ok" = "$N_PY" ] || die "python: $ok of $N_PY succeeded"
    read -r w u s m <"$T/time"
    echo "$N_PY $w $u $s $m" >>"$T/python.runs"
}

CLIENTS="wrk sluice curl python"
for r in $(seq 1 "$REPEAT"); do
    for c in $CLIENTS; do
        [ -t 2 ] && printf '\rrun %d/%d: %-8s' "$r" "$REPEAT" "$c" >&2
        "run_$c"
    done
done
[ -t 2 ] && printf '\r%40s\r' '' >&2

# Medians per client: requests/s, CPU us per request, peak RSS MB.
declare -A RPS CPU RSS NREQ
for c in $CLIENTS; do
    RPS[$c]=$(awk '{ print $1 / $2 }' "$T/$c.runs" | median)
    CPU[$c]=$(awk '{ print ($3 + $4) * 1e6 / $1 }' "$T/$c.runs" | median)
    RSS[$c]=$(awk '{ print $5 / 1024 }' "$T/$c.runs" | median)
    NREQ[$c]=$(awk '{ print $1 }' "$T/$c.runs" | median)
done

label() {
    case $1 in
    wrk) echo "wrk -t$WRK_THREADS (ceiling)" ;;
    sluice) echo "sluice run" ;;
    curl) echo "curl -Z (--parallel)" ;;
    python) echo "python aiohttp+tenacity" ;;
    esac
}

echo "sluice vs peers: POST /v1/chat/completions to sluice mock --latency 0, concurrency $CONC"
echo "machine: $(machine_line)"
echo "versions: $("$SLUICE" version 2>/dev/null | head -1); $(curl --version | head -1 | cut -d' ' -f1-2);" \
    "wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2); python $("$PY" -c 'import sys, aiohttp, tenacity;
print(sys.version.split()[0], "aiohttp", aiohttp.__version__)')"
echo "medians of $REPEAT runs; CPU = user + sys of the client process; load average" \
    "$LOAD_BEFORE before, $(cut -d' ' -f1 /proc/loadavg) after (other work on the machine)"
echo
printf '| %-26s | %9s | %10s | %11s | %14s | %12s |\n' client requests "req/s" "sluice is" \
    "CPU us/request" "peak RSS MB"
printf '| %-26s | %9s | %10s | %11s | %14s | %12s |\n' :-- --: --: --: --: --:
for c in $CLIENTS; do
    ratio=$(awk -v a="${RPS[sluice]}" -v b="${RPS[$c]}" 'BEGIN { printf "%.2f x", a / b }')
    [ "$c" = sluice ] && ratio="-"
    printf '| %-26s | %9d | %10.0f | %11s | %14.1f | %12.1f |\n' "$(label "$c")" "${NREQ[$c]}" \
        "${RPS[$c]}" "$ratio" "${CPU[$c]}" "${RSS[$c]}"
done
echo

missed=0
target() { # target NAME VALUE OP LIMIT UNIT
    local ok
    ok=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { print (op == ">=" ? v >= l : v <= l) }')
    printf '%-36s %10.2f %s %-8s %s\n' "$1" "$2" "$3" "$4" "$([ "$ok" = 1 ] && echo met ||
        echo MISSED)"
    [ "$ok" = 1 ] || missed=$((missed + 1))
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }
echo "targets (issue 7)"
target "sluice req/s / wrk req/s" "$(ratio "${RPS[sluice]}" "${RPS[wrk]}")" ">=" 0.5
target "sluice req/s / curl -Z req/s" "$(ratio "${RPS[sluice]}" "${RPS[curl]}")" ">=" 3
target "sluice req/s / python req/s" "$(ratio "${RPS[sluice]}" "${RPS[python]}")" ">=" 10
target "sluice CPU us per request" "${CPU[sluice]}" "<=" 15

if [ -n "${DATA:-}" ] || [ -n "${CHART:-}" ]; then
    data=${DATA:-$T/compare.dat}
    {
        echo "# client req_per_s cpu_us_per_req peak_rss_mb  (concurrency $CONC; $(machine_line))"
        for c in $CLIENTS; do
            printf '"%s" %.0f %.2f %.1f\n' "$(label "$c")" "${RPS[$c]}" "${CPU[$c]}" "${RSS[$c]}"
        done
    } >"$data"
fi
if [ -n "${CHART:-}" ]; then
    if command -v gnuplot >/dev/null; then
        gnuplot -e "datafile='$data'; outfile='$CHART'; subtitle='concurrency $CONC, $(nproc) cores'" \
            "$BENCH_DIR/compare.gp" && echo "chart: $CHART"
    else
        echo "compare.sh: gnuplot is not installed; no chart" >&2
    fi
fi
[ "$CHECK" = 0 ] || [ "$missed" = 0 ] || exit 1
