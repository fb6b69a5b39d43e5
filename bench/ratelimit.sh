#!/usr/bin/env bash
# Rate limits (issue 16): does sluice finish in the time a limiter allows, with few refusals,
# whatever kind of limiter it meets, told the limit (--rpm/--tpm) or not (learned)?
#
# A matrix of cells, each a server with a limit and answers of 50 ms unless said:
#   nginx       real nginx limit_req (burst=B nodelay, 429 + Retry-After: 1) in front of
#               `sluice mock` with no limit, at 2, 20, 100 and 500 r/s, burst 1 and 10;
#               100 r/s burst 10 with 1 s answers
#   dist        `sluice run --redis` + 3 `sluice work` against nginx at 100 r/s burst 10
#   gcra,bucket `sluice mock --limiter KIND --burst B` at 20 and 100 r/s, burst 1 and 10
#   fixed,sliding `sluice mock --limiter KIND --window S`, Q = rate x S per window, S 1 and 10
#   per-second  `sluice mock --limiter per-second` at 20 and 100 r/s
#   gemini      gcra 100 r/s burst 10 in Gemini's dialect (the wait only in the 429's body)
#   nginx-like  bucket 100 r/s burst 10 with --retry-after 1: nginx's limiter and hint, in the mock
#   tpm bucket  a token bucket on tokens (--limiter bucket --tpm --token-burst)
#   default     today's cells: mock's default limiter (--rpm 6000, --burst-s 1), TPM-bound
#               with headers, -c auto against --max-concurrency 40 (503s)
#   none 2s     no limit, 2 s answers: learning must not cost what -c allows
# Each rate cell runs twice: told (--rpm rate x 60) and learned (not told; the mock with
# --no-rate-headers, so the rate comes from 429s as with nginx). "headers" rows are not told
# but the mock announces its limits.
#
# floor_s is the time the limit's rate allows, the time of a client paced evenly at that rate
# (what --rpm alone can tell a client): rate limiters (N - 1) / rate + one answer; window
# limiters count whole windows, ceil(N / Q) x S; token buckets (tokens - the first request's)
# / (TPM / 60) + one answer; no limit, ceil(N / c) answers. Bursts are not counted: a client
# that spends one at the start, or each window's quota at its start, can beat the floor (by
# B / rate: 0.1 s at 100 r/s burst 10, but 5 s at 2 r/s burst 10). Each cell has 25-30 s of
# floor and -c of rate x answer time x 4, at least 64.
#
# attempts and refused are counted by the SERVER: nginx's access log (statuses of /v1
# requests), the mock's GET /mock/stats (requests; refused = answers that were not 200). The
# client's own counts are only in the notes when they differ.
# Targets (verdict): told wall <= 1.05 x floor, refused <= 1%; learned <= 1.15 x, refused <=
# 5% or <= 5 attempts (whichever is more); headers as told; dist told <= 1.10 x and <= 2%,
# dist learned <= 1.25 x and <= 5%. Every line must succeed.
#
# Usage: SLUICE=build/sluice bench/ratelimit.sh
#   SLUICE    the client binary (default build/sluice)
#   MOCK_BIN  the binary whose `mock` serves (default $SLUICE): an old client with a new mock
#   CELLS     a regex over "cell mode" names, e.g. CELLS='^nginx' or CELLS='learned$'
#   DATA      also write the table as TSV to this path
#   CAP       a run is stopped after CAP x floor + 30 s (default 4); its row then says how far
#             it got and the pace it was going at
# CHECK=0: print only; by default a missed target makes the exit status 1. The full matrix
# takes about 30 minutes when every cell is near its floor. Needs nginx and redis-server for
# the nginx and dist cells (skipped, with a row saying so, when missing).
set -euo pipefail
. "$(dirname "$0")/common.bash"
ROOT=$(cd "$BENCH_DIR/.." && pwd)
MOCK_BIN=${MOCK_BIN:-$SLUICE}
CELLS=${CELLS:-}
DATA=${DATA:-}
CAP=${CAP:-4}
CHECK=${CHECK:-1}
LAT=50 # ms, every answer unless the cell says otherwise
need curl python3 awk
[ -x "$MOCK_BIN" ] || die "no binary at $MOCK_BIN (set MOCK_BIN)"

