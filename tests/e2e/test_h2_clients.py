"""Real HTTP/2 clients (issue 17): node's `http2` module over TLS (its
OpenSSL linked into the executable, probed) sending `authorization: Bearer`
and `x-api-key` to nghttpd, and a gRPC client (Debian's python3-grpcio over
the system libssl, and in cleartext h2c) sending credentials as call
metadata to a gRPC server. Each credential is a credential edge, proto h2,
with the request's :method, :authority and :path (a gRPC path is its own
template, /package.Service/Method), its fingerprint and never its value;
nothing is lost (h2_undecodable 0) and no planted token appears in anything
the agent wrote.

The kernel walks at most 64 iovecs of one writev/sendmsg on an HTTP/2
connection (gRPC gathers a frame from many slices): a request in 40 iovecs
is decoded, one in 70 loses its connection, counted h2_undecodable and a
blind road, never silent.

Ports 20744-20747 (the transports helper's range)."""
import os
import shutil
import subprocess

from harness import Agent, Cgroup, Skip, check, check_eq, make_test_ca, need_tools, probe_node_first, start_process, wait_port
from test_transports import _fp, _leak_check

HOST = "127.0.0.1"
NODE_PORT, GRPC_TLS_PORT, GRPC_H2C_PORT, IOV_PORT = 20744, 20745, 20746, 20747
# Debian's interpreter: python3-grpcio is installed for it, not for another python
DEBIAN_PYTHON = "/usr/bin/python3"

NODE_CLIENT = r"""
const http2 = require('http2');
const fs = require('fs');
const [port, ca] = process.argv.slice(1);  // node -e: no script name in argv
const session = http2.connect(`https://127.0.0.1:${port}`, { ca: fs.readFileSync(ca) });
session.on('error', (e) => { console.error(e.message); process.exit(1); });
function request(headers, body) {
  return new Promise((resolve, reject) => {
    const req = session.request(headers);
    req.on('response', (h) => { req.on('data', () => {}); req.on('end', () => resolve(h[':status'])); });
    req.on('error', reject);
    req.end(body);
  });
}
(async () => {
  const a = await request({ ':method': 'GET', ':path': '/v1/models',
                            'authorization': 'Bearer ' + process.env.TOKEN_BEARER });
  const b = await request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json',
                            'x-api-key': process.env.TOKEN_APIKEY, 'user-agent': 'reach-e2e-node' },
                          '{"model":"m"}');
  console.log(a, b);
  session.close();
})().catch((e) => { console.error(e.message); process.exit(1); });
"""

GRPC_SERVER = r"""
import sys
from concurrent import futures
import grpc
tls_port, h2c_port, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def generate(request, context):
    return b"ok:" + request
handler = grpc.method_handlers_generic_handler("reach.test.v1.Inference", {
    "Generate": grpc.unary_unary_rpc_method_handler(generate)})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((handler,))
with open(cert, "rb") as c, open(key, "rb") as k:
    creds = grpc.ssl_server_credentials([(k.read(), c.read())])
server.add_secure_port("127.0.0.1:%d" % tls_port, creds)
server.add_insecure_port("127.0.0.1:%d" % h2c_port)
server.start()
server.wait_for_termination()
"""

GRPC_CLIENT = r"""
import os, sys
import grpc
tls_port, h2c_port, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(ca, "rb") as f:
    creds = grpc.ssl_channel_credentials(f.read())
with grpc.secure_channel("127.0.0.1:%d" % tls_port, creds) as ch:
    call = ch.unary_unary("/reach.test.v1.Inference/Generate")
    r = call(b"hi", metadata=[("authorization", "Bearer " + os.environ["TOKEN_GRPC_TLS"])], timeout=20)
    assert r == b"ok:hi", r
with grpc.insecure_channel("127.0.0.1:%d" % h2c_port) as ch:
    call = ch.unary_unary("/reach.test.v1.Inference/Generate")
    r = call(b"yo", metadata=[("x-api-key", os.environ["TOKEN_GRPC_H2C"])], timeout=20)
    assert r == b"ok:yo", r
print("ok")
"""

TOKENS = {
    "bearer": "reach-node-h2-bearer-6Tq1Zp8Wm3Kd5Ls9",
    "apikey": "reach-node-h2-apikey-2Xc7Vb4Nn9Qh1Jf6",
    "grpc_tls": "reach-grpc-tls-bearer-8Gk3Ry6Pw1Dm4Sz7",
    "grpc_h2c": "reach-grpc-h2c-apikey-5Hs2Lt9Vq7Xb3Nc1",
}


