#!/usr/bin/env python3
"""A raw HTTP/1.1 server for the fast-path tests: answers in ways the mock does not.

usage: h1_server.py MODE STATS_FILE
  chunked     every answer is a chunked JSON body, in several chunks
  close-idle  Content-Length answers, no "Connection: close", but the connection is closed
              right after each answer (as a server's idle timeout would, at the worst moment)
  reset       the connection is reset (RST) as soon as a request's head has arrived, while
              the client is still sending a large body
  nested      every answer's JSON holds a value nested 100 levels deep
  big:N       a request whose body holds the word BIG gets N bytes of JSON (a long string)
  bigtext:N   a request whose body holds the word BIG gets N control bytes as text/plain
              (big:N:close, bigtext:N:close: without Content-Length, ended by closing)
  header:H    every answer carries the header line H ("x-ratelimit-limit-tokens: 1")

Prints "listening on http://127.0.0.1:PORT" first; after each request it rewrites STATS_FILE
with "connections requests".
"""
import json
import socket
import socketserver
import struct
import sys
import threading

MODE, STATS = sys.argv[1], sys.argv[2]
KIND, _, ARG = MODE.partition(":")
lock = threading.Lock()
counts = {"conns": 0, "requests": 0}


def bump(key):
    with lock:
        counts[key] += 1
        with open(STATS, "w") as f:
            f.write("%d %d\n" % (counts["conns"], counts["requests"]))


def answer_body(n):
    a = {"id": "chatcmpl-%d" % n, "object": "chat.completion",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "chunk " * 40}}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 40, "total_tokens": 43}}
    if KIND == "nested":
        a["deep"] = json.loads("[" * 100 + "]" * 100)
    return json.dumps(a).encode()


def send_big(s, kind, arg):
    """N bytes of body, sent in pieces so that the server never holds them all."""
    n, _, close = arg.partition(":")
    n = int(n)
    ctype = b"application/json" if kind == "big" else b"text/plain"
    length = b"Connection: close" if close else b"Content-Length: %d" % n
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\n" + length + b"\r\n\r\n")
    piece = bytes(range(32)) * 2048
    if kind == "big":
        s.sendall(b'{"x":"')
        piece, n = b"x" * len(piece), n - 8
    while n > 0:
        s.sendall(piece[:n])
        n -= min(n, len(piece))
    if kind == "big":
        s.sendall(b'"}')


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        bump("conns")
        s = self.request
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            if MODE == "reset":
                bump("requests")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                return
            clen = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    clen = int(v)
            while len(buf) < clen:
                d = s.recv(65536)
                if not d:
                    return
                buf += d
            req, buf = buf[:clen], buf[clen:]
            bump("requests")
            if KIND in ("big", "bigtext") and b"BIG" in req:
                try:
                    send_big(s, KIND, ARG)
                except OSError:
                    return  # the client gave up on it
                if ARG.endswith(":close"):
                    s.close()
                    return
                continue
            body = answer_body(counts["requests"])
            hdr = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: req_h1\r\n"
            if KIND == "header":
                hdr += ARG.encode() + b"\r\n"
            if MODE == "chunked":
                out = hdr + b"Transfer-Encoding: chunked\r\n\r\n"
                for i in range(0, len(body), 37):
                    piece = body[i:i + 37]
                    out += b"%x\r\n" % len(piece) + piece + b"\r\n"
                out += b"0\r\n\r\n"
                s.sendall(out)
            else:
                s.sendall(hdr + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                s.shutdown(socket.SHUT_RDWR)
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
print("listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