NGX_PID=""
REDIS_PID=""
REDIS_PORT=""
SRV_PID="" # the mock of this cell (common.bash's MOCK_PID is not used: its mock is $SLUICE's)
# The clients' `timeout`s. Each runs in the background and is waited for: `timeout` puts
# itself in a process group of its own, which a Ctrl-C of the bench would not reach.
CLIENT_PIDS=""

servers_down() {
    local p
    for p in $CLIENT_PIDS $NGX_PID $REDIS_PID $SRV_PID; do kill "$p" 2>/dev/null || true; done
    for p in $CLIENT_PIDS $NGX_PID $REDIS_PID $SRV_PID; do wait "$p" 2>/dev/null || true; done
    CLIENT_PIDS="" NGX_PID="" REDIS_PID="" SRV_PID=""
}
trap 'servers_down; bench_cleanup' EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# up_mock ARGS...: `$MOCK_BIN mock` on a free port; sets SRV_URL. Returns 1 with the mock's
# complaint in $T/srv.err when it does not start (an old mock without the option asked for).
up_mock() {
    timeout 3600 "$MOCK_BIN" mock --listen 127.0.0.1:0 "$@" >"$T/srv.out" 2>"$T/srv.err" &
    SRV_PID=$!
    local _
    for _ in $(seq 1 100); do
        grep -q '^listening on ' "$T/srv.out" && break
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    SRV_URL=$(sed -n 's/^listening on //p' "$T/srv.out")
    [ -n "$SRV_URL" ]
}

