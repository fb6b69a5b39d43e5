#!/bin/bash
# kill -9 of the `sluice run` that feeds the job and writes OUTPUT, then the same command again:
# it completes (exit 0), OUTPUT holds each id exactly once, and nothing was fed twice (the
# stream's entries-added is N). Once with a worker that keeps going meanwhile, once alone.
. "$SRCDIR/tests/e2e/lib/common.sh"
. "$SRCDIR/tests/e2e/lib/redis.sh"
N=1500
C=16
start_redis
python3 "$SRCDIR/tests/e2e/lib/gen.py" $N >"$T/in.jsonl"

# kill_run_then_rerun JOB WORKERS: starts the run (a small --backlog, so that it is killed
# while still feeding), WORKERS extra workers, kills the run with SIGKILL after 3 s, runs the
# same command again to the end, and checks OUTPUT, the stream and the mock.
kill_run_then_rerun() {
    local job=$1 nworkers=$2
    start_mock --latency 50
    local args=(run "$T/in.jsonl" -o "$T/$job.out" --redis "$REDIS_URL" --job "$job"
        --base-url "$MOCK_URL" --provider none --rpm 12000 -c "$C" --backlog 200 --claim-idle 2
        --no-progress)
    timeout 120 "$SLUICE" "${args[@]}" 2>"$T/$job.err1" &
    local run_t=$! run k p rc
    run=$(child_of "$run_t")
    wait_job "$job"
    local workers=""
    for k in $(seq 1 "$nworkers"); do
        timeout 120 "$SLUICE" work --redis "$REDIS_URL" --job "$job" -c $C --no-progress \
            2>"$T/$job.work$k.err" &
        workers="$workers $!"
    done
    sleep 3
    kill -9 "$run"
    rc=0; wait "$run_t" || rc=$?
    [ "$rc" = 137 ] || fail "$job: the first run was not killed mid-run (exit $rc)"
    local before added fed
    before=$(wc -l <"$T/$job.out")
    added=$(rcli xinfo stream "sluice:job:{$job}:in" | sed -n '/^entries-added$/{n;p}')
    [ "$added" -lt $N ] || fail "$job: everything was fed before the kill: nothing to continue"
    fed=$added
    [ "$before" -lt $N ] || fail "$job: everything was written before the kill"

    timeout 120 "$SLUICE" "${args[@]}" 2>"$T/$job.err2" || fail "$job: rerun: exit $?: $(cat "$T/$job.err2")"
    k=0
    for p in $workers; do
        k=$((k + 1))
        rc=0; wait "$p" || rc=$?
        [ "$rc" = 0 ] || fail "$job: worker $k: exit $rc: $(cat "$T/$job.work$k.err")"
    done
    python3 "$SRCDIR/tests/e2e/lib/check_results.py" "$T/in.jsonl" "$T/$job.out" --all-success ||
        fail "$job: results"
    added=$(rcli xinfo stream "sluice:job:{$job}:in" | sed -n '/^entries-added$/{n;p}')
    [ "$added" = $N ] || fail "$job: $added entries added to the stream for $N lines"
    # Only what the killed run had in flight was sent twice: a worker hands out no more than
    # its -c slots counting results Redis has not acknowledged (max_outstanding). Sending
    # committed work again would show as hundreds more.
    local requests
    requests=$(mock_stat "['requests']")
    [ "$requests" -le $((N + C)) ] || fail "$job: $requests requests for $N lines (-c $C)"
    echo "$job: killed with $fed lines fed, $before results written; then $requests requests in all"
}

kill_run_then_rerun withworker 1
kill_run_then_rerun alone 0
echo ok
