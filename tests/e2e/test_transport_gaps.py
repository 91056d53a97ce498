"""Transports reach does not read are gaps, never a silent pass (issue 17).

- `--no-go-tls`: a Go client sending a bearer over TLS is `tls-blind` with
  the reason (Go probing turned off), its identity's verify inconclusive,
  no credential edge made up; a Go client that started before the agent
  gets a reason that says so.
- A covered library (python's ssl over libssl, probed) carrying HTTP/2 that
  reach cannot decode (the connection started before the agent: its
  preface and first HPACK entries unseen) is not covered: the connection's
  edge is tls-blind (library openssl), the identity's road
  http2-undecoded, its verdict inconclusive.
- A Go executable built before the register ABI (its build info in the
  pre-1.18 layout) is not probed: tls-blind with the reason.
- A TLS connection that began before reach's probe on its library was
  attached (the race between a program's start and the attach, walked here
  by stopping the agent while the client connects): what it sent then was
  not seen, so its process gets a "(TLS before its probe)" tls-blind edge
  and the identity's verify is inconclusive, not a pass with the bearer
  unseen.
- A short-lived client gone before the agent read its library's open: a
  library already probed covers it (its credential is recorded, its
  verdict can pass); one no probe was on is tls-blind with that reason.
- An executable is looked at once per version of its file: one rewritten
  in place (same inode, size and mtime; the ctime moved) is looked at
  again, and the Go client written over a plain ELF is probed.

Ports 20742-20749 (the transports helper's range), 20960-20961, 20970."""
import json
import os
import select
import shutil
import signal
import subprocess
import time

from harness import (PYTHON, ROOT, Agent, Cgroup, Skip, check, check_eq, go_build, make_test_ca, need_tools,
                     start_process, wait_for, wait_port)
from test_h2 import GO_SRC, _verdict
from test_transports import _leak_check

HOST = "127.0.0.1"
GO_PORT, H2_TLS_PORT, RACE_PORT, GONE_PORT, CHANGED_PORT = 20742, 20743, 20960, 20961, 20970


def _policy(path, identity, ports):
    """All the identity does is declared: only a gap can spoil its verdict."""
    with open(path, "a") as f:
        f.write(f"""---
apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: {identity.split('/')[-1]}
spec:
  identity: {identity}
  egress:
    - {{cidr: 127.0.0.1/32, ports: [{', '.join(str(p) for p in ports)}], proto: tcp}}
  tools: ["/**"]
""")


def _wait_for_line(agent, pred, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not any(pred(line) for line in agent.stderr().splitlines()):
        check(time.monotonic() < deadline, f"{what}: {agent.stderr()[-2000:]}")
        time.sleep(0.05)


def _https_server(cleanup, tmp, inputs, port):
    """tests/e2e/https_server.py on HOST:port with a fresh test CA's
    certificate, its log in inputs/s.log: the CA's path, once it listens."""
    ca, cert, key = make_test_ca(cleanup, tmp)
    start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "https_server.py"), "--bind", HOST,
                            "--tls-port", str(port), "--cert", cert, "--key", key,
                            "--log", os.path.join(inputs, "s.log")])
    wait_port(HOST, port)
    return ca