# up_nginx RATE BURST: the server of tests/e2e/lib/nginx.sh's start_limit_req (one zone for
# every client, `burst=BURST nodelay`, each refusal a 429 with a JSON body and Retry-After: 1)
# in front of $SRV_URL, with the URI in its access log so that only /v1 requests are counted.
# Sets NGX_URL and NGX_LOG ("$msec $status $uri" per request).
up_nginx() {
    local rate=$1 burst=$2 d port _
    d=$(mktemp -d "$T/nginx.XXXXXX")
    mkdir -p "$d/tmp"
    port=$(free_port)
    cat >"$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $d/error.log warn;
pid $d/nginx.pid;
events { worker_connections 4096; }
http {
    log_format st '\$msec \$status \$uri';
    access_log $d/access.log st;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
    limit_req_zone \$server_port zone=rl:1m rate=${rate}r/s;
    upstream up { server ${SRV_URL#http://}; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        keepalive_requests 100000;
        location / {
            limit_req zone=rl burst=$burst nodelay;
            limit_req_status 429;
            error_page 429 = @refused;
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location @refused {
            add_header Retry-After 1 always;
            default_type application/json;
            return 429 '{"error":{"message":"rate limited by nginx","type":"rate_limit"}}';
        }
        location = /mock/stats { proxy_pass http://up; }
    }
}
CONF
    timeout 3600 nginx -c "$d/nginx.conf" -p "$d" 2>"$d/stderr" &
    NGX_PID=$!
    NGX_URL="http://127.0.0.1:$port"
    NGX_LOG="$d/access.log"
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$NGX_URL/mock/stats" && return 0
        sleep 0.05
    done
    cat "$d/stderr" "$d/error.log" >"$T/srv.err" 2>/dev/null
    return 1
}

up_redis() {
    local d _
    d=$(mktemp -d "$T/redis.XXXXXX")
    REDIS_PORT=$(free_port)
    timeout 3600 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$d" --appendonly yes \
        --save '' --daemonize no --logfile "$d/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 1 100); do
        [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    cp "$d/redis.log" "$T/srv.err"
    return 1
}

# input N [gen.py options]: the path of an N-line input (made once per shape).
input() {
    local f
    f="$T/in.$(echo "$*" | tr -c 'a-z0-9\n' _).jsonl"
    [ -s "$f" ] || python3 "$ROOT/tests/e2e/lib/gen.py" "$@" >"$f"
    echo "$f"
}

# tokens_of INPUT: "total first", the tokens the mock charges for the lines (prompt bytes / 4
# rounded up + max_tokens), and for the first line alone.
tokens_of() {
    python3 - "$1" <<'PY'
import json, math, sys
t = []
for l in open(sys.argv[1]):
    b = json.loads(l)["body"]
    t.append(math.ceil(sum(len(m["content"].encode()) for m in b["messages"]) / 4) + b["max_tokens"])
print(sum(t), t[0])
PY
}

# Floors (see the top): floor_rate N RATE LATENCY_MS, floor_win N Q S.
floor_rate() { awk -v n="$1" -v r="$2" -v l="$3" 'BEGIN { printf "%.2f", (n - 1) / r + l / 1000 }'; }
floor_win() { awk -v n="$1" -v q="$2" -v s="$3" 'BEGIN { printf "%.2f", int((n + q - 1) / q) * s }'; }
conc() { awk -v r="$1" -v l="$2" 'BEGIN { c = int(r * l / 1000 * 4 + 0.999); print (c < 64 ? 64 : c) }'; }

now() { date +%s.%N; }
missed=0

# report NAME MODE FLOOR WALL TIMED_OUT EXIT N DONE ATTEMPTS REFUSED OTHER CLIENT_ATTEMPTS
#        MAX_RATIO MAX_PCT MIN_ALLOWED NOTE: prints the row, appends it to $DATA, counts a miss.
report() {
    local line
    line=$(python3 - "$@" <<'PY'
import sys
(name, mode, floor, wall, timed_out, code, n, done, att, ref, other, catt, max_ratio, max_pct,
 allow, note) = sys.argv[1:]
notes = [note] if note else []
if att == "-":  # the server is gone: no verdict on the client
    notes.append("the server stopped answering")
    print("%s\t%s\t%.1f\t%.1f\t-\t-\t-\t-\tn/a\t%s" % (name, mode, float(floor), float(wall),
                                                       "; ".join(notes)))
    sys.exit(0)
floor, wall, n, done = float(floor), float(wall), int(n), int(done)
att, ref, other = int(att), int(ref), int(other)
timed_out = timed_out == "1"
pct = 100.0 * ref / att if att else 0.0
ratio = wall / floor
if timed_out:
    pace = " (~%.1fx at that pace)" % (wall * n / done / floor) if done else ""
    notes.append("stopped at %.0f s: %d/%d done%s" % (wall, done, n, pace))
elif done != n:
    notes.append("%d/%d succeeded, exit %s" % (done, n, code))
if other:
    notes.append("%d refused were not 429" % other)
if catt != "-" and int(catt) != att:
    notes.append("client counted %s attempts" % catt)
ok = (not timed_out and done == n and ratio <= float(max_ratio)
      and (ref <= max(float(max_pct) / 100 * att, float(allow))))
verdict = "ok" if ok else "MISSED"
w = (">" if timed_out else "") + "%.1f" % wall
r = (">" if timed_out else "") + "%.3f" % ratio
print("%s\t%s\t%.1f\t%s\t%s\t%d\t%d\t%.2f\t%s\t%s" % (
    name, mode, floor, w, r, att, ref, pct, verdict, "; ".join(notes)))
PY
)
    IFS=$'\t' read -r -a f <<<"$line"
    printf '%-30s %-8s %7s %7s %6s %8s %7s %8s  %-7s %s\n' "${f[@]}"
    [ -n "$DATA" ] && printf '%s\n' "$line" >>"$DATA"
    case ${f[8]} in MISSED) missed=$((missed + 1)) ;; esac
    return 0
}

# skip_row NAME MODE FLOOR WHY: a cell that could not run (no nginx, an old mock, ...).
skip_row() {
    printf '%-30s %-8s %7.1f %7s %6s %8s %7s %8s  %-7s %s\n' "$1" "$2" "$3" - - - - - n/a "$4"
    [ -n "$DATA" ] && printf '%s\t%s\t%.1f\t-\t-\t-\t-\t-\tn/a\t%s\n' "$1" "$2" "$3" "$4" >>"$DATA"
    return 0
}

# targets MODE: "MAX_RATIO MAX_PCT MIN_ALLOWED" for the verdict.
targets() {
    case $1 in
    told | headers) echo "1.05 1 0" ;;
    learned) echo "1.15 5 5" ;;
    dist-told) echo "1.10 2 0" ;;
    dist-learned) echo "1.25 5 5" ;;
    esac
}

