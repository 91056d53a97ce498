"""HTTP/2 decoded (issue 17): real clients (curl over nghttp2 and nghttp)
speak HTTP/2 to nghttpd, in cleartext (h2c, prior knowledge) and over TLS
(ALPN h2, through the probed libssl); every request's credential becomes the
same credential edge HTTP/1 would give (host, method, path template, kind,
fingerprint), proto h2, and the identity has no blind road. A connection
whose HPACK state reach loses (a header block indexing an entry it never
saw) is the blind road http2-undecoded: verify is inconclusive. No planted
token in anything the agent wrote.

Ports 20300-20329 (this file's range)."""
import json
import os
import shutil
import subprocess

from harness import (PYTHON, REACHCTL, Agent, Cgroup, Skip, check, check_eq, go_build, make_test_ca, start_process,
                     wait_port)
from test_transports import _fp, _leak_check

HOST = "127.0.0.1"
H2C, H2TLS, LOSTPORT = 20300, 20301, 20302

TOKENS = {
    "curl_h2c": "reach-h2c-curl-bearer-7Kq2Wm9Xv4Lp1Rz8",   # Authorization: Bearer, curl h2c, two requests
    "curl_tls": "reach-h2tls-curl-apikey-3Ft6Yh1Nc8Bd5Jw0",  # x-api-key, curl --http2 over TLS
    "nghttp_h2c": "reach-h2c-nghttp-token-9Vb4Gs2Qe7Mx3Ka6",  # x-auth-token, nghttp cleartext
    "nghttp_tls": "reach-h2tls-nghttp-bearer-5Pz8Td1Lw6Ry2Hc4",  # Authorization: Bearer, nghttp over TLS
    "lost": "reach-h2-lost-bearer-never-seen-1a2b3c4d",      # sent on the connection reach loses
}


def _verdict(agent, identity):
    p = subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", identity, "-o", "json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    found = [v for v in json.loads(p.stdout)["identities"] if v["identity"] == identity]
    check(found, f"a verdict for {identity}: {p.stdout} {p.stderr}")
    return found[0]


