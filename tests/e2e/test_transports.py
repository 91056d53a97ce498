"""Credentials over every way a client writes an HTTP/1.x head (issue 17):
a head written in several calls (even the method alone), pipelined requests
in one write, a 6 KiB head with the credential last (followed in 2 KiB
chunks), and the wider credential-header set, in plaintext and through
OpenSSL (python's ssl: SSL_write per call), each a credential edge with its
fingerprint; no planted token in anything the agent wrote.

Ports 19400-19499 (this file's range)."""
import glob
import json
import subprocess
import hashlib
import hmac
import os
import zlib

from harness import PYTHON, REACHCTL, ROOT, Agent, Cgroup, check, check_eq, make_test_ca, start_process, wait_port

PLAIN, TLS = 19400, 19401
HOST = "127.0.0.1"

TOKENS = {
    "split": "reach-h1split-Zq8xVb2NmL4kPw7RtY1u",       # X-Auth-Token, method written alone
    "pipe2": "reach-h1pipe-glab9Xc3Vd7Qe1Rf5Tg2",        # PRIVATE-TOKEN, 2nd pipelined request
    "pipe3": "hvs.reachh1pipe3Vault0a9b8c7d6e5f",        # X-Vault-Token, 3rd pipelined request
    "long": "reach-h1long-bearer-4f7e2a9c1b8d3e6f",      # Authorization last in a 6 KiB head
    "tls_split": "reach-h1tls-apim-8c2e4a6b0d1f3a5c",    # Ocp-Apim-Subscription-Key, TLS, split
    "tls_long": "reach-h1tls-amzsec-FwoGZXIvYXdzEJr",    # X-Amz-Security-Token, TLS, 6 KiB head
    "named": "reach-h1named-7Qm2Xv9Lp4Rt6Wz1Ky3",        # X-Acme-Session-Key (credential-named header)
}

CLIENT = r"""
import os, socket, ssl, sys
T = {k[6:].lower(): v for k, v in os.environ.items() if k.startswith("TOKEN_")}
HOST, PLAIN, TLS = "127.0.0.1", int(sys.argv[1]), int(sys.argv[2])

def answers(s, n):
    data = b""
    while data.count(b"ok\n") < n:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("server closed early")
        data += chunk

def filler(n):
    lines, size = [], 0
    while size < n:
        line = "X-Filler-%04d: %s\r\n" % (len(lines), "f" * 60)
        lines.append(line)
        size += len(line)
    return "".join(lines)

# plaintext: the method alone, then the request line, then the credential
s = socket.create_connection((HOST, PLAIN))
s.send(b"GET")
s.send(("/v1/split HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % PLAIN).encode().replace(b"/v1", b" /v1", 1))
s.send(("X-Auth-Token: %s\r\n\r\n" % T["split"]).encode())
answers(s, 1)
# three pipelined requests in one write
s.sendall(("GET /v1/p1 HTTP/1.1\r\nHost: a.example\r\n\r\n"
           "GET /v1/projects/4711/p2 HTTP/1.1\r\nHost: a.example\r\nPRIVATE-TOKEN: %s\r\n\r\n"
           "GET /v1/p3 HTTP/1.1\r\nHost: a.example\r\nX-Vault-Token: %s\r\n\r\n" % (T["pipe2"], T["pipe3"])).encode())
answers(s, 3)
# a 6 KiB head, the credential last
s.sendall(("GET /v1/long HTTP/1.1\r\nHost: a.example\r\n" + filler(6144) +
           "Authorization: Bearer %s\r\n\r\n" % T["long"]).encode())
answers(s, 1)
# a credential-named header no list knows, with a credential's shape
s.sendall(("GET /v1/named HTTP/1.1\r\nHost: a.example\r\nX-Acme-Session-Key: %s\r\n\r\n" % T["named"]).encode())
answers(s, 1)
s.close()

# TLS (python's ssl writes each call through SSL_write_ex)
ctx = ssl.create_default_context(cafile=os.environ["CA"])
t = ctx.wrap_socket(socket.create_connection((HOST, TLS)), server_hostname=HOST)
t.send(b"POST /v1/chat/completions HTTP/1.1\r\n")
t.send(b"Host: t.example\r\nContent-Length: 2\r\n")
t.send(("Ocp-Apim-Subscription-Key: %s\r\n\r\n" % T["tls_split"]).encode())
t.send(b"{}")
answers(t, 1)
t.sendall(("GET /v1/tls-long HTTP/1.1\r\nHost: t.example\r\n" + filler(6144) +
           "X-Amz-Security-Token: %s\r\n\r\n" % T["tls_long"]).encode())
answers(t, 1)
t.close()
"""