selected() { [ -z "$CELLS" ] || [[ "$1 $2" =~ $CELLS ]]; }

# count_log LOG: "attempts refused other" from an nginx access log (/v1 requests only).
count_log() {
    awk '$3 ~ /^\/v1/ { n++; if ($2 != 200) r++; if ($2 != 200 && $2 != 429) o++ }
        END { print n + 0, r + 0, o + 0 }' "$1"
}

# count_mock: "attempts refused other" from the mock's /mock/stats (refused: not 200), or
# "- - -" when the mock does not answer.
count_mock() {
    curl -s --max-time 5 "$SRV_URL/mock/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
ok = s["status"].get("200", 0)
print(s["requests"], s["requests"] - ok, s["requests"] - ok - s["status"].get("429", 0))' 2>/dev/null ||
        echo - - -
}

done_lines() { grep -c '"error":null}$' "$1" 2>/dev/null || true; }
# client_stat KEY STATS_JSON: a value of sluice's --stats-json ("['attempts']"), or - if none.
client_stat() {
    python3 -c "import json, sys; print(json.load(open(sys.argv[1]))$1)" "$2" 2>/dev/null || echo -
}
client_attempts() { client_stat "['attempts']" "$1"; }

# run_client SECONDS URL INPUT C ARGS...: one `sluice run` bounded by `timeout`; sets WALL,
# CODE (124: stopped), DONE.
run_client() {
    local limit=$1 url=$2 in=$3 c=$4 start
    shift 4
    rm -f "$T/out.jsonl" "$T/stats.json"
    start=$(now)
    CODE=0
    timeout -k 15 "$limit" "$SLUICE" run "$in" -o "$T/out.jsonl" --base-url "$url" --provider none \
        -c "$c" --no-progress --stats-json "$T/stats.json" "$@" 2>"$T/client.err" &
    CLIENT_PIDS=$!
    wait "$CLIENT_PIDS" || CODE=$?
    CLIENT_PIDS=""
    WALL=$(awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }')
    DONE=$(done_lines "$T/out.jsonl")
}

stopped() { case $CODE in 124 | 137) echo 1 ;; *) echo 0 ;; esac; }
limit_of() { awk -v f="$1" -v c="$CAP" 'BEGIN { printf "%d", c * f + 30 }'; }

# mock_cell NAME MODE FLOOR INPUT C "MOCK ARGS" [CLIENT ARGS...]: a run against the mock.
mock_cell() {
    local name=$1 mode=$2 floor=$3 in=$4 c=$5 margs=$6 t
    shift 6
    selected "$name" "$mode" || return 0
    # shellcheck disable=SC2086  # MOCK ARGS are words
    if ! up_mock $margs; then
        skip_row "$name" "$mode" "$floor" "mock did not start: $(head -c 100 "$T/srv.err")"
        servers_down
        return 0
    fi
    local base=$SRV_URL
    case " $margs " in *" --provider gemini "*) base=$SRV_URL/v1beta/openai ;; esac # its only paths
    run_client "$(limit_of "$floor")" "$base" "$in" "$c" "$@"
    read -r att ref other <<<"$(count_mock)"
    t=$(targets "$mode")
    # shellcheck disable=SC2086
    report "$name" "$mode" "$floor" "$WALL" "$(stopped)" "$CODE" \
        "$(wc -l <"$in")" "$DONE" "$att" "$ref" "$other" "$(client_attempts "$T/stats.json")" \
        $t "${NOTE:-}"
    servers_down
}

