#!/usr/bin/env python3
"""A report collector test fixture: receives what the agent ships, checks it
the way a real collector would, and writes what it accepted (decoded) and
what it rejected (why) to a JSON-lines file.

usage: collector_server.py --port P --out FILE --decoder PATH [--token T]
                           [--cert C --key K] [--control DIR] [--bind ADDR]
                           [--max-body BYTES] [-v]

Serves POST /v1/reports, one reach.v1.Report per request. In order:
  method POST and path /v1/reports          else 405 / 404
  Authorization: Bearer T (with --token)    else 401
  the current mode (see Control)            may answer instead
  Content-Length present, <= --max-body     else 411 / 413
  Content-Type: application/x-protobuf      else 415
  Content-Encoding: gzip, body gunzips      else 400
  --decoder (build/tests/tools/report_decode) decodes the body   else 400
then answers 200 {"accepted": true}.

--out FILE gets one line per accepted report: the decoder's JSON object
plus "received_unix_ms"; and one line per rejection:
  {"rejected": REASON, "status": CODE, "received_unix_ms": MS}
Reports are not deduplicated: a retried report appears twice (tests
deduplicate by header.report_id, so that duplicates stay visible).

Control (--control DIR). Drop a file named *.cmd into DIR (write it under
another name and rename it, so that it is never read half-written). Each
line is one command; the file is deleted once all its lines are applied,
so a test waits for the file to disappear to know the command took effect.
  mode ok                     accept normally (the default)
  mode CODE [N]               answer HTTP CODE (500, 503, 400, 401, 413, ...)
                              with a Status-like JSON body, without accepting
  mode 429 [RETRY_AFTER] [N]  429, with "Retry-After: RETRY_AFTER" if given
                              ("-": no header)
  mode garbage [N]            answer bytes that are not HTTP, then close
  mode slow SECONDS [N]       wait SECONDS, then go on normally (the agent's
                              timeout may hit first; the report is still
                              accepted, as a real server would)
  mode close [N]              close the connection without an answer
  With N the mode applies to the next N requests that reach it (queued in
  order, after which the standing mode applies again); without N it becomes
  the standing mode and clears the queue. "retry-after=S" may follow any
  CODE mode (e.g. "mode 503 retry-after=2 3").
  stop                        close the listener and every open connection
                              (the agent sees connection refused)
  start                       listen again on the same port
Files the server writes into DIR: `ready` (its port, once it listens;
removed on `stop`), `requests.log` (one line per request: "METHOD PATH
STATUS MODE"; STATUS 0 when no HTTP answer was sent; the token is never
written), `errors.log` (commands that failed).

"ready" is printed on stdout once the server listens.
"""

import argparse
import gzip
import hmac
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import zlib

from fixture_server import FixtureHandler, FixtureServer, ServedFixture, serve

REPORTS_PATH = "/v1/reports"
CONTENT_TYPE = "application/x-protobuf"


def now_ms():
    return int(time.time() * 1000)