def test_no_go_tls_is_blind_with_reason(cleanup, tmp):
    need_tools("go")
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(inputs)
    ca = _https_server(cleanup, tmp, inputs, GO_PORT)
    after_bin, before_bin = os.path.join(tmp, "goclient"), os.path.join(tmp, "goclient-early")
    go_build(GO_SRC, after_bin)
    shutil.copy(after_bin, before_bin)
    tokens = {"after": "reach-nogo-after-bearer-8Kd2Wq5Zr1Tm", "before": "reach-nogo-before-bearer-3Fv7Jx9Lc4Np"}
    root = Cgroup(cleanup, f"reach-e2e-nogo-{os.getpid()}")
    cgs = {w: Cgroup(cleanup, w, parent=root) for w in tokens}
    ids = {w: f"host/nogo-{w}" for w in tokens}
    policy = os.path.join(inputs, "policy.yaml")
    for w in tokens:
        _policy(policy, ids[w], [GO_PORT])
    go_file = os.path.join(inputs, "go")

    def run(w, exe):
        env = dict(os.environ, CA_FILE=ca, HEADER_NAME="Authorization", HEADER_VALUE="Bearer " + tokens[w])
        if w == "before":
            env["GO_FILE"] = go_file  # started now, it sends once the agent is up
        p = subprocess.Popen([exe, f"https://{HOST}:{GO_PORT}/v1/models"], preexec_fn=cgs[w].enter_fn(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        cleanup.add(lambda: p.poll() is None and p.kill())
        return p

    early = run("before", before_bin)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--no-go-tls", "--policy", policy,
                                 *[a for w in tokens for a in ("--identity-rule", f"cgroup:{cgs[w].rel} {ids[w]}")]])
    check("Go crypto/tls probing is off" in agent.stderr(), f"said at start: {agent.stderr()[-800:]}")
    late = run("after", after_bin)
    out_late, err_late = late.communicate(timeout=60)
    with open(go_file, "w"):
        pass
    out_early, err_early = early.communicate(timeout=60)
    check_eq((late.returncode, early.returncode), (0, 0), f"the Go clients ran: {err_late} {err_early}")
    check_eq((out_late.split()[0], out_early.split()[0]), ("HTTP/1.1", "HTTP/1.1"), "they were answered")
    try:
        agent.wait_edge("the Go client's TLS", lambda e: e.get("type") == "tls" and e["exe"] == after_bin, 15)
        agent.wait_edge("the early Go client's TLS", lambda e: e.get("type") == "tls" and e["exe"] == before_bin, 15)
        verdicts = {w: _verdict(agent, ids[w]) for w in tokens}
    finally:
        summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    check(not any("tls: probing" in line and "(go-tls)" in line for line in agent.stderr().splitlines()),
          "no Go executable was probed")
    tls = {e["exe"]: e for e in agent.edges() if e.get("type") == "tls"}
    for w, exe in (("after", after_bin), ("before", before_bin)):
        e = tls[exe]
        check_eq((e["coverage"], e["library"]), ("tls-blind", "none"), f"{w}: the Go client's TLS")
        check("Go probing is turned off (sensor.no_go_tls)" in e["reason"], f"{w}: reason: {e['reason']}")
        check_eq("started before the agent" in e["reason"], w == "before", f"{w}: reason: {e['reason']}")
        v = verdicts[w]
        check_eq(v["verdict"], "inconclusive", f"{w}: verify with Go TLS unread: {v}")
        check(f"blind road tls-blind: {exe}" in json.dumps(v["reasons"]), f"{w}: the road: {v['reasons']}")
    check_eq([e for e in agent.edges() if e.get("type") == "credential"], [], "no credential edge made up")
    check(summary["events"]["tls_hello"] >= 2, f"both ClientHellos seen: {summary['events']}")
    _leak_check(agent, tmp, [inputs, os.path.join(tmp, "gocache"), os.path.join(tmp, "gopath")],
                list(tokens.values()))


H2_CLIENT = r"""
import os, socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="api.example.com")
# the preface and a first request that indexes :authority, before the agent
first = b"\x82\x87\x84\x41\x0fapi.example.com"
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
          len(first).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + first)
deadline = time.monotonic() + 30
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.05)
# after: a request whose block refers to that entry, and the bearer
v = ("Bearer " + os.environ["TOKEN"]).encode()
second = b"\x82\x87\x84\xbe\x40\x0dauthorization" + bytes([len(v)]) + v
s.sendall(len(second).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x03" + second)
print("sent", flush=True)
time.sleep(0.2)
s.close()
"""

H2_SINK = r"""
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
ctx.set_alpn_protocols(["h2"])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4)
def drain(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
        while t.recv(65536):
            pass
    except OSError:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
"""


