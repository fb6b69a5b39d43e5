#!/usr/bin/python3
"""Turns a batch JSONL into the inputs of bench/compare.sh's other clients.

    to_curl_config.py INPUT.jsonl BASE_URL CURL_CONFIG WRK_BODIES [WRK_MAX]

CURL_CONFIG: one transfer per input line for `curl --parallel --config`: the line's URL
and body, a JSON content type, and a newline after each response, so the output has one
response per line. WRK_BODIES: the first WRK_MAX bodies (default 1000), one per line, for
bench/peers/wrk_post.lua. Bodies are sent byte for byte as compact JSON.
"""
import json
import sys


def quoted(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    src, base_url, cfg_path, bodies_path = sys.argv[1:5]
    wrk_max = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    with open(src) as f, open(cfg_path, "w") as cfg, open(bodies_path, "w") as bodies:
        for i, line in enumerate(f):
            req = json.loads(line)
            body = json.dumps(req["body"], separators=(",", ":"))
            if i:
                cfg.write("next\n")
            cfg.write("url = %s\n" % quoted(base_url + req.get("url", "/v1/chat/completions")))
            cfg.write('header = "Content-Type: application/json"\n')
            cfg.write("data-binary = %s\n" % quoted(body))
            cfg.write('write-out = "\\n"\n')
            if i < wrk_max:
                bodies.write(body + "\n")


if __name__ == "__main__":
    main()