class Modes:
    """The standing mode and a queue of counted ones, under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.standing = ("ok", None)
        self.queue = []                 # [mode, arg, remaining]

    def set(self, mode, arg, n):
        with self.lock:
            if n is None:
                self.standing = (mode, arg)
                self.queue = []
            else:
                self.queue.append([mode, arg, n])

    def take(self):
        with self.lock:
            if not self.queue:
                return self.standing
            m = self.queue[0]
            m[2] -= 1
            if m[2] <= 0:
                self.queue.pop(0)
            return (m[0], m[1])


def parse_mode(args):
    """'mode' arguments -> (mode, arg, n). arg: None, seconds, or
    (code, retry_after) for CODE modes."""
    if not args:
        raise ValueError("mode needs an argument")
    kind, rest = args[0], args[1:]
    retry_after = None
    pos = []
    for a in rest:
        if a.startswith("retry-after="):
            retry_after = a.split("=", 1)[1]
        elif a.startswith("n="):
            pos.append(a.split("=", 1)[1])
        else:
            pos.append(a)

    def count(words):
        if len(words) > 1:
            raise ValueError("too many arguments: %r" % args)
        return int(words[0]) if words else None

    if kind in ("ok", "garbage", "close"):
        return kind, None, count(pos)
    if kind == "slow":
        if not pos:
            raise ValueError("mode slow needs SECONDS")
        return kind, float(pos[0]), count(pos[1:])
    code = int(kind)
    if not 100 <= code <= 599:
        raise ValueError("HTTP status %d out of range" % code)
    if code == 429 and pos and retry_after is None:
        retry_after, pos = pos[0], pos[1:]
    if retry_after == "-":
        retry_after = None
    if retry_after is not None:
        int(retry_after)                # delta-seconds only: checked here
    return "code", (code, retry_after), count(pos)


class Handler(FixtureHandler):
    server_version = "reach-collector-fixture"
    timeout = 60
    log_name = "collector_server"

    def log_request_line(self, status, mode="ok"):
        self.append_request_log("%d %s" % (status, mode))

    def send_json(self, code, obj, extra_headers=()):
        body = json.dumps(obj).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    # Records and logs come before the answer: a client that timed out
    # makes the write fail, and the request must still be on file.
    def reject(self, code, reason, mode="ok"):
        self.server.record({"rejected": reason, "status": code, "received_unix_ms": now_ms()})
        self.log_request_line(code, mode)
        self.send_json(code, {"accepted": False, "reason": reason})

    def read_body(self):
        """The body per Content-Length; None (after answering) when absent
        or too large."""
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            self.close_connection = True
            self.reject(411, "no Content-Length")
            return None
        n = int(length)
        if n > self.server.max_body:
            self.close_connection = True
            self.reject(413, "body of %d bytes over %d" % (n, self.server.max_body))
            return None
        return self.rfile.read(n)

    def do_POST(self):
        self.answer_guarded(self.handle_post)

    def other_method(self):
        self.close_connection = True
        self.reject(405, "method %s" % self.command)

    do_GET = do_PUT = do_DELETE = do_PATCH = other_method

    def handle_post(self):
        if self.path.split("?", 1)[0] != REPORTS_PATH:
            self.close_connection = True
            self.reject(404, "path %s" % self.path.split("?", 1)[0])
            return
        body = self.read_body()
        if body is None:
            return
        token = self.server.token
        if token is not None:
            # compare_digest: no timing hints; the received value is never logged
            got = self.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode(), ("Bearer " + token).encode()):
                self.reject(401, "unauthorized")
                return
        mode, arg = self.server.modes.take()
        mode_name = mode if mode != "code" else str(arg[0])
        if mode == "code":
            code, retry_after = arg
            extra = [("Retry-After", retry_after)] if retry_after is not None else []
            self.log_request_line(code, mode_name)
            self.send_json(code, {"accepted": False, "reason": "injected HTTP %d" % code}, extra)
            return
        if mode == "garbage":
            self.wfile.write(b"\x00\x01garbage, this is not HTTP\xff\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            self.log_request_line(0, mode_name)
            return
        if mode == "close":
            self.close_connection = True
            self.log_request_line(0, mode_name)
            return
        if mode == "slow":
            time.sleep(arg)
            mode_name = "slow"
        self.accept(body, mode_name)

    def accept(self, body, mode_name):
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";", 1)[0].strip().lower() != CONTENT_TYPE:
            self.reject(415, "content-type %r" % ctype, mode_name)
            return
        cenc = self.headers.get("Content-Encoding", "")
        if cenc.strip().lower() != "gzip":
            self.reject(400, "content-encoding %r, not gzip" % cenc, mode_name)
            return
        try:
            raw = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as e:
            self.reject(400, "gzip: %s" % e, mode_name)
            return
        decoded, why = self.server.decode(raw)
        if decoded is None:
            self.reject(400, "decode: %s" % why, mode_name)
            return
        decoded["received_unix_ms"] = now_ms()
        self.server.record(decoded)
        self.log_request_line(200, mode_name)
        self.send_json(200, {"accepted": True})


class Server(FixtureServer):
    def __init__(self, addr, args, ctx, modes, out_lock):
        self.token = args.token
        self.decoder = args.decoder
        self.out_path = args.out
        self.max_body = args.max_body
        self.modes = modes
        self.out_lock = out_lock
        super().__init__(addr, Handler, ctx, args.control, args.verbose)

    def record(self, obj):
        line = json.dumps(obj, sort_keys=False) + "\n"
        with self.out_lock, open(self.out_path, "a") as f:
            f.write(line)
            f.flush()

    def decode(self, raw):
        """(the decoder's JSON object, None) or (None, why)."""
        try:
            p = subprocess.run([self.decoder], input=raw, capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, "decoder did not run: %s" % e
        if p.returncode != 0:
            msg = p.stderr.decode(errors="replace").strip().splitlines()
            return None, msg[-1] if msg else "decoder exit %d" % p.returncode
        try:
            obj = json.loads(p.stdout)
        except ValueError as e:
            return None, "decoder output is not JSON: %s" % e
        if not isinstance(obj, dict):
            return None, "decoder output is not an object"
        return obj, None


class Fixture(ServedFixture):
    def __init__(self, args, ctx):
        super().__init__(args)
        self.ctx = ctx
        self.modes = Modes()
        self.out_lock = threading.Lock()

    def make_server(self):
        return Server((self.args.bind, self.args.port), self.args, self.ctx, self.modes, self.out_lock)

    def apply(self, line):
        words = line.split()
        if not words or words[0].startswith("#"):
            return
        cmd, args = words[0], words[1:]
        if cmd == "mode":
            self.modes.set(*parse_mode(args))
        elif cmd == "stop":
            self.stop()
        elif cmd == "start":
            self.start()
        else:
            raise ValueError("unknown command %r" % cmd)


def main():
    ap = argparse.ArgumentParser(description="reach report collector fixture")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--token", help="expected bearer token (no check without it)")
    ap.add_argument("--out", required=True, help="JSON lines: accepted reports and rejections")
    ap.add_argument("--decoder", required=True, help="build/tests/tools/report_decode")
    ap.add_argument("--control")
    ap.add_argument("--max-body", type=int, default=64 << 20)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key go together")
    if not os.access(args.decoder, os.X_OK):
        ap.error("decoder %s is not executable (make build/tests/tools/report_decode)" % args.decoder)
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    return serve(Fixture(args, ctx), 'collector_server', print_ready=True)


if __name__ == "__main__":
    sys.exit(main())