def test_node_http2_and_grpc_credentials(cleanup, tmp):
    need_tools("node", "nghttpd", DEBIAN_PYTHON)
    if subprocess.run([DEBIAN_PYTHON, "-c", "import grpc"], stderr=subprocess.DEVNULL).returncode:
        raise Skip("not installed: python3-grpcio (scripts/deps.sh)")
    node, nghttpd = os.path.realpath(shutil.which("node")), shutil.which("nghttpd")
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(os.path.join(inputs, "www", "v1"))
    with open(os.path.join(inputs, "www", "v1", "models"), "w") as f:
        f.write("[]\n")
    ca, cert, key = make_test_ca(cleanup, tmp)
    start_process(cleanup, [nghttpd, "-d", os.path.join(inputs, "www"), "-a", HOST, str(NODE_PORT), key, cert])
    start_process(cleanup, [DEBIAN_PYTHON, "-c", GRPC_SERVER, str(GRPC_TLS_PORT), str(GRPC_H2C_PORT), cert, key])
    for port in (NODE_PORT, GRPC_TLS_PORT, GRPC_H2C_PORT):
        wait_port(HOST, port)
    fp_key = os.urandom(32)
    key_file = os.path.join(inputs, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(fp_key)
    os.chmod(key_file, 0o600)
    cg = Cgroup(cleanup, f"reach-e2e-h2clients-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--fingerprint-key", key_file])
    probe_node_first(agent, cg, node)  # judged, not raced (the race: test_transport_gaps)
    env = dict(os.environ, **{"TOKEN_" + k.upper(): v for k, v in TOKENS.items()})
    p = cg.run([node, "-e", NODE_CLIENT, str(NODE_PORT), ca], env=env)
    check_eq(p.stdout.split(), ["200", "404"], "nghttpd answered node's two requests")
    p = cg.run([DEBIAN_PYTHON, "-c", GRPC_CLIENT, str(GRPC_TLS_PORT), str(GRPC_H2C_PORT), ca], env=env)
    check_eq(p.stdout.strip(), "ok", "the gRPC calls returned")

    def cred(where, tok):
        return lambda e: e.get("type") == "credential" and e["where"] == where and \
            e["fingerprint"] == _fp(fp_key, TOKENS[tok])
    try:
        for where, tok in (("authorization", "bearer"), ("x-api-key", "apikey"), ("authorization", "grpc_tls"),
                           ("x-api-key", "grpc_h2c")):
            agent.wait_edge(f"{where} ({tok})", cred(where, tok), 15)
    finally:
        summary = agent.stop()
    creds = sorted((e["where"], e["credential_kind"], e["fingerprint"], e["method"], e["path_template"], e["host"],
                    e["source"], e["proto"], e["process_exe"]) for e in agent.edges() if e.get("type") == "credential")
    grpc_path = "/reach.test.v1.Inference/Generate"
    py = DEBIAN_PYTHON  # the path it was run by
    expect = sorted([
        ("authorization", "bearer", _fp(fp_key, TOKENS["bearer"]), "GET", "/v1/models", f"{HOST}:{NODE_PORT}",
         "openssl", "h2", node),
        ("x-api-key", "api-key", _fp(fp_key, TOKENS["apikey"]), "POST", "/v1/chat/completions",
         f"{HOST}:{NODE_PORT}", "openssl", "h2", node),
        ("authorization", "bearer", _fp(fp_key, TOKENS["grpc_tls"]), "POST", grpc_path, f"{HOST}:{GRPC_TLS_PORT}",
         "openssl", "h2", py),
        ("x-api-key", "api-key", _fp(fp_key, TOKENS["grpc_h2c"]), "POST", grpc_path, f"{HOST}:{GRPC_H2C_PORT}",
         "plaintext", "h2", py),
    ])
    check_eq(creds, expect, "credential edges, field by field")
    tls = {e["exe"]: e for e in agent.edges() if e.get("type") == "tls"}
    check_eq(tls[node]["coverage"], "covered", "node's TLS")
    check_eq(tls[py]["coverage"], "covered", "the gRPC client's TLS")
    check_eq((summary["h2_undecodable"], summary["h2_malformed"]), (0, 0), "no HTTP/2 connection lost or refused")
    check(not any("(http/2)" in exe for exe in tls), f"no HTTP/2 gap: {list(tls)}")
    _leak_check(agent, tmp, [inputs], list(TOKENS.values()))


