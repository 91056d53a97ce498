#!/usr/bin/env python3
"""An OTLP/HTTP logs receiver test fixture: what a collector's otlphttp
receiver accepts, decoded with the independent otlp_wire decoder.

usage: otlp_server.py --port P [--bind ADDR] --out FILE [--fail-first N] [-v]

  POST /v1/logs  Content-Type application/x-protobuf, body an
                 ExportLogsServiceRequest, optionally Content-Encoding gzip
                 -> 200, Content-Type application/x-protobuf and an empty
                 body (a serialized empty ExportLogsServiceResponse is zero
                 bytes). One JSON line appended to FILE:
                   {"request": DECODED, "content_encoding": "gzip"|"identity",
                    "bytes": N (as sent), "user_agent": UA}
                 DECODED: otlp_wire.decode_request()'s dict.
  Anything else is refused and recorded as one line
    {"rejected": REASON, "status": CODE, "method": M, "path": P}:
  415 another Content-Type or Content-Encoding, 400 a body that is not a
  well-formed request (or bad gzip, or no Content-Length), 404 another path,
  405 another method. --fail-first N answers the first N well-formed POSTs
  with 503 (recorded as rejected "injected 503") so senders' retries can be
  tested; the request must then arrive again.

Prints "ready" on stdout once it listens. Every line of FILE is flushed
before the answer is sent: a test that got its 200 can read the line.
"""

import argparse
import gzip
import json
import os
import signal
import socketserver
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_wire  # noqa: E402

MAX_BODY = 64 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: libcurl reuses connections
    server_version = "otlp-fixture"
    sys_version = ""
    timeout = 30

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("otlp_server: %s\n" % (fmt % args))

    def answer(self, code, body=b"", ctype="application/x-protobuf"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reject(self, code, reason):
        self.server.record({"rejected": reason, "status": code, "method": self.command, "path": self.path})
        self.answer(code, reason.encode() + b"\n", "text/plain")

    def read_body(self):
        """The body, or None after answering 400 (no length, chunked
        bodies are decoded too)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    break
        else:
            n = self.headers.get("Content-Length")
            if n is not None and n.isdigit() and int(n) <= MAX_BODY:
                return self.rfile.read(int(n))
        self.close_connection = True
        self.reject(400, "no usable Content-Length")
        return None

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        body = self.read_body()
        if body is None:
            return
        if path != "/v1/logs":
            self.reject(404, "unknown path %s" % path)
            return
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/x-protobuf":
            self.reject(415, "content-type %r" % ctype)
            return
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
        if encoding not in ("gzip", "identity"):
            self.reject(415, "content-encoding %r" % encoding)
            return
        raw = body
        if encoding == "gzip":
            try:
                raw = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as e:
                self.reject(400, "gzip: %s" % e)
                return
        try:
            decoded = otlp_wire.decode_request(raw)
        except (ValueError, UnicodeDecodeError) as e:
            self.reject(400, "decode: %s" % e)
            return
        if self.server.take_failure():
            self.reject(503, "injected 503")
            return
        self.server.record({"request": decoded, "content_encoding": encoding, "bytes": len(body),
                            "user_agent": self.headers.get("User-Agent", "")})
        self.answer(200)

    def refuse_method(self):
        self.close_connection = True
        self.reject(405, "method %s" % self.command)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = refuse_method


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, out, fail_first, verbose):
        self.out = out
        self.fail_left = fail_first
        self.verbose = verbose
        self.lock = threading.Lock()
        super().__init__(addr, Handler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup of the address,
        # which hangs in a network namespace without a resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def record(self, obj):
        with self.lock:
            self.out.write(json.dumps(obj, sort_keys=True) + "\n")
            self.out.flush()

    def take_failure(self):
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return True
            return False


def main():
    ap = argparse.ArgumentParser(description="OTLP/HTTP logs receiver fixture")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with open(args.out, "a") as out:
        srv = Server((args.bind, args.port), out, args.fail_first, args.verbose)
        print("ready", flush=True)
        try:
            srv.serve_forever(poll_interval=0.05)
        except SystemExit:
            pass
        finally:
            srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