def test_http2_decoded_credentials_and_lost_connection(cleanup, tmp):
    nghttp, nghttpd, curl = shutil.which("nghttp"), shutil.which("nghttpd"), shutil.which("curl")
    if not nghttp or not nghttpd:
        raise Skip("not installed: nghttp2-client / nghttp2-server (scripts/deps.sh)")
    ca, cert, key = make_test_ca(cleanup, tmp)
    inputs = os.path.join(tmp, "inputs")
    docroot = os.path.join(inputs, "www")
    os.makedirs(docroot)
    fp_key = os.urandom(32)
    key_file = os.path.join(inputs, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(fp_key)
    os.chmod(key_file, 0o600)

    root = Cgroup(cleanup, f"reach-e2e-h2d-{os.getpid()}")
    good = Cgroup(cleanup, "decoded", parent=root)
    bad = Cgroup(cleanup, "lost", parent=root)
    # the h2c server runs monitored, with the decoded clients: an HTTP/2
    # server's frames (SETTINGS, HEADERS starting with :status) are no
    # client connection joined mid-stream, so no road
    start_process(cleanup, [nghttpd, "--no-tls", "-d", docroot, "-a", HOST, str(H2C)], preexec_fn=good.enter_fn())
    start_process(cleanup, [nghttpd, "-d", docroot, "-a", HOST, str(H2TLS), key, cert])
    wait_port(HOST, H2C)
    wait_port(HOST, H2TLS)
    policy = os.path.join(inputs, "policy.yaml")
    with open(policy, "w") as f:  # all they do is declared: only a blind road can make a verdict inconclusive
        for name in ("h2-decoded", "h2-lost"):
            f.write(f"""---
apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: {name}
spec:
  identity: host/{name}
  egress:
    - {{cidr: 127.0.0.1/32, ports: [{H2C}, {H2TLS}], proto: tcp}}
  tools: ["/**"]
""")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--fingerprint-key", key_file, "--policy", policy,
                                 "--identity-rule", f"cgroup:{good.rel} host/h2-decoded",
                                 "--identity-rule", f"cgroup:{bad.rel} host/h2-lost"])
    agent.epoch_start("host/h2-decoded", "v1")
    agent.epoch_start("host/h2-lost", "v1")
    T = TOKENS
    # curl h2c with prior knowledge
    good.run([curl, "-s", "-o", "/dev/null", "--http2-prior-knowledge", "-H", f"Authorization: Bearer {T['curl_h2c']}",
              f"http://{HOST}:{H2C}/v1/models"], check_rc=False)
    # curl --http2 over TLS (ALPN), through libssl's SSL_write
    good.run([curl, "-s", "-o", "/dev/null", "--http2", "--cacert", ca, "-X", "POST", "-d", "{}",
              "-H", f"x-api-key: {T['curl_tls']}", f"https://{HOST}:{H2TLS}/v1/chat/completions"], check_rc=False)
    # nghttp, cleartext (frames written with writev) with two requests on
    # one connection (the second encoded against the first's dynamic
    # table entries), and TLS
    good.run([nghttp, "-n", "-H", f"x-auth-token: {T['nghttp_h2c']}", f"http://{HOST}:{H2C}/api/v4/projects/12",
              f"http://{HOST}:{H2C}/api/v4/users"], check_rc=False)
    good.run([nghttp, "-n", "-H", f"authorization: Bearer {T['nghttp_tls']}", f"https://{HOST}:{H2TLS}/v2/keys"],
             check_rc=False)
    # a connection whose HPACK state reach cannot have: the first header
    # block names dynamic entry 62 (index 0xbe) before any was added
    bad.python(r"""
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
lit = b"\x40\x0dauthorization" + bytes([len("Bearer " + os.environ["TOKEN"])]) + ("Bearer " + os.environ["TOKEN"]).encode()
block = b"\x82\x86\x84\xbe" + lit
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
          len(block).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + block)
s.recv(100)
s.close()
""", str(H2C), env=dict(os.environ, TOKEN=T["lost"]))

    def cred(where, tok):
        return lambda e: e.get("type") == "credential" and e["where"] == where and \
            e["fingerprint"] == _fp(fp_key, T[tok])
    try:
        agent.wait_edge("curl h2c", cred("authorization", "curl_h2c"), 15)
        agent.wait_edge("curl TLS", cred("x-api-key", "curl_tls"), 15)
        agent.wait_edge("nghttp h2c, 2nd request", lambda e: cred("x-auth-token", "nghttp_h2c")(e) and
                        e["path_template"] == "/api/v4/users", 15)
        agent.wait_edge("nghttp TLS", cred("authorization", "nghttp_tls"), 15)
        agent.wait_edge("the lost connection's gap",
                        lambda e: e.get("type") == "tls" and e["exe"] == f"{PYTHON} (http/2)", 15)
        good_v = _verdict(agent, "host/h2-decoded")
        bad_v = _verdict(agent, "host/h2-lost")
    finally:
        summary = agent.stop()
        print("credential edges:", [(e["where"], e["path_template"], e["source"], e.get("proto"))
                                    for e in agent.edges() if e.get("type") == "credential"])
        print("stats:", {k: v for k, v in summary.items() if k.startswith(("h2", "http"))}, summary["events"])
    creds = [e for e in agent.edges() if e.get("type") == "credential"]
    want = [
        ("authorization", "bearer", "curl_h2c", "GET", "/v1/models", f"{HOST}:{H2C}", "plaintext", curl),
        ("x-api-key", "api-key", "curl_tls", "POST", "/v1/chat/completions", f"{HOST}:{H2TLS}", "openssl", curl),
        ("x-auth-token", "token", "nghttp_h2c", "GET", "/api/v4/projects/{id}", f"{HOST}:{H2C}", "plaintext", nghttp),
        ("x-auth-token", "token", "nghttp_h2c", "GET", "/api/v4/users", f"{HOST}:{H2C}", "plaintext", nghttp),
        ("authorization", "bearer", "nghttp_tls", "GET", "/v2/keys", f"{HOST}:{H2TLS}", "openssl", nghttp),
    ]
    got = sorted((e["where"], e["credential_kind"], e["fingerprint"], e["method"], e["path_template"], e["host"],
                  e["source"], e["process_exe"], e["proto"], e["port"]) for e in creds)
    expect = sorted((w, k, _fp(fp_key, T[t]), m, tpl, h, src, exe, "h2", int(h.rsplit(":", 1)[1]))
                    for w, k, t, m, tpl, h, src, exe in want)
    check_eq(got, expect, "credential edges, field by field (and nothing else)")
    # decoded HTTP/2 is not a blind road; the lost connection is
    check("http2-undecoded" not in json.dumps(good_v["reasons"]), f"decoded identity: {good_v}")
    check(good_v["verdict"] != "inconclusive", f"decoded identity: {good_v}")
    check_eq(bad_v["verdict"], "inconclusive", f"lost identity: {bad_v}")
    check(f"blind road http2-undecoded: {PYTHON} (http/2)" in json.dumps(bad_v["reasons"]),
          f"the reason names the road and the process: {bad_v['reasons']}")
    tls = {e["exe"]: e for e in agent.edges() if e.get("type") == "tls"}
    lost = tls[f"{PYTHON} (http/2)"]
    check_eq((lost["coverage"], lost["library"]), ("tls-blind", "plaintext"), "the lost connection's edge")
    check("HPACK decoding failed" in lost["reason"], f"reason: {lost['reason']}")
    check_eq((tls[curl]["coverage"], tls[nghttp]["coverage"]), ("covered", "covered"), "TLS through libssl")
    check_eq(summary["h2_requests"] >= 5, True, f"HTTP/2 requests decoded: {summary['h2_requests']}")
    check_eq((summary["h2_undecodable"], summary["h2_malformed"]), (1, 0), "one connection lost, none refused")
    _leak_check(agent, tmp, [inputs], list(TOKENS.values()))