def _fp(key, secret):
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()[:16]


def _ledger_plaintext(path):
    with open(path, "rb") as f:
        data = f.read()
    return zlib.decompress(data[64:])


def _leak_check(agent, tmp, skip, planted):
    blobs = {"ledger (decompressed)": _ledger_plaintext(os.path.join(agent.state_dir, "ledger.pb.z"))}
    for path in glob.glob(os.path.join(tmp, "*")) + glob.glob(os.path.join(agent.state_dir, "*")):
        if os.path.isfile(path) and not any(path.startswith(s) for s in skip):
            with open(path, "rb") as f:
                blobs[path] = f.read()
    for secret in planted:
        for name, blob in blobs.items():
            check(secret.encode() not in blob, f"planted credential leaked into {name}")


def test_http1_split_pipelined_long_and_new_headers(cleanup, tmp):
    ca, cert, key = make_test_ca(cleanup, tmp)
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(inputs)
    start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "https_server.py"), "--bind", HOST,
                            "--tls-port", str(TLS), "--plain-port", str(PLAIN), "--cert", cert, "--key", key,
                            "--log", os.path.join(inputs, "server.log")])
    wait_port(HOST, TLS)
    wait_port(HOST, PLAIN)
    fp_key = os.urandom(32)
    key_file = os.path.join(inputs, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(fp_key)
    os.chmod(key_file, 0o600)
    env = dict(os.environ, CA=ca, **{f"TOKEN_{k.upper()}": v for k, v in TOKENS.items()})

    cg = Cgroup(cleanup, f"reach-e2e-h1-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--fingerprint-key", key_file])
    cg.python(CLIENT, str(PLAIN), str(TLS), env=env)
    try:
        agent.wait_edge("the TLS 6 KiB head",
                        lambda e: e.get("type") == "credential" and e["where"] == "x-amz-security-token", 15)
    finally:
        summary = agent.stop()
        print("credential edges:", [(e["where"], e["path_template"], e["source"]) for e in agent.edges()
                                    if e.get("type") == "credential"])
        print("http stats:", {k: v for k, v in summary.items() if k.startswith("http")}, summary["events"])
    creds = [e for e in agent.edges() if e.get("type") == "credential"]

    def one(where, what):
        found = [e for e in creds if e["where"] == where]
        check_eq(len(found), 1, f"{what}: credential edges in {where} ({[e['path_template'] for e in found]})")
        return found[0]

    want = [
        ("x-auth-token", "token", "split", "GET", "/v1/split", f"{HOST}:{PLAIN}", "plaintext",
         "a head written in three calls, the method alone"),
        ("private-token", "token", "pipe2", "GET", "/v1/projects/{id}/p2", "a.example", "plaintext",
         "the second request of a pipelined write"),
        ("x-vault-token", "token", "pipe3", "GET", "/v1/p3", "a.example", "plaintext",
         "the third request of a pipelined write"),
        ("authorization", "bearer", "long", "GET", "/v1/long", "a.example", "plaintext",
         "a 6 KiB head, the credential last"),
        ("x-acme-session-key", "header-secret", "named", "GET", "/v1/named", "a.example", "plaintext",
         "a credential-named header with a credential's shape"),
        ("ocp-apim-subscription-key", "api-key", "tls_split", "POST", "/v1/chat/completions", "t.example", "openssl",
         "a TLS head written in three SSL_write calls"),
        ("x-amz-security-token", "token", "tls_long", "GET", "/v1/tls-long", "t.example", "openssl",
         "a 6 KiB TLS head, the credential last"),
    ]
    for where, kind, tok, method, template, host, source, what in want:
        e = one(where, what)
        check_eq((e["credential_kind"], e["method"], e["path_template"], e["host"], e["source"]),
                 (kind, method, template, host, source), what)
        check_eq(e["fingerprint"], _fp(fp_key, TOKENS[tok]), f"{what}: fingerprint = HMAC(key, token)")
        check_eq(e["process_exe"], PYTHON, f"{what}: the client")
    # nothing else was taken for a credential (the filler, the first pipelined request)
    check_eq(sorted(e["where"] for e in creds), sorted(w[0] for w in want), "credential edges, exactly")
    stats = summary
    check(stats["http_pieces"] >= 6, f"pieces joined: {stats['http_pieces']}")
    check_eq((stats["http_pieces_lost"], stats["http_truncated"], stats["http_malformed"]), (0, 0, 0),
             "no piece lost, no head cut or rejected")
    check_eq(stats["http_requests"], 8, "every request parsed once")
    _leak_check(agent, tmp, [inputs], list(TOKENS.values()))