# nginx_cell NAME MODE RATE BURST LATENCY_MS N [CLIENT ARGS...]: a run against nginx.
nginx_cell() {
    local name=$1 mode=$2 rate=$3 burst=$4 lat=$5 n=$6 floor in c t
    shift 6
    floor=$(floor_rate "$n" "$rate" "$lat")
    selected "$name" "$mode" || return 0
    command -v nginx >/dev/null || { skip_row "$name" "$mode" "$floor" "nginx is not installed"; return 0; }
    in=$(input "$n")
    c=$(conc "$rate" "$lat")
    if ! up_mock --latency "$lat" || ! up_nginx "$rate" "$burst"; then
        skip_row "$name" "$mode" "$floor" "server did not start: $(head -c 100 "$T/srv.err")"
        servers_down
        return 0
    fi
    run_client "$(limit_of "$floor")" "$NGX_URL" "$in" "$c" "$@"
    read -r att ref other <<<"$(count_log "$NGX_LOG")"
    t=$(targets "$mode")
    # shellcheck disable=SC2086
    report "$name" "$mode" "$floor" "$WALL" "$(stopped)" "$CODE" \
        "$n" "$DONE" "$att" "$ref" "$other" "$(client_attempts "$T/stats.json")" $t "c=$c"
    servers_down
}

# dist_cell NAME MODE RATE BURST N [RUN ARGS...]: `sluice run --redis` and 3 `sluice work`
# (bench/distributed.sh's setup) against nginx; wall is the run's (it writes OUTPUT).
dist_cell() {
    local name=$1 mode=$2 rate=$3 burst=$4 n=$5 floor in limit start pids="" k t _
    shift 5
    floor=$(floor_rate "$n" "$rate" "$LAT")
    selected "$name" "$mode" || return 0
    for k in nginx redis-server redis-cli; do
        command -v $k >/dev/null || { skip_row "$name" "$mode" "$floor" "$k is not installed"; return 0; }
    done
    in=$(input "$n")
    limit=$(limit_of "$floor")
    if ! up_mock --latency "$LAT" || ! up_nginx "$rate" "$burst" || ! up_redis; then
        skip_row "$name" "$mode" "$floor" "server did not start: $(head -c 100 "$T/srv.err")"
        servers_down
        return 0
    fi
    rm -f "$T/out.jsonl" "$T/stats.json"
    start=$(now)
    timeout -k 15 "$limit" "$SLUICE" run "$in" -o "$T/out.jsonl" --redis "redis://127.0.0.1:$REDIS_PORT" \
        --job rl --base-url "$NGX_URL" --provider none -c 64 --no-progress \
        --stats-json "$T/stats.json" "$@" 2>"$T/client.err" &
    local run=$!
    CLIENT_PIDS=$run
    for _ in $(seq 1 200); do
        [ "$(redis-cli -p "$REDIS_PORT" exists 'sluice:job:{rl}:meta')" = 1 ] && break
        sleep 0.05
    done
    for k in 1 2 3; do
        timeout -k 15 "$limit" "$SLUICE" work --redis "redis://127.0.0.1:$REDIS_PORT" --job rl -c 64 \
            --no-progress 2>"$T/work$k.err" &
        pids="$pids $!"
    done
    CLIENT_PIDS="$run$pids"
    CODE=0
    wait "$run" || CODE=$?
    WALL=$(awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }')
    for k in $pids; do
        [ "$CODE" = 0 ] || kill "$k" 2>/dev/null || true
        wait "$k" 2>/dev/null || true
    done
    CLIENT_PIDS=""
    DONE=$(done_lines "$T/out.jsonl")
    read -r att ref other <<<"$(count_log "$NGX_LOG")"
    t=$(targets "dist-$mode")
    # shellcheck disable=SC2086
    report "$name" "$mode" "$floor" "$WALL" "$(stopped)" "$CODE" \
        "$n" "$DONE" "$att" "$ref" "$other" - $t "4 processes, -c 64 each"
    servers_down
}

