# Shared helpers for end-to-end tests. Source it: . "$SRCDIR/tests/e2e/lib/common.sh"
# Every test gets its own temp dir ($T) and its servers are stopped on exit, whatever happens.
set -euo pipefail
: "${SLUICE:?SLUICE must name the sluice binary (ctest sets it)}"
: "${SRCDIR:?SRCDIR must name the source tree (ctest sets it)}"
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-e2e.XXXXXX")
_PIDS=""
cleanup() {
    for p in $_PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $_PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# start_mock [mock options...]: starts `sluice mock --listen 127.0.0.1:0 ...` in the background,
# waits for its "listening on" line, and sets MOCK_URL and MOCK_PID. Each call gets a fresh mock.
# Call it directly, never inside $(...): a subshell would hide the PID from cleanup.
start_mock() {
    local out="$T/mock.$RANDOM.out"
    # The mock stops by itself after 10 minutes at most, even if this shell is killed.
    timeout 600 "$SLUICE" mock --listen 127.0.0.1:0 "$@" >"$out" 2>"$out.err" &
    MOCK_PID=$!
    _PIDS="$_PIDS $MOCK_PID"
    local i
    for i in $(seq 1 100); do
        if grep -q '^listening on ' "$out" 2>/dev/null; then
            MOCK_URL=$(sed -n 's/^listening on //p' "$out" | head -n1)
            return 0
        fi
        sleep 0.05
    done
    cat "$out.err" >&2
    fail "mock did not start"
}

# mock_stat KEY: a top-level numeric counter from GET /mock/stats (python3 reads the JSON).
mock_stat() {
    curl -s "$MOCK_URL/mock/stats" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"
}

# metrics_url ERR: waits for the "metrics at URL" line a run with --metrics writes to the file
# ERR (its stderr), and sets METRICS_URL (http://127.0.0.1:PORT/metrics) and METRICS_PORT.
metrics_url() {
    local i
    for i in $(seq 1 100); do
        grep -q "metrics at http://" "$1" 2>/dev/null && break
        sleep 0.05
    done
    METRICS_URL=$(sed -n 's|^sluice: metrics at \(http://[^ ]*\)$|\1|p' "$1")
    [ -n "$METRICS_URL" ] || fail "no metrics address on stderr: $(cat "$1")"
    METRICS_PORT=$(echo "$METRICS_URL" | sed -n 's|^http://[^:]*:\([0-9]*\)/.*|\1|p')
}

# start_h1 MODE: the raw server of tests/e2e/lib/h1_server.py (MODE: see its usage); sets H1_URL,
# and H1_STATS, the file where it counts "connections requests". Call it directly, as start_mock.
start_h1() {
    local out="$T/h1.$RANDOM.out"
    H1_STATS="$out.stats"
    timeout 600 python3 "$SRCDIR/tests/e2e/lib/h1_server.py" "$1" "$H1_STATS" >"$out" 2>&1 &
    _PIDS="$_PIDS $!"
    local i
    for i in $(seq 1 100); do
        H1_URL=$(sed -n 's/^listening on //p' "$out" 2>/dev/null | head -n1)
        [ -n "$H1_URL" ] && return 0
        sleep 0.05
    done
    cat "$out" >&2
    fail "h1_server.py $1 did not start"
}
