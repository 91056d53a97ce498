"""A loopback stand-in LLM provider and MCP server for the e2e tests
(issue #18): OpenAI-compatible /v1/chat/completions and /v1/embeddings,
and MCP over streamable HTTP (JSON-RPC POSTs to /mcp answered with JSON),
over TLS and plaintext. Logs only method and path, never a header or body
(they carry the planted key and prompt the leak check looks for).
usage: llm_server.py --bind ADDR --tls-port P --plain-port P2 --cert C --key K --log FILE"""
import argparse
import http.server
import json
import ssl
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--tls-port", type=int, required=True)
    ap.add_argument("--plain-port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, obj, status=200):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            path = self.path.split("?")[0]
            with lock, open(a.log, "a") as f:
                f.write(f"POST {path}\n")
            try:
                req = json.loads(raw or b"{}")
            except ValueError:
                return self._send({"error": "bad json"}, 400)
            if path.endswith("/chat/completions"):
                return self._send({"id": "c1", "object": "chat.completion", "created": 1, "model": req.get("model"),
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "ok"}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
            if path.endswith("/embeddings"):
                return self._send({"object": "list", "model": req.get("model"),
                                   "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                                   "usage": {"prompt_tokens": 1, "total_tokens": 1}})
            if path == "/mcp":
                m = req.get("method")
                if "id" not in req:
                    self.send_response(202)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if m == "initialize":
                    res = {"protocolVersion": "2025-03-26", "capabilities": {"tools": {}},
                           "serverInfo": {"name": "e2e-http-mcp", "version": "1"}}
                elif m == "tools/call":
                    res = {"content": [{"type": "text", "text": "done"}], "isError": False}
                else:
                    res = {}
                return self._send({"jsonrpc": "2.0", "id": req["id"], "result": res})
            return self._send({"error": "not found"}, 404)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def server_bind(self):  # no reverse DNS of the bind address
            http.server.socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = a.bind, self.server_address[1]

    tls = Server((a.bind, a.tls_port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    plain = Server((a.bind, a.plain_port), Handler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    tls.serve_forever()


if __name__ == "__main__":
    main()
