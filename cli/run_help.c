/* `sluice run --help`: every option with its default. Kept apart from run.c, which is long. */
#include <stdio.h>

#include "cli.h"

void cli_run_usage(FILE *f) {
    fprintf(
        f,
        "usage: sluice run [options] INPUT|-\n"
        "\n"
        "Sends every request of a JSONL file (OpenAI Batch format, or bare bodies with --url)\n"
        "in parallel, as fast as the limits allow, and writes one result line per input line.\n"
        "\n"
        "  -o, --output PATH        results file (required); '-' for stdout (no --resume)\n"
        "      --base-url URL       default $SLUICE_BASE_URL, else $OPENAI_BASE_URL,\n"
        "                           else https://api.openai.com\n"
        "      --url PATH           request path for bare-body lines (e.g. /v1/embeddings)\n"
        "      --provider NAME      openai (default) | azure | anthropic | gemini | none: the\n"
        "                           auth header to send (Bearer, api-key, x-api-key +\n"
        "                           anthropic-version, Bearer, nothing). Every provider's\n"
        "                           rate-limit headers and error bodies are read whatever it is\n"
        "      --api-key-env NAME   variable holding the key (default OPENAI_API_KEY,\n"
        "                           AZURE_OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY)\n"
        "      --api-key-file PATH  read the key from a file instead (first line)\n"
        "  -H, --header 'K: V'      extra request header, repeatable\n"
        "  -c, --concurrency N|auto most requests in flight (default 64); auto adapts the\n"
        "                           limit (starts at 16, between 1 and 1024): cut by 20%%\n"
        "                           on overload answers\n"
        "                           (503/529, 429 'concurrent') or timeouts, cut when latency\n"
        "                           passes 2x its no-load value, +1 per limit's successes\n"
        "      --rpm N              request budget per minute, paced evenly (GCRA)\n"
        "      --tpm N              token budget per minute, from each request's estimate\n"
        "                           (prompt bytes/4 + max_tokens), reconciled with usage\n"
        "                           (default for both: learned from the provider's\n"
        "                           rate-limit headers, else from its 429s)\n"
        "      --burst S            burst the budgets allow, in seconds of budget (default 0.5)\n"
        "      --max-attempts N     attempts before a request is written as failed (default 8)\n"
        "      --timeout SECONDS    per attempt (default 600)\n"
        "      --connect-timeout S  (default 10)\n"
        "      --backoff-base S     first retry delay ceiling, full jitter (default 1)\n"
        "      --backoff-cap S      largest retry delay (default 60)\n"
        "      --resume             keep OUTPUT's successes, re-run failed and missing ids,\n"
        "                           append\n"
        "      --ordered            write results in input order (bounded reorder buffer;\n"
        "                           dispatch waits when it is full)\n"
        "      --stats-json PATH    write the summary as JSON at the end ('-' for stdout)\n"
        "      --progress, --no-progress\n"
        "                           status line redrawn in place, or none (default: redrawn\n"
        "                           on a terminal, else a plain progress line every 10 s)\n"
        "      --metrics HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics while\n"
        "                           the run goes on (default: off; port 0 picks one)\n"
        "      --log FILE           one JSON line per attempt: id, attempt, status, latency,\n"
        "                           wait (default: off; never keys or headers)\n");
    fprintf(
        f,
        "\n"
        "Cost (USD per million tokens; model read from each body's \"model\"):\n"
        "      --price-in USD       input price for every model (default: built-in table)\n"
        "      --price-out USD      output price for every model (default: built-in table;\n"
        "                           0 when only --price-in is given)\n"
        "      --prices FILE        JSON {\"model\": {\"in\": USD, \"out\": USD}} over the\n"
        "                           built-in table (default: none)\n"
        "      --max-cost USD       send nothing that could take the spend, with the estimates\n"
        "                           of requests in flight, past USD; stops with exit 3 (default:\n"
        "                           no budget)\n"
        "      --dry-run            validate every line and estimate tokens, cost and the least\n"
        "                           time at --rpm/--tpm; sends nothing, -o not needed; exit 1\n"
        "                           if some lines are invalid (default: off)\n"
        "      --cacert PATH        CA bundle for TLS verification (default: the system's)\n"
        "      --insecure           do not verify TLS certificates\n"
        "      --seed N             seed for retry jitter, to replay a run (default: clock)\n"
        "      --max-retry-after S  a 429 that asks to wait longer than this is treated as an\n"
        "                           exhausted quota: stop (exit 3) instead of waiting in\n"
        "                           silence (default 600)\n"
        "      --fsync S            fsync OUTPUT every S seconds while writing, and at the end\n"
        "                           (default 1; 0: never). Lines are written whole (one\n"
        "                           write(2) per batch), so a crash leaves at most a torn last\n"
        "                           line, which --resume drops\n"
        "      --drain-timeout S    after the first Ctrl-C/SIGTERM, wait this long for requests\n"
        "                           in flight, then abandon them (default 60; 0: wait)\n"
        "      --give-up-after S    stop (exit 3) when the provider has been down this long:\n"
        "                           the circuit breaker opens when most recent attempts fail\n"
        "                           with 5xx or connection errors; while it is open requests\n"
        "                           wait, probing after a growing cool-down (default 900)\n"
        "  -h, --help               this help\n"
        "\n"
        "Retries: 408, 409, 429, 5xx, resets and timeouts are retried with exponential backoff\n"
        "and full jitter, honouring Retry-After, retry-after-ms and x-should-retry. Other 4xx\n"
        "are final. A 429 pauses all dispatch until its Retry-After time. 401/403 and an\n"
        "exhausted quota stop the run (exit 3) so nothing is wasted.\n"
        "\n"
        "Environment:\n"
        "  SLUICE_BASE_URL, OPENAI_BASE_URL   the default --base-url, in this order\n"
        "  http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY   proxies, as curl reads them\n"
        "  SLUICE_HTTP=curl   send every request through libcurl; by default plain http://\n"
        "                     URLs with no proxy go through sluice's own lighter HTTP/1.1\n"
        "                     client (libcurl keeps https://, HTTP/2 and proxies)\n"
        "\n"
        "Exit status: 0 all succeeded; 1 some lines failed; 2 bad usage or unreadable input;\n"
        "3 stopped early (signal, auth, quota, full disk, --max-cost) with work left for\n"
        "--resume.\n");
    cli_dist_usage(f, 0);
}

