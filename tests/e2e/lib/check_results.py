#!/usr/bin/env python3
"""Compares the ids of an input JSONL file with a results file.

usage: check_results.py INPUT OUTPUT [--all-success] [--expect-failed N] [--failed-code CODE]

Checks that every input line has exactly one result line (by custom_id, or line-N for bare
bodies), that no result is extra, and that every result line is valid JSON in the documented
shape. Prints one line per problem and exits 1 if there is any.
"""
import json
import sys


def main():
    args = sys.argv[1:]
    inp, out = args[0], args[1]
    all_success = "--all-success" in args
    expect_failed = None
    failed_code = None
    if "--expect-failed" in args:
        expect_failed = int(args[args.index("--expect-failed") + 1])
    if "--failed-code" in args:
        failed_code = args[args.index("--failed-code") + 1]
    want = []
    with open(inp, "rb") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                o = json.loads(line)
                cid = o.get("custom_id") if isinstance(o, dict) else None
            except ValueError:
                cid = None
            want.append(cid if isinstance(cid, str) and cid else "line-%d" % n)
    problems = []
    seen = {}
    failed = 0
    with open(out, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                o = json.loads(raw)
            except ValueError as e:
                problems.append("%s:%d: not JSON: %s" % (out, n, e))
                continue
            for k in ("id", "custom_id", "response", "error"):
                if k not in o:
                    problems.append("%s:%d: no %r key" % (out, n, k))
            cid = o.get("custom_id")
            seen[cid] = seen.get(cid, 0) + 1
            if o.get("error") is not None:
                failed += 1
                if all_success:
                    problems.append("%s:%d: %s failed: %s" % (out, n, cid, o["error"]))
                if failed_code and o["error"].get("code") != failed_code:
                    problems.append("%s:%d: %s failed with %s, expected %s"
                                    % (out, n, cid, o["error"].get("code"), failed_code))
            elif not (o.get("response") and 200 <= o["response"].get("status_code", 0) < 300):
                problems.append("%s:%d: %s has error null but no 2xx response" % (out, n, cid))
    wanted = {}
    for cid in want:
        wanted[cid] = wanted.get(cid, 0) + 1
    for cid in wanted:
        if cid not in seen:
            problems.append("missing result for %s" % cid)
    for cid, k in seen.items():
        if cid not in wanted:
            problems.append("result for unknown id %s" % cid)
        elif k != 1 and wanted[cid] == 1:
            problems.append("%d results for %s" % (k, cid))
    if expect_failed is not None and failed != expect_failed:
        problems.append("%d failed lines, expected %d" % (failed, expect_failed))
    for p in problems[:20]:
        print(p)
    if problems:
        print("%d problems (%d input ids, %d result lines)" % (len(problems), len(want), sum(seen.values())))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