def test_http2_joined_mid_stream_is_a_blind_road(cleanup, tmp):
    """An HTTP/2 connection that started before the agent (its preface and
    first HPACK entries unseen): the next HEADERS frame it writes is
    recognised, the connection is the blind road http2-undecoded ("connection
    start not seen"), verify is inconclusive, and the bearer it carried
    appears nowhere."""
    port = 20310
    token = "reach-h2-midstream-bearer-6Hd3Kp9Zs2Wq"
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(inputs)
    go = os.path.join(inputs, "go")
    start_process(cleanup, [PYTHON, "-c", r"""
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4)
while True:
    c, _ = srv.accept()
    while c.recv(65536):
        pass
""", str(port)])
    wait_port(HOST, port)
    root = Cgroup(cleanup, f"reach-e2e-h2mid-{os.getpid()}")
    cg = Cgroup(cleanup, "client", parent=root)
    identity = "host/h2-midstream"
    policy = os.path.join(inputs, "policy.yaml")
    with open(policy, "w") as f:  # all it does is declared: only the road can spoil the verdict
        f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: h2-midstream
spec:
  identity: {identity}
  egress:
    - {{cidr: 127.0.0.1/32, ports: [{port}], proto: tcp}}
  tools: ["/**"]
""")
    # the client starts (preface, a first request indexing :authority)
    # before the agent; after the agent is ready it sends a second request
    # whose HPACK block refers to that entry, and the bearer
    client = subprocess.Popen([PYTHON, "-c", r"""
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
first = b"\x82\x86\x84\x41\x0fapi.example.com"
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
          len(first).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + first)
