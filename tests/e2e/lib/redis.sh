# A redis-server of the test's own, for the distributed-mode tests. Source it after common.sh:
#   . "$SRCDIR/tests/e2e/lib/common.sh"; . "$SRCDIR/tests/e2e/lib/redis.sh"
# Sourcing it exits 77 (skipped) when redis-server or redis-cli is not installed.
# The server listens on 127.0.0.1 only, keeps its append-only file in a directory under $T
# ($REDIS_DIR, fresh for each start_redis), stops by itself after 10 minutes at most, and is
# stopped by the cleanup of common.sh.
# shellcheck shell=bash disable=SC2034  # REDIS_* are read by the tests that source this
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "skip: redis-server or redis-cli is not installed"
    exit 77
fi

REDIS_DIR=""
REDIS_PORT=""
REDIS_PID=""
REDIS_SERVER_PID=""
REDIS_URL=""

# free_port: a TCP port on 127.0.0.1 that nobody listened on a moment ago.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# rcli ARGS...: redis-cli against the test's server (with $REDIS_AUTH as password, if set).
rcli() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ${REDIS_AUTH:+-a "$REDIS_AUTH" --no-auth-warning} "$@"
}

# _redis_launch: starts redis-server on $REDIS_PORT with $REDIS_DIR and waits for PING;
# returns 1 if it exits first (the port was taken). Extra server options come from the array
# REDIS_EXTRA, e.g. (--requirepass pw); then set REDIS_AUTH=pw too.
_redis_launch() {
    timeout 600 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
        --appendonly yes --save '' --daemonize no --logfile "$REDIS_DIR/redis.log" \
        ${REDIS_EXTRA[@]+"${REDIS_EXTRA[@]}"} &
    REDIS_PID=$!
    _PIDS="$_PIDS $REDIS_PID"
    local _
    for _ in $(seq 1 200); do
        # While it loads its AOF the server answers -LOADING: wait for a real PONG.
        if [ "$(rcli ping 2>/dev/null)" = PONG ]; then
            # REDIS_PID is timeout's; a SIGKILL must reach the server itself. And the server
            # that answers must be ours, not another one that had the port first.
            REDIS_SERVER_PID=$(rcli info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
            [ "$(ps -o ppid= -p "$REDIS_SERVER_PID" | tr -d ' ')" = "$REDIS_PID" ] && return 0
            REDIS_SERVER_PID=""
            break
        fi
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=""
    return 1
}

# start_redis [server options...]: a fresh redis-server on a free port; sets REDIS_PORT,
# REDIS_PID and REDIS_URL (redis://127.0.0.1:PORT). Call it directly, never inside $(...):
# a subshell would hide the PID from cleanup.
start_redis() {
    REDIS_EXTRA=("$@")
    REDIS_DIR=$(mktemp -d "$T/redis.XXXXXX")
    local _
    for _ in 1 2 3; do
        # Another process may take the port between free_port and the bind: then try another.
        REDIS_PORT=$(free_port)
        if _redis_launch; then
            REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
            return 0
        fi
    done
    cat "$REDIS_DIR/redis.log" >&2 || true
    fail "redis-server did not start"
}

# stop_redis: kills the server at once, like a crash (SIGKILL: what it acknowledged is in the
# AOF already, written before each reply), and waits for it.
stop_redis() {
    [ -n "$REDIS_PID" ] || return 0
    kill -9 "$REDIS_SERVER_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=""
    REDIS_SERVER_PID=""
}

# child_of PID: the PID of PID's only child (the program a `timeout` runs), waiting for it
# to appear.
child_of() {
    local _ c
    for _ in $(seq 1 100); do
        c=$(ps -o pid= --ppid "$1" | tr -d ' ' | head -n1)
        [ -n "$c" ] && { echo "$c"; return 0; }
        sleep 0.02
    done
    fail "process $1 has no child"
}

# restart_redis: starts the server again on the same port and directory; the AOF brings the
# data back.
restart_redis() {
    _redis_launch || { cat "$REDIS_DIR/redis.log" >&2; fail "redis-server did not restart on $REDIS_PORT"; }
}

# wait_job NAME: waits until the job exists in Redis (the run that creates it has written its
# settings), so that workers started next find them.
wait_job() {
    local _
    for _ in $(seq 1 200); do
        [ "$(rcli exists "sluice:job:{$1}:meta")" = 1 ] && return 0
        sleep 0.05
    done
    fail "job $1 was not created in Redis"
}