IOV_CLIENT = r"""
import os, socket, sys
port, pieces, token = int(sys.argv[1]), int(sys.argv[2]), os.environ["TOKEN"]
def lit(prefix, value):  # a literal string of HPACK, no Huffman, under 127 bytes
    return prefix + bytes([len(value)]) + value
v, pad = ("Bearer " + token).encode(), b"x" * 100
# :method GET, :scheme http, :path, :authority (indexed name), authorization and a pad (new names)
block = (b"\x82\x86" + lit(b"\x04", b"/v1/iov") + lit(b"\x41", b"iov.example.com:1") +
         lit(b"\x40\x0dauthorization", v) + lit(b"\x40\x0bx-reach-pad", pad))
frame = len(block).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + block
settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")        # the preface: a write of its own
# as gRPC gathers a write: each frame header an iovec, the header block in slices
k = pieces - 2
iov = [settings, frame[:9]] + [block[i * len(block) // k:(i + 1) * len(block) // k] for i in range(k)]
assert len(iov) == pieces and all(iov) and b"".join(iov) == settings + frame
n = s.sendmsg(iov)
assert n == len(settings + frame), n
print(len(iov), flush=True)
s.close()
"""


def test_h2_iovecs_bound_is_counted(cleanup, tmp):
    """40 iovecs: decoded; 70: the connection lost, counted, a blind road."""
    from harness import PYTHON
    start_process(cleanup, [PYTHON, "-c", r"""
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(8)
while True:
    c, _ = srv.accept()
    while c.recv(65536):
        pass
    c.close()
""", str(IOV_PORT)])
    wait_port(HOST, IOV_PORT)
    fp_key = os.urandom(32)
    key_file = os.path.join(tmp, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(fp_key)
    os.chmod(key_file, 0o600)
    tokens = {40: "reach-h2-iov40-bearer-3Nd8Kq2Wz6Lm", 70: "reach-h2-iov70-bearer-9Fx4Tp7Rb1Hc"}
    root = Cgroup(cleanup, f"reach-e2e-h2iov-{os.getpid()}")
    cgs = {n: Cgroup(cleanup, f"iov{n}", parent=root) for n in tokens}
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--fingerprint-key", key_file,
                                 *[a for n in tokens for a in ("--identity-rule", f"cgroup:{cgs[n].rel} host/iov{n}")]])
    for n, tok in tokens.items():
        p = cgs[n].run([PYTHON, "-c", IOV_CLIENT, str(IOV_PORT), str(n)], env=dict(os.environ, TOKEN=tok))
        check_eq(p.stdout.strip(), str(n), f"one sendmsg of {n} iovecs")
    try:
        agent.wait_edge("the 40-iovec request's credential", lambda e: e.get("type") == "credential" and
                        e["fingerprint"] == _fp(fp_key, tokens[40]), 15)
        agent.wait_edge("the 70-iovec connection lost", lambda e: e.get("type") == "tls" and
                        e["exe"].endswith(" (http/2)"), 15)
    finally:
        summary = agent.stop()
    creds = [(e["where"], e["method"], e["path_template"], e["host"], e["source"], e["proto"], e["fingerprint"])
             for e in agent.edges() if e.get("type") == "credential"]
    check_eq(creds, [("authorization", "GET", "/v1/iov", "iov.example.com:1", "plaintext", "h2",
                      _fp(fp_key, tokens[40]))], "the 40-iovec request only, field by field")
    gap = [e for e in agent.edges() if e.get("type") == "tls" and e["exe"].endswith(" (http/2)")]
    check_eq(len(gap), 1, f"one HTTP/2 gap: {gap}")
    check_eq((gap[0]["coverage"], gap[0]["library"]), ("tls-blind", "plaintext"), "the lost connection's edge")
    check("not followed in the kernel" in gap[0]["reason"] or "lost" in gap[0]["reason"],
          f"reason: {gap[0]['reason']}")
    check_eq(summary["h2_undecodable"], 1, "the 70-iovec connection counted")
    _leak_check(agent, tmp, [], list(tokens.values()))