deadline = time.monotonic() + 30
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.05)
v = ("Bearer " + os.environ["TOKEN"]).encode()
second = b"\x82\x86\x84\xbe\x40\x0dauthorization" + bytes([len(v)]) + v
s.sendall(len(second).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x03" + second)
time.sleep(0.2)
s.close()
""", str(port), go], preexec_fn=cg.enter_fn(), env=dict(os.environ, TOKEN=token))
    cleanup.add(lambda: client.poll() is None and client.kill())
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{cg.rel} {identity}",
                                 "--policy", policy])
    agent.epoch_start(identity, "v1")
    with open(go, "w"):
        pass
    try:
        agent.wait_edge("the mid-stream gap", lambda e: e.get("type") == "tls" and e["exe"] == f"{PYTHON} (http/2)",
                        15)
        verdict = _verdict(agent, identity)
    finally:
        client.wait(timeout=30)
        summary = agent.stop()
    check_eq(client.returncode, 0, "the client ran")
    check_eq(verdict["verdict"], "inconclusive", f"verify with a connection joined mid-stream: {verdict}")
    check(f"blind road http2-undecoded: {PYTHON} (http/2)" in json.dumps(verdict["reasons"]),
          f"the reason names the road and the process: {verdict['reasons']}")
    e = {e["exe"]: e for e in agent.edges() if e.get("type") == "tls"}[f"{PYTHON} (http/2)"]
    check_eq((e["coverage"], e["library"]), ("tls-blind", "plaintext"), "the gap's edge")
    check("connection start not seen" in e["reason"], f"reason: {e['reason']}")
    check_eq(summary["h2_undecodable"], 1, "counted")
    check_eq([e for e in agent.edges() if e.get("type") == "credential"], [], "no credential edge made up")
    check("h2_undecodable" in agent.stderr(), "warned on stderr")
    _leak_check(agent, tmp, [inputs], [token])


GO_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "go_tls_client.go")


def test_go_crypto_tls_h2_h1_and_stripped(cleanup, tmp):
    """Go's crypto/tls: a Go client (Debian's golang-go builds it here) with
    its symbol table sends a bearer over HTTP/2 (ALPN h2, to nghttpd) and an
    api key over HTTP/1.1 (to python's server): reach probes
    crypto/tls.(*Conn).Write at its entry (register ABI) and gives a
    credential edge each, source go-tls. The same client stripped (-s -w) is
    found through its .gopclntab: covered too. One whose .gopclntab reach
    cannot find (the section renamed: the runtime does not need its name)
    is tls-blind with the reason, and its identity's verify is
    inconclusive."""
    go, nghttpd = shutil.which("go"), shutil.which("nghttpd")
    if not go or not nghttpd:
        raise Skip("not installed: golang-go / nghttp2-server (scripts/deps.sh)")
    h2port, h1port = 20320, 20321
    from harness import ROOT
    ca, cert, key = make_test_ca(cleanup, tmp)
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(os.path.join(inputs, "www"))
    start_process(cleanup, [nghttpd, "-d", os.path.join(inputs, "www"), "-a", HOST, str(h2port), key, cert])
    start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "https_server.py"), "--bind", HOST,
                            "--tls-port", str(h1port), "--cert", cert, "--key", key,
                            "--log", os.path.join(inputs, "s.log")])
    wait_port(HOST, h2port)
    wait_port(HOST, h1port)
    bins = {"full": os.path.join(tmp, "goclient"), "stripped": os.path.join(tmp, "goclient-stripped"),
            "nopcln": os.path.join(tmp, "goclient-nopcln")}
    for name, flags in (("full", []), ("stripped", ["-ldflags=-s -w"])):
        go_build(GO_SRC, bins[name], flags)
    subprocess.run(["objcopy", "--rename-section", ".gopclntab=.xgopclntab", bins["stripped"], bins["nopcln"]],
                   check=True, timeout=60)
    fp_key = os.urandom(32)
    key_file = os.path.join(inputs, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(fp_key)
    os.chmod(key_file, 0o600)
    tokens = {"h2": "reach-go-h2-bearer-4Rt8Yp2Kw6Qz1Mx3", "h1": "reach-go-h1-apikey-9Lc5Vb7Nd3Hs8Fj2",
              "stripped": "reach-go-stripped-token-7Bn3Xc5Vq1Lk", "blind": "reach-go-nopcln-bearer-2Gh6Tk9Pq4Wz"}
    root = Cgroup(cleanup, f"reach-e2e-go-{os.getpid()}")
    covered = Cgroup(cleanup, "covered", parent=root)
    blind = Cgroup(cleanup, "blind", parent=root)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--fingerprint-key", key_file,
                                 "--identity-rule", f"cgroup:{covered.rel} host/go-covered",
                                 "--identity-rule", f"cgroup:{blind.rel} host/go-blind"])
    go_file = os.path.join(inputs, "go")

    def run(cg, exe, env, urls):
        p = subprocess.Popen([exe, *urls], preexec_fn=cg.enter_fn(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, CA_FILE=ca, GO_FILE=go_file, **env))
        cleanup.add(lambda: p.poll() is None and p.kill())
        return p

    def wait_probed(exe, times=1):
        # a file's probes stay --tls-probe-linger (300 s) after its last
        # process exits: a second run of the same executable is probed already
        import time
        deadline = time.monotonic() + 15
        while sum(line.startswith("reachd: info: tls: probing /proc/") and line.endswith(f"{exe} (go-tls)")
                  for line in agent.stderr().splitlines()) < times:
            check(time.monotonic() < deadline, f"the agent probed {exe}: {agent.stderr()[-2000:]}")
            time.sleep(0.05)

    p1 = run(covered, bins["full"], {"HEADER_NAME": "Authorization", "HEADER_VALUE": "Bearer " + tokens["h2"]},
             [f"https://{HOST}:{h2port}/v1/models", f"https://{HOST}:{h2port}/v1/models/7"])
    wait_probed(bins["full"])
    with open(go_file, "w"):
        pass
    out1, err1 = p1.communicate(timeout=60)
    os.unlink(go_file)
    p2 = run(covered, bins["full"], {"HEADER_NAME": "X-Api-Key", "HEADER_VALUE": tokens["h1"], "H1": "1"},
             [f"https://{HOST}:{h1port}/v1/chat/completions"])
    wait_probed(bins["full"])  # lingering since p1: no second attach
    check_eq(sum(l.startswith("reachd: info: tls: probing /proc/") and l.endswith(f"{bins['full']} (go-tls)")
                 for l in agent.stderr().splitlines()), 1, "the Go executable probed once, kept for its 2nd run")
    with open(go_file, "w"):
        pass
    out2, err2 = p2.communicate(timeout=60)
    os.unlink(go_file)
    p4 = run(covered, bins["stripped"], {"HEADER_NAME": "X-Auth-Token", "HEADER_VALUE": tokens["stripped"]},
             [f"https://{HOST}:{h2port}/v1/stripped"])
    wait_probed(bins["stripped"])
    with open(go_file, "w"):
        pass
    out4, err4 = p4.communicate(timeout=60)
    os.unlink(go_file)
    p3 = run(blind, bins["nopcln"], {"HEADER_NAME": "Authorization", "HEADER_VALUE": "Bearer " + tokens["blind"]},
             [f"https://{HOST}:{h2port}/v1/models"])
    # the agent looks at an executable while its process lives: wait until it did
    import time
    deadline = time.monotonic() + 15
    while not any("is Go without a findable crypto/tls.(*Conn).Write" in line and bins["nopcln"] in line
                  for line in agent.stderr().splitlines()):
        check(time.monotonic() < deadline, f"the agent looked at {bins['nopcln']}: {agent.stderr()[-2000:]}")
        time.sleep(0.05)
    with open(go_file, "w"):
        pass
    out3, err3 = p3.communicate(timeout=60)
    check_eq((p1.returncode, p2.returncode, p3.returncode, p4.returncode), (0, 0, 0, 0),
             f"the Go clients ran: {err1} {err2} {err3} {err4}")
    check_eq((out1.split()[0], out2.split()[0]), ("HTTP/2.0", "HTTP/1.1"), "the protocols spoken")

    def cred(where, tok):
        return lambda e: e.get("type") == "credential" and e["where"] == where and \
            e["fingerprint"] == _fp(fp_key, tokens[tok])
    try:
        agent.wait_edge("Go HTTP/2, 2nd request", lambda e: cred("authorization", "h2")(e) and
                        e["path_template"] == "/v1/models/{id}", 15)
        agent.wait_edge("Go HTTP/1.1", cred("x-api-key", "h1"), 15)
        agent.wait_edge("Go stripped, through .gopclntab", cred("x-auth-token", "stripped"), 15)
        agent.wait_edge("the unfindable client's TLS", lambda e: e.get("type") == "tls" and
                        e["exe"] == bins["nopcln"], 15)
        blind_v = _verdict(agent, "host/go-blind")
    finally:
        summary = agent.stop()
        print("credential edges:", [(e["where"], e["path_template"], e["source"], e.get("proto"))
                                    for e in agent.edges() if e.get("type") == "credential"])
    creds = sorted((e["where"], e["credential_kind"], e["fingerprint"], e["method"], e["path_template"], e["host"],
                    e["source"], e["proto"], e["process_exe"]) for e in agent.edges() if e.get("type") == "credential")
    exe = bins["full"]
    expect = sorted([
        ("authorization", "bearer", _fp(fp_key, tokens["h2"]), "GET", "/v1/models", f"{HOST}:{h2port}", "go-tls",
         "h2", exe),
        ("authorization", "bearer", _fp(fp_key, tokens["h2"]), "GET", "/v1/models/{id}", f"{HOST}:{h2port}",
         "go-tls", "h2", exe),
        ("x-api-key", "api-key", _fp(fp_key, tokens["h1"]), "GET", "/v1/chat/completions", f"{HOST}:{h1port}",
         "go-tls", "http/1.1", exe),
        ("x-auth-token", "token", _fp(fp_key, tokens["stripped"]), "GET", "/v1/stripped", f"{HOST}:{h2port}",
         "go-tls", "h2", bins["stripped"]),
    ])
    check_eq(creds, expect, "credential edges, field by field (none from the unfindable client)")
    tls = {e["exe"]: e for e in agent.edges() if e.get("type") == "tls"}
    check_eq((tls[exe]["coverage"], tls[exe]["library"]), ("covered", "go-tls"), "the Go client with symbols")
    check_eq((tls[bins["stripped"]]["coverage"], tls[bins["stripped"]]["library"]), ("covered", "go-tls"),
             "the stripped Go client")
    check_eq(tls[bins["nopcln"]]["coverage"], "tls-blind", "the Go client without a findable table")
    check("gopclntab" in tls[bins["nopcln"]]["reason"], f"reason: {tls[bins['nopcln']]['reason']}")
    check_eq(blind_v["verdict"], "inconclusive", f"the stripped client's identity: {blind_v}")
    check("tls-blind" in json.dumps(blind_v["reasons"]), f"the road: {blind_v['reasons']}")
    check_eq(summary["h2_undecodable"], 0, "no HTTP/2 connection lost")
    _leak_check(agent, tmp, [inputs, os.path.join(tmp, "gocache"), os.path.join(tmp, "gopath")],
                list(tokens.values()))
