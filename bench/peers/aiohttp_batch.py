#!/usr/bin/python3
"""The batch script people write today: asyncio + aiohttp + a Semaphore + tenacity.

    aiohttp_batch.py INPUT.jsonl OUTPUT.jsonl --base-url URL [-c 64] [--max-attempts 8]

Reads OpenAI Batch API lines ({"custom_id", "url", "body"}), posts each body with at most
-c requests in flight, retries 429/5xx/connection errors with tenacity (exponential backoff
with jitter), and writes one result line per input line in the same shape as `sluice run`.
This is a benchmark peer for bench/compare.sh: written the idiomatic way, not tuned, using
Debian's python3-aiohttp and python3-tenacity.
"""
import argparse
import asyncio
import json
import os
import sys

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)


class RetryableStatus(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


RETRYABLE = (RetryableStatus, aiohttp.ClientError, asyncio.TimeoutError)


async def call(session, sem, base_url, line, max_attempts):
    req = json.loads(line)
    url = base_url + req.get("url", "/v1/chat/completions")
    result = {"id": req["custom_id"], "custom_id": req["custom_id"], "response": None,
              "error": None}
    async with sem:
        try:
            async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(max_attempts),
                    wait=wait_random_exponential(multiplier=1, max=60),
                    retry=retry_if_exception_type(RETRYABLE),
                    reraise=True):
                with attempt:
                    async with session.post(url, json=req["body"]) as resp:
                        body = await resp.json(content_type=None)
                        if resp.status == 429 or resp.status >= 500:
                            raise RetryableStatus(resp.status, body)
                        result["response"] = {
                            "status_code": resp.status,
                            "request_id": resp.headers.get("x-request-id"),
                            "body": body,
                        }
        except RetryableStatus as e:
            result["response"] = {"status_code": e.status, "body": e.body}
            result["error"] = {"code": "http_%d" % e.status, "message": str(e)}
        except Exception as e:  # noqa: BLE001 -- a batch must not die for one line
            result["error"] = {"code": type(e).__name__, "message": str(e)}
    if result["error"] is None and result["response"]["status_code"] >= 400:
        result["error"] = {"code": "http_%d" % result["response"]["status_code"],
                           "message": "request failed"}
    return result


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL",
                                                          "https://api.openai.com"))
    ap.add_argument("-c", "--concurrency", type=int, default=64)
    ap.add_argument("--max-attempts", type=int, default=8)
    args = ap.parse_args()

    headers = {"Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "sk-none")}
    sem = asyncio.Semaphore(args.concurrency)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=600)
    failed = 0
    async with aiohttp.ClientSession(headers=headers, connector=connector,
                                     timeout=timeout) as session:
        with open(args.input) as f:
            tasks = [asyncio.create_task(call(session, sem, args.base_url, line,
                                              args.max_attempts))
                     for line in f if line.strip()]
        with open(args.output, "w") as out:
            for fut in asyncio.as_completed(tasks):
                result = await fut
                failed += result["error"] is not None
                out.write(json.dumps(result) + "\n")
    print(f"{len(tasks)} requests, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