def test_tls_on_any_port_blind_and_sni(cleanup, tmp):
    """TLS on a port reach does not know as TLS (19410): a ClientHello marks
    it. A static stripped OpenSSL client is tls-blind with the reason, python
    and curl (libssl, probed) are covered; python's SNI is read."""
    import shutil
    from harness import sh
    port = 19410
    ca, cert, key = make_test_ca(cleanup, tmp)
    start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "https_server.py"), "--bind", HOST,
                            "--tls-port", str(port), "--cert", cert, "--key", key, "--log", os.path.join(tmp, "s.log")])
    wait_port(HOST, port)
    stc = os.path.join(tmp, "static_tls_client")
    sh("gcc", "-O2", "-static", os.path.join(ROOT, "tests", "e2e", "clients", "static_tls_client.c"), "-o", stc,
       "-lssl", "-lcrypto", "-pthread")
    sh("strip", stc)
    curl = shutil.which("curl")
    cg = Cgroup(cleanup, f"reach-e2e-tlsany-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    cg.python(r"""
import os, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2]))), server_hostname="localhost")
t.sendall(b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n")
t.recv(4096)
""", ca, str(port))
    cg.run([stc, HOST, str(port), ca])
    agent.wait_edge("python's ClientHello", lambda e: e.get("type") == "tls" and e["exe"] == PYTHON, 15)
    cg.run([curl, "-sf", "--cacert", ca, f"https://{HOST}:{port}/v1/health"])
    agent.wait_edge("the static client's ClientHello", lambda e: e.get("type") == "tls" and e["exe"] == stc, 15)
    agent.wait_edge("curl's ClientHello", lambda e: e.get("type") == "tls" and e["exe"] == curl, 15)
    summary = agent.stop()
    edges = agent.edges()
    tls = {e["exe"]: e for e in edges if e.get("type") == "tls"}
    check_eq((tls[PYTHON]["coverage"], tls[PYTHON]["library"]), ("covered", "openssl"), "python on port 19410")
    check_eq((tls[stc]["coverage"], tls[stc]["library"]), ("tls-blind", "none"), "static client on port 19410")
    check("no covered TLS library" in tls[stc]["reason"], f"reason: {tls[stc]['reason']}")
    check_eq(tls[curl]["coverage"], "covered", "curl on port 19410")
    # python sent SNI "localhost" (curl to an IP address and the static client send none)
    check_eq(summary["tls_hello_sni"], 1, "server names read from ClientHellos")
    check(summary["events"]["tls_hello"] >= 3, f"hellos: {summary['events']}")
