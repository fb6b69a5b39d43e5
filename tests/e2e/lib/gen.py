#!/usr/bin/env python3
"""Writes N OpenAI Batch request lines to stdout.

usage: gen.py N [--url PATH] [--bare] [--prefix P] [--max-tokens K] [--prompt-bytes B]
"""
import json
import sys

args = sys.argv[1:]
n = int(args[0])
url = args[args.index("--url") + 1] if "--url" in args else "/v1/chat/completions"
prefix = args[args.index("--prefix") + 1] if "--prefix" in args else "req"
max_tokens = int(args[args.index("--max-tokens") + 1]) if "--max-tokens" in args else 16
pbytes = int(args[args.index("--prompt-bytes") + 1]) if "--prompt-bytes" in args else 0
bare = "--bare" in args
out = sys.stdout
for i in range(1, n + 1):
    text = "Say something about item %d." % i
    if pbytes > len(text):
        text += " " + "x" * (pbytes - len(text) - 1)
    if url.endswith("/embeddings"):
        body = {"model": "text-embedding-3-small", "input": text}
    elif url.endswith("/messages"):
        body = {"model": "claude-3-5-haiku-latest", "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": text}]}
    else:
        body = {"model": "gpt-4o-mini", "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": text}]}
    if bare:
        out.write(json.dumps(body, separators=(",", ":")) + "\n")
    else:
        out.write(json.dumps({"custom_id": "%s-%d" % (prefix, i), "method": "POST", "url": url,
                              "body": body}, separators=(",", ":")) + "\n")