void cli_dist_usage(FILE *f, int worker) {
    fprintf(f,
            "\n"
            "Several processes, several machines (Redis 7; see README \"Running on several "
            "machines\"):\n"
            "      --redis URL          redis://[[user]:password@]host[:port][/db] or\n"
            "                           unix:///path[?db=n]; the password may come from\n"
            "                           $SLUICE_REDIS_PASSWORD.%s\n"
            "      --job NAME           the job's name in Redis\n"
            "                           (%s)\n"
            "      --limit-key KEY      processes naming the same KEY share one rate budget, even\n"
            "                           across jobs (default: the base URL and a hash of the API\n"
            "                           key; the key itself is never stored)\n"
            "      --claim-idle S       take over entries a dead worker left idle this long\n"
            "                           (default 60)\n"
            "      --max-deliveries N   an entry delivered more often is written as failed\n"
            "                           (default 5)\n",
            worker ? ""
                   : "\n                           The job lives in Redis: this run feeds INPUT\n"
                     "                           into it, works on it and writes every result to\n"
                     "                           OUTPUT; after a crash, run it again: it goes on\n"
                     "                           where it stopped",
            worker ? "required" : "default: INPUT's file name without extension");
    if (worker)
        fprintf(f, "      --follow             when the job is done, wait for more lines instead "
                   "of exiting\n");
    else
        fprintf(f, "      --backlog N          most lines waiting in Redis at once (default "
                   "10000)\n");
}

void cli_work_usage(FILE *f) {
    fprintf(f,
            "usage: sluice work --redis URL --job NAME [options]\n"
            "\n"
            "One more worker for a job that `sluice run INPUT -o OUTPUT --redis URL --job NAME`\n"
            "feeds: pulls the job's lines from Redis, sends them within the shared rate budget,\n"
            "and commits each result to Redis (the run writes OUTPUT). Exits when every line of\n"
            "the job has its result. The job's request settings (--base-url, --provider, --url,\n"
            "-H, --rpm, --tpm, --burst, --max-attempts, --timeout, --limit-key, --claim-idle,\n"
            "--max-deliveries) come from the job; given here they must match. The API key is\n"
            "never stored: each worker reads its own (--api-key-env, --api-key-file).\n"
            "\n"
            "  -c, --concurrency N|auto this worker's requests in flight (default 64)\n"
            "      --api-key-env NAME, --api-key-file PATH, --cacert PATH, --insecure,\n"
            "      --connect-timeout S, --give-up-after S (also: Redis unreachable this long\n"
            "                           stops the worker, exit 3), --progress, --no-progress,\n"
            "      --stats-json PATH, --metrics HOST:PORT, --log FILE: as for sluice run\n");
    cli_dist_usage(f, 1);
}