# rate_cells KIND RATE BURST_OR_WINDOW: a mock kind's told and learned runs.
rate_cells() {
    local kind=$1 rate=$2 x=$3 n floor name margs c in
    c=$(conc "$rate" "$LAT")
    case $kind in
    gcra | bucket | gemini | nginx-like)
        n=$((rate * 25 + 1))
        floor=$(floor_rate "$n" "$rate" "$LAT")
        name="$kind $rate/s b$x"
        case $kind in
        gemini) margs="--limiter gcra --burst $x --provider gemini" ;;
        nginx-like) margs="--limiter bucket --burst $x --retry-after 1" ;;
        *) margs="--limiter $kind --burst $x" ;;
        esac
        ;;
    fixed | sliding) # 25 windows of 1 s, 3 of 10 s
        local q=$((rate * x))
        n=$((q * (x == 1 ? 25 : 3)))
        floor=$(floor_win "$n" "$q" "$x")
        name="$kind $rate/s w${x}s"
        margs="--limiter $kind --window $x"
        ;;
    per-second)
        n=$((rate * 25))
        floor=$(floor_win "$n" "$rate" 1)
        name="$kind $rate/s"
        margs="--limiter per-second"
        ;;
    esac
    in=$(input "$n")
    margs="$margs --rpm $((rate * 60)) --latency $LAT"
    NOTE="c=$c" mock_cell "$name" told "$floor" "$in" "$c" "$margs" --rpm $((rate * 60))
    NOTE="c=$c" mock_cell "$name" learned "$floor" "$in" "$c" "$margs --no-rate-headers"
}

echo "sluice rate limits (issue 16): $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(machine_line); load $(cut -d' ' -f1-3 /proc/loadavg)"
# commit_of BIN: the commit of the tree BIN was built in (BIN in TREE/build/), "+dirty" if
# that tree's sources have changes.
commit_of() {
    local d
    d=$(cd "$(dirname "$1")/.." && pwd)
    git -C "$d" rev-parse --short HEAD 2>/dev/null | tr -d '\n' || { echo "unknown"; return; }
    [ -z "$(git -C "$d" status --porcelain --untracked-files=no -- \
        include src cli mock CMakeLists.txt 2>/dev/null)" ] || printf '+dirty'
    echo
}
echo "client: $SLUICE ($(commit_of "$SLUICE")); mock: $MOCK_BIN ($(commit_of "$MOCK_BIN"))"
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'); redis $(redis-server --version 2>/dev/null | sed 's/.*v=\([^ ]*\).*/\1/')"
echo "CELLS='$CELLS' CAP=$CAP; answers take $LAT ms unless said; floor, targets: see the top of bench/ratelimit.sh"
echo
# Printed by report (below) for each row; the TSV has the same columns without padding.
COLS=(cell mode floor_s wall_s ratio attempts refused refused% verdict note)
printf '%-30s %-8s %7s %7s %6s %8s %7s %8s  %-7s %s\n' "${COLS[@]}"
if [ -n "$DATA" ]; then (IFS=$'\t' && echo "${COLS[*]}") >"$DATA"; fi

# nginx limit_req (issue 16's server) ----------------------------------------------------------
for rate in 2 20 100 500; do
    for burst in 1 10; do
        n=$((rate * 25 + 1))
        nginx_cell "nginx $rate/s b$burst" told "$rate" "$burst" "$LAT" "$n" --rpm $((rate * 60))
        nginx_cell "nginx $rate/s b$burst" learned "$rate" "$burst" "$LAT" "$n"
    done
done
nginx_cell "nginx 100/s b10 1s answers" told 100 10 1000 2501 --rpm 6000
nginx_cell "nginx 100/s b10 1s answers" learned 100 10 1000 2501
dist_cell "dist nginx 100/s b10" told 100 10 2501 --rpm 6000
dist_cell "dist nginx 100/s b10" learned 100 10 2501

# the mock's limiter kinds ---------------------------------------------------------------------
for kind in gcra bucket; do
    for rate in 20 100; do
        for burst in 1 10; do rate_cells "$kind" "$rate" "$burst"; done
    done
done
for kind in fixed sliding; do
    for rate in 20 100; do
        for window in 1 10; do rate_cells "$kind" "$rate" "$window"; done
    done
