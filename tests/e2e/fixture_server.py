"""The HTTP side of the test fixtures (kube_server.py, collector_server.py):
a handler base (stderr log with -v, requests.log), a threaded server that
does the TLS handshake in the connection's thread and knows every open
connection, so that `stop` can cut them; the start/stop commands that every
fixture has; and the main loop, until SIGTERM/SIGINT."""
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fixture_control import control_loop, write_atomic

# A client that went away or stalled: the connection ends, nothing to report.
CONNECTION_ERRORS = (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, OSError)


class FixtureHandler(BaseHTTPRequestHandler):
    """What the fixtures' handlers share: HTTP/1.1, the access log on stderr
    with -v only (prefixed with log_name), and DIR/requests.log."""
    protocol_version = "HTTP/1.1"
    sys_version = ""
    log_name = "fixture"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s: %s\n" % (self.log_name, fmt % args))

    def answer_guarded(self, handle):
        """handle(); a connection that breaks meanwhile is closed."""
        try:
            handle()
        except CONNECTION_ERRORS:
            self.close_connection = True

    def append_request_log(self, rest):
        """Appends "METHOD PATH REST" to requests.log (with --control)."""
        ctl = self.server.control
        if ctl:
            with self.server.log_lock, open(os.path.join(ctl, "requests.log"), "a") as f:
                f.write("%s %s %s\n" % (self.command, self.path, rest))


class FixtureServer(ThreadingHTTPServer):
    """ctx: an ssl.SSLContext, or None for plain HTTP. control and verbose
    are for the handler (requests.log, log_message)."""
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    conn_timeout = 60  # seconds, for the handshake and every read

    def __init__(self, addr, handler, ctx, control, verbose):
        self.ctx = ctx
        self.control = control
        self.verbose = verbose
        self.log_lock = threading.Lock()
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, handler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup of the address,
        # which hangs in a network namespace without a resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's thread, not in accept()
        request.settimeout(self.conn_timeout)
        conn = request
        if self.ctx:
            try:
                conn = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        with self.conns_lock:
            self.conns.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except CONNECTION_ERRORS:
            pass
        finally:
            with self.conns_lock:
                self.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def kill_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ServedFixture:
    """A fixture's server on args.bind:args.port, started and stopped by its
    `start` and `stop` commands; with args.control, DIR/ready holds the port
    while it listens. A subclass makes the server (make_server) and may act
    between the listener's close and the cut of open connections (on_stop)."""

    def __init__(self, args):
        self.args = args
        self.srv = None
        self.thread = None

    def make_server(self):
        raise NotImplementedError

    def on_stop(self):
        pass

    def start(self):
        if self.srv:
            return
        self.srv = self.make_server()
        # --port 0: the kernel picks a free port once; a restart (`start`
        # after `stop`) listens on that same port again
        self.args.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        if self.args.control:
            write_atomic(os.path.join(self.args.control, "ready"), "%d\n" % self.args.port)

    def stop(self):
        if not self.srv:
            return
        if self.args.control:
            try:
                os.unlink(os.path.join(self.args.control, "ready"))
            except FileNotFoundError:
                pass
        self.srv.shutdown()
        self.srv.server_close()
        self.on_stop()
        self.srv.kill_connections()
        self.srv = None


def serve(fx, name, print_ready=False):
    """Starts fx and applies its control directory's commands (or just
    serves) until SIGTERM or SIGINT; the exit status."""

    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    fx.start()
    if print_ready:
        print("ready", flush=True)
    try:
        if fx.args.control:
            control_loop(fx, fx.args.control, name)
        else:
            while True:
                time.sleep(3600)
    except SystemExit:
        pass
    except Exception:
        traceback.print_exc()
        return 1
    return 0