def test_covered_library_with_undecodable_h2_is_not_covered(cleanup, tmp):
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(inputs)
    ca, cert, key = make_test_ca(cleanup, tmp)
    start_process(cleanup, [PYTHON, "-c", H2_SINK, str(H2_TLS_PORT), cert, key])
    wait_port(HOST, H2_TLS_PORT)
    token = "reach-h2tls-midstream-bearer-5Rk8Lw2Qz7Xc"
    root = Cgroup(cleanup, f"reach-e2e-h2tlsmid-{os.getpid()}")
    cg = Cgroup(cleanup, "client", parent=root)
    identity = "host/h2-tls-midstream"
    policy = os.path.join(inputs, "policy.yaml")
    _policy(policy, identity, [H2_TLS_PORT])
    go = os.path.join(inputs, "go")
    client = subprocess.Popen([PYTHON, "-c", H2_CLIENT, str(H2_TLS_PORT), go], preexec_fn=cg.enter_fn(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, TOKEN=token))
    cleanup.add(lambda: client.poll() is None and client.kill())
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{cg.rel} {identity}",
                                 "--policy", policy])
    agent.epoch_start(identity, "v1")
    # python's libssl is probed from /proc/PID/maps at start: wait for it,
    # so that the second request goes through a probed SSL_write
    _wait_for_line(agent, lambda line: "tls: probing" in line and "(openssl)" in line, "libssl probed")
    with open(go, "w"):
        pass
    try:
        agent.wait_edge("the undecodable HTTP/2 connection",
                        lambda e: e.get("type") == "tls" and e["exe"] == f"{PYTHON} (http/2)", 15)
        verdict = _verdict(agent, identity)
    finally:
        out, err = client.communicate(timeout=30)
        summary = agent.stop()
    check_eq((client.returncode, out.strip()), (0, "sent"), f"the client ran: {err}")
    e = {e["exe"]: e for e in agent.edges() if e.get("type") == "tls"}[f"{PYTHON} (http/2)"]
    check_eq((e["coverage"], e["library"]), ("tls-blind", "openssl"),
             "the connection through the probed library is not covered")
    check("connection start not seen" in e["reason"], f"reason: {e['reason']}")
    check_eq(verdict["verdict"], "inconclusive", f"verify: {verdict}")
    check(f"blind road http2-undecoded: {PYTHON} (http/2)" in json.dumps(verdict["reasons"]),
          f"the road: {verdict['reasons']}")
    check_eq(summary["h2_undecodable"], 1, "counted")
    check_eq([e for e in agent.edges() if e.get("type") == "credential"], [], "no credential edge made up")
    _leak_check(agent, tmp, [inputs], [token])


def test_go_older_than_register_abi_is_refused(cleanup, tmp):
    """A Go executable whose build info is the pre-1.18 layout (its flags
    byte says strings are pointers: a toolchain that may predate the
    register ABI) is not probed: reading RAX/RBX/RCX there would read
    garbage. Its TLS is tls-blind with the reason, its verify inconclusive.
    Debian's Go is newer, so the test flips that byte in a built client:
    the runtime never reads it."""
    need_tools("go")
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(inputs)
    port = GO_PORT + 2
    ca = _https_server(cleanup, tmp, inputs, port)
    exe = os.path.join(tmp, "goclient-oldabi")
    go_build(GO_SRC, exe)
    hdr = subprocess.run(["objdump", "-h", exe], stdout=subprocess.PIPE, text=True, check=True).stdout
    off = next(int(l.split()[5], 16) for l in hdr.splitlines() if ".go.buildinfo" in l)
    with open(exe, "r+b") as f:
        f.seek(off)
        check_eq(f.read(15), b"\xff Go buildinf:\x08", "the build info header")
        flags = f.read(1)[0]
        check(flags & 2, "a 1.18+ build info (inline strings)")
        f.seek(off + 15)
        f.write(bytes([flags & ~2]))
    token = "reach-go-oldabi-bearer-4Wn8Qc2Lx6Tp"
    cg = Cgroup(cleanup, f"reach-e2e-gooldabi-{os.getpid()}")
    identity = "host/go-oldabi"
    policy = os.path.join(inputs, "policy.yaml")
    _policy(policy, identity, [port])
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--policy", policy, "--identity-rule",
                                 f"cgroup:{cg.rel} {identity}"])
    p = cg.run([exe, f"https://{HOST}:{port}/v1/models"],
               env=dict(os.environ, CA_FILE=ca, HEADER_NAME="Authorization", HEADER_VALUE="Bearer " + token))
    check_eq(p.stdout.split()[0], "HTTP/1.1", "the client was answered")
    try:
        agent.wait_edge("the client's TLS", lambda e: e.get("type") == "tls" and e["exe"] == exe, 15)
        verdict = _verdict(agent, identity)
    finally:
        agent.stop()
    check(not any("tls: probing" in line and "(go-tls)" in line for line in agent.stderr().splitlines()),
          "the executable was not probed")
    check(any("not the register ABI" in line and exe in line for line in agent.stderr().splitlines()),
          f"said why: {agent.stderr()[-1500:]}")
    e = {e["exe"]: e for e in agent.edges() if e.get("type") == "tls"}[exe]
    check_eq((e["coverage"], e["library"]), ("tls-blind", "none"), "the old-ABI client's TLS")
    check("older than the register ABI" in e["reason"], f"reason: {e['reason']}")
    check_eq(verdict["verdict"], "inconclusive", f"verify: {verdict}")
    check_eq([e for e in agent.edges() if e.get("type") == "credential"], [], "no credential edge made up")
    _leak_check(agent, tmp, [inputs, os.path.join(tmp, "gocache"), os.path.join(tmp, "gopath")], [token])