done
rate_cells per-second 20 1
rate_cells per-second 100 1
rate_cells gemini 100 10
# nginx's own limiter (bucket) with nginx's fixed Retry-After: 1, in the mock: when its rows
# match the nginx rows, a pacer can be debugged against the mock alone.
rate_cells nginx-like 100 10

# A token bucket on tokens: 500 requests of ~600 tokens (2,000-byte prompts + max_tokens 100)
# at 720k TPM (12k tokens/s, 20 requests/s), 6,000 tokens (10 requests) of burst beyond the
# first request's.
in=$(input 500 --prompt-bytes 2000 --max-tokens 100)
read -r tok first <<<"$(tokens_of "$in")"
floor=$(awk -v t="$tok" -v f="$first" 'BEGIN { printf "%.2f", (t - f) / 12000 + 0.05 }')
margs="--limiter bucket --tpm 720000 --token-burst 6000 --latency $LAT"
NOTE="$tok tokens" mock_cell "tpm bucket 12k tok/s b6000" told "$floor" "$in" 64 "$margs" --tpm 720000
NOTE="$tok tokens" mock_cell "tpm bucket 12k tok/s b6000" learned "$floor" "$in" 64 "$margs --no-rate-headers"

# Today's cells: the mock's default limiter (GCRA, --burst-s 1: 100 requests at once) --------
in=$(input 3000)
floor=$(floor_rate 3000 100 "$LAT")
mock_cell "default 100/s burst-s 1" told "$floor" "$in" 64 "--rpm 6000 --latency $LAT" --rpm 6000
mock_cell "default 100/s burst-s 1" headers "$floor" "$in" 64 "--rpm 6000 --latency $LAT"
mock_cell "default 100/s burst-s 1" learned "$floor" "$in" 64 "--rpm 6000 --latency $LAT --no-rate-headers"
# TPM-bound, announced in headers: 600 x ~600 tokens at 720k TPM (--burst-s 1: 12k tokens).
in=$(input 600 --prompt-bytes 2000 --max-tokens 100)
read -r tok first <<<"$(tokens_of "$in")"
floor=$(awk -v t="$tok" -v f="$first" 'BEGIN { printf "%.2f", (t - f) / 12000 + 0.05 }')
NOTE="$tok tokens" mock_cell "default tpm 12k tok/s" headers "$floor" "$in" 64 \
    "--rpm 6000 --tpm 720000 --latency $LAT"
# -c auto against a server that refuses beyond 40 in flight with 503 (refused: the 503s). Its
# own targets: any time (4000 x 50 ms / 40 = 5 s is not reachable while probing), <= 2%.
if selected "default -c auto conc 40" learned; then
    in=$(input 4000)
    up_mock --max-concurrency 40 --overload-status 503 --latency "$LAT" || die "mock did not start"
    run_client 300 "$SRV_URL" "$in" auto
    read -r att ref other <<<"$(count_mock)"
    report "default -c auto conc 40" learned 5 "$WALL" "$(stopped)" \
        "$CODE" 4000 "$DONE" "$att" "$ref" 0 "$(client_attempts "$T/stats.json")" 100 2 0 \
        "ends at c=$(client_stat "['limits']['concurrency']" "$T/stats.json")"
    servers_down
fi

# No limit, 2 s answers: learned mode must not cost time; -c 64 allows ceil(768 / 64) x 2 s.
in=$(input 768)
if selected "none 2s answers" learned; then
    up_mock --latency 2000 || die "mock did not start"
    run_client 120 "$SRV_URL" "$in" 64
    read -r att ref other <<<"$(count_mock)"
    report "none 2s answers" learned 24 "$WALL" "$(stopped)" "$CODE" \
        768 "$DONE" "$att" "$ref" "$other" "$(client_attempts "$T/stats.json")" 1.10 5 5 "c=64"
    servers_down
fi

echo
if [ "$missed" -gt 0 ]; then
    echo "$missed cell(s) missed their targets"
    [ "$CHECK" = 0 ] || exit 1
fi
