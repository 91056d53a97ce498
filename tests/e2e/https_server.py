"""HTTPS (and plain HTTP) test server: answers 200 to any request and logs
only the method and path, never headers (they carry the planted credentials
the leak check looks for).
usage: https_server.py --bind ADDR --tls-port P --cert C --key K [--plain-port P2] --log FILE"""
import argparse
import http.server
import ssl
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--tls-port", type=int, required=True)
    ap.add_argument("--plain-port", type=int)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            with lock, open(a.log, "a") as f:
                f.write(f"{self.command} {self.path.split('?')[0]}\n")
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def server_bind(self):  # no reverse DNS of the bind address (hangs without a resolver)
            http.server.socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = a.bind, self.server_address[1]

    tls = Server((a.bind, a.tls_port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    if a.plain_port:
        plain = Server((a.bind, a.plain_port), Handler)
        threading.Thread(target=plain.serve_forever, daemon=True).start()
    tls.serve_forever()


if __name__ == "__main__":
    main()