def _tls_server_and_private_libssl(cleanup, tmp, port):
    """A TLS server on port (python: it maps the system libssl, which the
    agent therefore probes at start) and TMP/lib/libssl.so.3, a copy of the
    system libssl: another inode, which no probe is on until a client
    loads it (LD_LIBRARY_PATH). (inputs dir, lib dir, CA file)."""
    inputs, lib = os.path.join(tmp, "inputs"), os.path.join(tmp, "lib")
    os.makedirs(inputs)
    os.makedirs(lib)
    libssl = next((p for p in ("/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3")
                   if os.path.exists(p)), None)
    if not libssl:
        raise Skip("not installed: libssl.so.3")
    shutil.copy(libssl, os.path.join(lib, "libssl.so.3"))
    ca = _https_server(cleanup, tmp, inputs, port)
    return inputs, lib, ca


RACE_CLIENT = r"""
import os, ssl, sys, time, http.client
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=20)
c.request("GET", "/v1/models", headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
print(c.getresponse().status, flush=True)
deadline = time.monotonic() + 60   # alive until the agent has looked at it
while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def test_tls_begun_before_the_probe_is_blind(cleanup, tmp):
    """The client loads its own copy of libssl (a file no probe is on yet)
    and sends a bearer while the agent is stopped (SIGSTOP): the agent
    resumes, attaches the probe when it reads the library's open, and then
    meets the ClientHello, older than the attach."""
    inputs, lib, ca = _tls_server_and_private_libssl(cleanup, tmp, RACE_PORT)
    token = "reach-tlsrace-bearer-6Hq3Vt8Nw2Lp"
    root = Cgroup(cleanup, f"reach-e2e-tlsrace-{os.getpid()}")
    cg = Cgroup(cleanup, "client", parent=root)
    identity = "host/tls-race"
    policy = os.path.join(inputs, "policy.yaml")
    _policy(policy, identity, [RACE_PORT])
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{cg.rel} {identity}",
                                 "--policy", policy])
    agent.epoch_start(identity, "v1")
    go = os.path.join(inputs, "go")
    agent.proc.send_signal(signal.SIGSTOP)
    cleanup.add(lambda: agent.proc.poll() is None and agent.proc.send_signal(signal.SIGCONT))
    client = subprocess.Popen([PYTHON, "-c", RACE_CLIENT, str(RACE_PORT), ca, go], preexec_fn=cg.enter_fn(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, TOKEN=token, LD_LIBRARY_PATH=lib))
    cleanup.add(lambda: client.poll() is None and client.kill())
    ready, _, _ = select.select([client.stdout], [], [], 30)
    status = client.stdout.readline().strip() if ready else ""
    agent.proc.send_signal(signal.SIGCONT)
    check_eq(status, "200", "the client's request was answered while the agent was stopped")
    exe = f"{PYTHON} (TLS before its probe)"
    try:
        agent.wait_edge("the connection begun before the probe",
                        lambda e: e.get("type") == "tls" and e["exe"] == exe, 15)
        verdict = _verdict(agent, identity)
    finally:
        with open(go, "w"):
            pass
        out, err = client.communicate(timeout=30)
        summary = agent.stop()
    check_eq(client.returncode, 0, f"the client ran: {err}")
    check(any("tls: probing" in line and os.path.join(lib, "libssl.so.3") in line
              for line in agent.stderr().splitlines()), "the client's own libssl was probed (after the hello)")
    e = {e["exe"]: e for e in agent.edges() if e.get("type") == "tls"}[exe]
    check_eq((e["coverage"], e["library"]), ("tls-blind", "openssl"), "the connection before the probe")
    check(e["reason"].startswith("its TLS connection began before reach's probe on its library was attached"),
          f"reason: {e['reason']}")
    check(" ms after the connection began)" in e["reason"], f"reason says how late: {e['reason']}")
    check_eq(summary["tls_before_probe"], 1, "one connection judged begun before its probe")
    check_eq([c for c in agent.edges() if c.get("type") == "credential"], [],
             "no credential edge: the bearer was sent before the probe, unseen")
    check_eq(verdict["verdict"], "inconclusive", f"verify with the bearer unseen: {verdict}")
    check(f"blind road tls-blind: {exe}" in json.dumps(verdict["reasons"]), f"the road: {verdict['reasons']}")
    _leak_check(agent, tmp, [inputs], [token])


def test_tls_of_a_client_gone_before_the_agent_read_it(cleanup, tmp):
    """Two curls send a bearer and exit while the agent is stopped: one
    through the system libssl (probed from the start: the TLS server maps
    it), one through a private copy no probe is on. When the agent resumes
    both are gone: the first is known by the inode of its library's open
    (covered, its credential recorded, its verdict passes), the second is
    tls-blind with the reason (inconclusive)."""
    need_tools("curl")
    curl = os.path.realpath(shutil.which("curl"))
    inputs, lib, ca = _tls_server_and_private_libssl(cleanup, tmp, GONE_PORT)
    tokens = {"probed": "reach-gone-probed-bearer-4Tz8Qm1Wx6Kd", "unprobed": "reach-gone-unprobed-bearer-9Ld3Hs5Rv2Jn"}
    root = Cgroup(cleanup, f"reach-e2e-tlsgone-{os.getpid()}")
    cgs = {w: Cgroup(cleanup, w, parent=root) for w in tokens}
    ids = {w: f"host/tls-gone-{w}" for w in tokens}
    policy = os.path.join(inputs, "policy.yaml")
    for w in tokens:
        _policy(policy, ids[w], [GONE_PORT])
        with open(policy, "a") as f:
            f.write("  credentials:\n    - {host: 127.0.0.1, kinds: [bearer], paths: ['/v1/*']}\n")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--policy", policy,
                                 *[a for w in tokens for a in ("--identity-rule", f"cgroup:{cgs[w].rel} {ids[w]}")]])
    check(any("tls: probing" in line and line.rstrip().endswith("libssl.so.3 (openssl)")
              and lib not in line for line in agent.stderr().splitlines()),
          f"the system libssl probed at start (the server maps it): {agent.stderr()[-600:]}")
    agent.proc.send_signal(signal.SIGSTOP)
    cleanup.add(lambda: agent.proc.poll() is None and agent.proc.send_signal(signal.SIGCONT))
    try:
        for w in tokens:
            env = dict(os.environ, **({"LD_LIBRARY_PATH": lib} if w == "unprobed" else {}))
            p = cgs[w].run([curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "-H",
                            f"Authorization: Bearer {tokens[w]}", f"https://{HOST}:{GONE_PORT}/v1/models"], env=env)
            check_eq(p.stdout, "200", f"{w}: curl was answered while the agent was stopped")
    finally:
        agent.proc.send_signal(signal.SIGCONT)
    try:
        wait_for(lambda: len([e for e in agent.edges() if e.get("type") == "tls" and e["exe"] == curl]) >= 2,
                 "both curls' TLS edges", 15)
        verdicts = {w: _verdict(agent, ids[w]) for w in tokens}
    finally:
        summary = agent.stop()
    tls = {e["cgroup"]: e for e in agent.edges() if e.get("type") == "tls" and e["exe"] == curl}
    probed, unprobed = tls[cgs["probed"].rel], tls[cgs["unprobed"].rel]
    check_eq((probed["coverage"], probed["library"]), ("covered", "openssl"),
             "the gone curl whose libssl was probed: covered")
    check_eq((unprobed["coverage"], unprobed["library"]), ("tls-blind", "none"),
             "the gone curl whose libssl no probe was on: tls-blind")
    check("exited before reach could probe it" in unprobed["reason"], f"reason: {unprobed['reason']}")
    creds = [(e["cgroup"], e["credential_kind"], e["path_template"]) for e in agent.edges()
             if e.get("type") == "credential"]
    check_eq(creds, [(cgs["probed"].rel, "bearer", "/v1/models")], "only the probed curl's bearer was seen")
    check_eq(verdicts["probed"]["verdict"], "pass", f"probed: {verdicts['probed']}")
    check_eq(verdicts["unprobed"]["verdict"], "inconclusive", f"unprobed: {verdicts['unprobed']}")
    check(f"blind road tls-blind: {curl}" in json.dumps(verdicts["unprobed"]["reasons"]),
          f"the road: {verdicts['unprobed']['reasons']}")
    check_eq(summary["tls_before_probe"], 0, "both began after the system libssl was probed")
    _leak_check(agent, tmp, [inputs], list(tokens.values()))


def test_an_executable_changed_in_place_is_looked_at_again(cleanup, tmp):
    """reachd looks at an executable once per version of its file (device,
    inode, size, mtime, ctime), not at every exec. A file rewritten in
    place, the same inode and size, its mtime put back, is a new version
    all the same (its ctime moved): a plain ELF run first (nothing to
    probe, remembered so), then the Go client written over it and run with
    a bearer is probed, and its credential recorded, source go-tls. Were
    the first look reused, its TLS would be unread."""
    need_tools("go")
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(inputs)
    port = CHANGED_PORT
    ca = _https_server(cleanup, tmp, inputs, port)
    gobin = os.path.join(tmp, "goclient")
    go_build(GO_SRC, gobin)
    with open(gobin, "rb") as f:
        go_bytes = f.read()
    true_bin = os.path.realpath(shutil.which("true"))
    with open(true_bin, "rb") as f:
        plain = f.read()
    check(len(plain) < len(go_bytes), "the plain ELF is smaller than the Go client")
    exe = os.path.join(tmp, "tool")
    with open(exe, "wb") as f:
        f.write(plain + b"\0" * (len(go_bytes) - len(plain)))  # padded: an ELF runs with bytes past its end
    os.chmod(exe, 0o755)
    before = os.stat(exe)
    cg = Cgroup(cleanup, f"reach-e2e-inplace-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    cg.run([exe])
    agent.wait_edge("the plain run", lambda e: e.get("type") == "tool" and e["exe"] == exe)
    with open(exe, "r+b") as f:  # in place: the same inode
        f.write(go_bytes)
    os.utime(exe, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(exe)
    check_eq((after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns),
             (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns),
             "the same inode, size and mtime")
    check(after.st_ctime_ns != before.st_ctime_ns, "the ctime moved")
    gate = os.path.join(inputs, "go")
    token = "reach-inplace-bearer-6Hq2Wd8Ln4Zs"
    p = subprocess.Popen([exe, f"https://{HOST}:{port}/v1/models"], preexec_fn=cg.enter_fn(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, CA_FILE=ca, GO_FILE=gate, HEADER_NAME="Authorization",
                                  HEADER_VALUE="Bearer " + token))
    cleanup.add(lambda: p.poll() is None and p.kill())
    _wait_for_line(agent, lambda l: l.startswith("reachd: info: tls: probing /proc/") and l.endswith(f"{exe} (go-tls)"),
                   "the rewritten executable probed")
    with open(gate, "w"):
        pass
    out, err = p.communicate(timeout=60)
    check_eq(p.returncode, 0, f"the Go client ran: {err[-500:]}")
    try:
        agent.wait_edge("the bearer", lambda e: e.get("type") == "credential" and e["process_exe"] == exe)
    finally:
        agent.stop()
    cred = [e for e in agent.edges() if e.get("type") == "credential" and e["process_exe"] == exe]
    check_eq([(e["source"], e["where"], e["credential_kind"], e["method"], e["path_template"], e["host"], e["proto"])
              for e in cred],
             [("go-tls", "authorization", "bearer", "GET", "/v1/models", f"{HOST}:{port}", "http/1.1")],
             "the credential, from the Go probe")
    tls = [(e["coverage"], e["library"]) for e in agent.edges() if e.get("type") == "tls" and e["exe"] == exe]
    check_eq(tls, [("covered", "go-tls")], "the rewritten executable's TLS")
    _leak_check(agent, tmp, [inputs], [token])
