"""Roads without the syscalls reach reads (issue #16): io_uring requests and
descriptors passed between processes. Each road runs in its own cgroup and
identity, as an attacker would take it, under a policy that declares every
tool and no secret and no egress: `reachctl verify` must not pass. Either
the edge is recorded under the real file (or destination) for the identity
that took the road, or the identity is inconclusive naming the road
("blind road io_uring: <exe>: <op> ...")."""
import json
import os
import socket
import subprocess

from harness import PYTHON, REACHCTL, ROOT, Agent, Cgroup, check, check_eq, sh, start_process, wait_for, wait_port

HOST = "127.0.0.1"
# this file's ports: 20200-20219
UDP_PORT, UDPTO_PORT, TCP_PORT, TCPMSG_PORT = 20200, 20201, 20202, 20203


def _policy(path, identity):
    with open(path, "w") as f:
        f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: roads
spec:
  identity: {identity}
  secrets: []
  tools: ["/**"]
""")


def _verify(agent, identity, tmp):
    policy = os.path.join(tmp, f"policy-{identity.replace('/', '-')}.yaml")
    _policy(policy, identity)
    p = subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", identity, "--policy", policy,
                        "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    verdicts = [v for v in json.loads(p.stdout)["identities"] if v["identity"] == identity]
    check_eq(len(verdicts), 1, f"{identity}: one verdict: {p.stdout[:400]}")
    # the findings themselves: the text report names each object
    text = subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", identity, "--policy", policy],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check_eq(text.returncode, p.returncode, f"{identity}: the same verdict in text: {text.stdout[:400]}")
    verdicts[0]["text"] = text.stdout
    return p.returncode, verdicts[0]


def _client(cleanup, tmp):
    """The io_uring client, built against liburing (scripts/deps.sh)."""
    exe = os.path.join(tmp, "uring_client")
    sh("gcc", "-O2", "-Wall", os.path.join(ROOT, "tests", "e2e", "clients", "uring_client.c"), "-o", exe, "-luring")
    return exe


def _secret(tmp):
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    secret = os.path.join(keys, "x.key")
    with open(secret, "w") as f:
        f.write("not-a-real-key-material\n")
    return secret


def _fd_server(cleanup, secret, path):
    """An unmonitored helper that opens the secret and hands the descriptor
    to whoever connects to the unix socket at path (SCM_RIGHTS)."""
    code = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[2])
s.listen(4)
while True:
    c, _ = s.accept()
    fd = os.open(sys.argv[1], os.O_RDONLY)
    socket.send_fds(c, [b"k"], [fd])
    os.close(fd)
    c.close()
"""
    start_process(cleanup, [PYTHON, "-c", code, secret, path])
    wait_for(lambda: os.path.exists(path), "fd server listening", 10)


def _secret_edge(agent, cg):
    return agent.wait_edge(f"{cg.rel}: secret edge",
                           lambda e: e.get("type") == "secret" and e.get("cgroup") == cg.rel, 15)


def test_io_uring_file_roads(cleanup, tmp):
    """OPENAT + READ, OPENAT into a fixed-file slot + READ of the fixed file,
    and a descriptor received through the ring (RECVMSG, SCM_RIGHTS) then
    READ: no open or read syscall exit happens in the task. The secret is
    recorded under the real file for the identity that read it, with the
    io_uring op as the name it was reached by; the ring's receive on a unix
    socket is a blind road of its own."""
    client = _client(cleanup, tmp)
    secret = _secret(tmp)
    sock = os.path.join(tmp, "fd.sock")
    _fd_server(cleanup, secret, sock)
    root = Cgroup(cleanup, f"reach-e2e-uring-{os.getpid()}")
    modes = {"read": secret, "fixed": secret, "recvread": sock}
    cgs, rules = {}, []
    for mode in modes:
        cgs[mode] = Cgroup(cleanup, mode, parent=root)
        rules += ["--identity-rule", f"cgroup:{cgs[mode].rel} host/uring-{mode}"]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])

    for mode, arg in modes.items():
        cgs[mode].run([client, mode, arg])
        e = _secret_edge(agent, cgs[mode])
        check_eq(e["path"], secret, f"{mode}: the edge is the real file")
        check_eq(e["category"], "private-key", f"{mode}: category")
        check_eq(e["process_exe"], client, f"{mode}: the client's edge")
        want = "(io_uring read)" if mode == "recvread" else "(io_uring openat)"
        check_eq(e["requested_path"], want, f"{mode}: reached by the io_uring op")

    for mode in modes:
        identity = f"host/uring-{mode}"
        rc, v = _verify(agent, identity, tmp)
        check(rc in (1, 2) and v["verdict"] != "pass", f"{mode}: verify must not pass: {rc} {v}")
        check(secret in v["text"], f"{mode}: the finding names the real file: {v['text'][:600]}")
    # the descriptor came through the ring's RECVMSG: a road reach names
    rc, v = _verify(agent, "host/uring-recvread", tmp)
    check_eq((rc, v["verdict"]), (2, "inconclusive"), f"recvread: the ring's unix receive is a gap: {v}")
    check(f"blind road io_uring: {client}: recvmsg on a unix socket" in v["reasons"], f"recvread: the road: {v}")
    # the ledger keeps how the file was reached (opened_as)
    doc = wait_for(lambda: next((e for i in agent.reachctl("reach", "--identity", "host/uring-read", "-o", "json")
                                 ["identities"] for e in i["edges"] if e["kind"] == "secret"), None),
                   "io_uring read edge in the ledger", 10)
    check_eq((doc["object"], doc["opened_as"]), (secret, "(io_uring openat)"), "ledger: object and opened_as")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    check(summary["events"].get("file_via", 0) >= 3, f"file_via events counted: {summary['events']}")


TCP_SINK = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.close()
"""


def start_tcp_sink(cleanup, port):
    """A loopback TCP server that takes a connection's first bytes and
    closes it: a destination for the clients' connects and sends."""
    start_process(cleanup, [PYTHON, "-c", TCP_SINK, str(port)])
    wait_port(HOST, port)


def test_io_uring_egress_roads(cleanup, tmp):
    """UDP CONNECT + SEND, unconnected UDP SENDMSG with msg_name, TCP CONNECT
    (+ SEND of an HTTP head) through the ring: egress edges of the client
    (not of an io-wq worker); TCP SENDMSG's bytes are not decoded: the blind
    road io_uring sendmsg."""
    client = _client(cleanup, tmp)
    for port in (TCP_PORT, TCPMSG_PORT):
        start_tcp_sink(cleanup, port)
    root = Cgroup(cleanup, f"reach-e2e-uring-net-{os.getpid()}")
    runs = {"udp": UDP_PORT, "udpto": UDPTO_PORT, "tcp": TCP_PORT, "tcpmsg": TCPMSG_PORT}
    cgs, rules = {}, []
    for mode in runs:
        cgs[mode] = Cgroup(cleanup, mode, parent=root)
        rules += ["--identity-rule", f"cgroup:{cgs[mode].rel} host/uring-{mode}"]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])
    for mode, port in runs.items():
        p = cgs[mode].run([client, mode, HOST, str(port)])
        proto = "tcp" if mode.startswith("tcp") else "udp"
        e = agent.wait_edge(f"{mode}: egress edge", lambda e, cg=cgs[mode], port=port, proto=proto:
                            e.get("type") == "egress" and e.get("cgroup") == cg.rel and e["port"] == port
                            and e["proto"] == proto, 15)
        check_eq(e["address"], HOST, f"{mode}: destination")
        check_eq(e["process_exe"], client, f"{mode}: the submitting client's edge, not an io-wq worker's")
        if proto == "tcp":
            check_eq(e["outcomes"], {"established": 1}, f"{mode}: outcome")
        else:
            check_eq(e["outcomes"], {"sent": 1}, f"{mode}: outcome")
        check(p.returncode == 0, f"{mode}: client ran")
    for mode in runs:
        rc, v = _verify(agent, f"host/uring-{mode}", tmp)
        check(rc in (1, 2) and v["verdict"] != "pass", f"{mode}: verify with no egress declared: {rc} {v}")
    rc, v = _verify(agent, "host/uring-tcpmsg", tmp)
    check_eq((rc, v["verdict"]), (2, "inconclusive"), f"tcpmsg: the undecoded send is a gap: {v}")
    check(f"blind road io_uring: {client}: sendmsg on a TCP socket" in v["reasons"], f"tcpmsg: the road: {v}")
    rc, v = _verify(agent, "host/uring-tcp", tmp)
    check("blind road" not in v["reasons"], f"tcp: SEND is decoded, no road: {v}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


def test_passed_descriptors(cleanup, tmp):
    """A secret opened by an unmonitored helper reaches the monitored process
    as a descriptor: over a unix socket (SCM_RIGHTS, recvmsg) and taken with
    pidfd_getfd. No open happens in the monitored task; the read is the
    receiver's secret edge under the real file. More descriptors in one
    message than the kernel looks at is a loss of the receiver's identity:
    inconclusive."""
    secret = _secret(tmp)
    sock = os.path.join(tmp, "fd.sock")
    _fd_server(cleanup, secret, sock)
    # a holder that keeps the secret open and says which descriptor it is
    ready = os.path.join(tmp, "holder.fd")
    holder = start_process(cleanup, [PYTHON, "-c", r"""
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(fd))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(120)
""", secret, ready])
    wait_for(lambda: os.path.exists(ready), "holder ready", 10)
    with open(ready) as f:
        holder_fd = int(f.read())
    root = Cgroup(cleanup, f"reach-e2e-passfd-{os.getpid()}")
    cgs = {"scm": Cgroup(cleanup, "scm", parent=root), "pidfd": Cgroup(cleanup, "pidfd", parent=root)}
    cg_many = Cgroup(cleanup, "many", parent=root)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path,
                                 "--identity-rule", f"cgroup:{cgs['scm'].rel} host/passfd-scm",
                                 "--identity-rule", f"cgroup:{cgs['pidfd'].rel} host/passfd-pidfd",
                                 "--identity-rule", f"cgroup:{cg_many.rel} host/passfd-many"])
    cgs["scm"].python(r"""
import os, socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(sys.argv[1])
_, fds, _, _ = socket.recv_fds(c, 8, 4)
os.read(fds[0], 64)
""", sock)
    cgs["pidfd"].python(r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(int(sys.argv[1]))
fd = libc.syscall(438, pidfd, int(sys.argv[2]), 0)  # pidfd_getfd
if fd < 0:
    sys.exit("pidfd_getfd: errno %d" % ctypes.get_errno())
os.read(fd, 64)
""", str(holder.pid), str(holder_fd))
    for name, via in (("scm", "(received over SCM_RIGHTS)"), ("pidfd", "(pidfd_getfd)")):
        e = _secret_edge(agent, cgs[name])
        check_eq(e["path"], secret, f"{name}: the edge is the real file")
        check_eq(e["category"], "private-key", f"{name}: category")
        check_eq(e["process_exe"], PYTHON, f"{name}: the receiver's edge")
        check_eq(e["requested_path"], via, f"{name}: how the descriptor arrived")
        rc, v = _verify(agent, f"host/passfd-{name}", tmp)
        check(rc in (1, 2) and v["verdict"] != "pass", f"{name}: verify must not pass: {rc} {v}")
        check(secret in v["text"], f"{name}: the finding names the real file: {v['text'][:600]}")
    # more descriptors in one message than the kernel looks at (8): the rest
    # is a loss of this identity, never a silent pass
    many = os.path.join(tmp, "many.sock")
    start_process(cleanup, [PYTHON, "-c", r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
c, _ = s.accept()
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(9)]
socket.send_fds(c, [b"k"], fds)
c.close()
""", many])
    wait_for(lambda: os.path.exists(many), "many-fd server listening", 10)
    cg_many.python(r"""
import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(sys.argv[1])
_, fds, _, _ = socket.recv_fds(c, 8, 16)
assert len(fds) == 9, fds
""", many)

    def many_inconclusive():
        rc, v = _verify(agent, "host/passfd-many", tmp)
        return (rc, v) if v["verdict"] == "inconclusive" else None
    rc, v = wait_for(many_inconclusive, "9 descriptors in one message: inconclusive", 15)
    check_eq(rc, 2, f"many: exit code {v}")
    check("file_via truncated 1" in v["reasons"], f"many: the loss is named: {v['reasons']}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


# Each egress road: (name, script). argv[1] is the first port of this test.
EGRESS_ROADS = [
    ("icmp", r"""
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(bytes([8, 0, 0xf7, 0xff, 0, 0, 0, 0]), ("127.0.0.1", 0))  # echo request, checksum of the zero body
"""),
    ("icmp6", r"""
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.sendto(bytes([128, 0, 0, 0, 0, 0, 0, 0]), ("::1", 0))  # echo request (the kernel fills the checksum)
"""),
    ("packet", r"""
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))  # local experimental ethertype
s.bind(("lo", 0))
s.send(b"\0" * 12 + b"\x88\xb5" + b"reach-e2e-frame")
"""),
    ("rawip", r"""
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)  # 253: experimental protocol number
s.sendto(b"reach-e2e-raw", ("127.0.0.1", 0))
"""),
    ("mmsg", r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]
class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
data = ctypes.create_string_buffer(b"reach-e2e-mmsg")
iov = iovec(ctypes.cast(data, ctypes.c_void_p), 14)
msgs = (mmsghdr * 2)()
addrs = []
for i in range(2):
    # sockaddr_in: family in host order, port in network order
    a = ctypes.create_string_buffer(struct.pack("=H", socket.AF_INET) + struct.pack("!H", int(sys.argv[1]) + i) +
                                    socket.inet_aton("127.0.0.1") + bytes(8))
    addrs.append(a)  # kept alive until the call
    msgs[i].hdr.name = ctypes.cast(a, ctypes.c_void_p)
    msgs[i].hdr.namelen = 16
    msgs[i].hdr.iov = ctypes.cast(ctypes.pointer(iov), ctypes.c_void_p)
    msgs[i].hdr.iovlen = 1
n = libc.sendmmsg(s.fileno(), msgs, 2, 0)
if n != 2:
    sys.exit("sendmmsg: %d errno %d" % (n, ctypes.get_errno()))
"""),
    ("tfo", r"""
s = socket.socket()
s.sendto(b"GET / HTTP/1.0\r\n\r\n", socket.MSG_FASTOPEN, ("127.0.0.1", int(sys.argv[1]) + 2))
s.close()
"""),
]


def test_egress_roads(cleanup, tmp):
    """Egress the syscall exits did not decode before: raw ICMP (v4 and v6)
    is an egress edge icmp/ADDR/0 (not udp, not silent); a packet socket and
    a raw IP socket of another protocol are the blind road raw-socket;
    sendmmsg names every message's destination, not only the first; a TCP
    Fast Open sendto is the connect it is. Nothing declared: no verdict is a
    pass."""
    first = 20204  # mmsg: 20204 and 20205; tfo: 20206
    start_process(cleanup, [PYTHON, "-c", r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    c.close()
""", str(first + 2)])
    wait_port(HOST, first + 2)
    root = Cgroup(cleanup, f"reach-e2e-egress-roads-{os.getpid()}")
    cgs, rules = {}, []
    for name, _ in EGRESS_ROADS:
        cgs[name] = Cgroup(cleanup, name, parent=root)
        rules += ["--identity-rule", f"cgroup:{cgs[name].rel} host/road-{name}"]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])
    for name, script in EGRESS_ROADS:
        cgs[name].python("import socket, struct, sys\n" + script, str(first))

    def egress(name, proto, address, port):
        return agent.wait_edge(f"{name}: {proto}/{address}/{port}", lambda e: e.get("type") == "egress" and
                               e.get("cgroup") == cgs[name].rel and e["proto"] == proto and
                               e["address"] == address and e["port"] == port, 15)

    for name, address in (("icmp", HOST), ("icmp6", "::1")):
        e = egress(name, "icmp", address, 0)
        check_eq((e["process_exe"], e["outcomes"]), (PYTHON, {"sent": 1}), f"{name}: the edge")
    for port in (first, first + 1):
        e = egress("mmsg", "udp", HOST, port)
        check_eq(e["process_exe"], PYTHON, f"mmsg: the edge to {port}")
    e = egress("tfo", "tcp", HOST, first + 2)
    check_eq(e["outcomes"], {"established": 1}, "tfo: the connect it is")

    for name, _ in EGRESS_ROADS:
        rc, v = _verify(agent, f"host/road-{name}", tmp)
        check(rc in (1, 2) and v["verdict"] != "pass", f"{name}: verify with nothing declared: {rc} {v}")
    for name, why in (("packet", "family 17"), ("rawip", "family 2")):
        rc, v = _verify(agent, f"host/road-{name}", tmp)
        check_eq((rc, v["verdict"]), (2, "inconclusive"), f"{name}: the undecoded send is a gap: {v}")
        check(f"blind road raw-socket: {PYTHON}: {why} send on a raw or packet socket" in v["reasons"],
              f"{name}: the road named: {v['reasons']}")
    # an ICMP destination declared is within policy (proto icmp)
    policy = os.path.join(tmp, "icmp-declared.yaml")
    with open(policy, "w") as f:
        f.write("""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: icmp
spec:
  identity: host/road-icmp
  egress:
    - {cidr: 127.0.0.1/32, proto: icmp}
  tools: ["/**"]
""")
    p = subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", "host/road-icmp", "--policy",
                        policy], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check_eq(p.returncode, 0, f"icmp declared: pass: {p.stdout} {p.stderr}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


def test_inherited_descriptor(cleanup, tmp):
    """An unmonitored runner opens the secret and starts the workload with
    the descriptor inherited (`app < secret.key` done by someone else): the
    workload never opens it and reads it with read(2). The runner's child
    enters the workload's cgroup (before exec) already holding it: since
    test_roads2 that is the first sighting, "(held on entering the cgroup)";
    the program it then execs (head, another executable) holds it at exec,
    a second sighting ("(inherited at exec)", a file_via event of its own)
    that joins the same secret edge as one of its executables."""
    secret = _secret(tmp)
    reader = "/usr/bin/head"  # coreutils: on every host the tests run on
    root = Cgroup(cleanup, f"reach-e2e-inherit-{os.getpid()}")
    cg = Cgroup(cleanup, "app", parent=root)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{cg.rel} host/inherit"])
    with open(secret, "rb") as f:  # opened here, outside every monitored cgroup
        cg.run([reader, "-c", "64"], stdin=f)
    e = _secret_edge(agent, cg)
    check_eq((e["path"], e["category"]), (secret, "private-key"), "the edge is the real file")
    check_eq(e["requested_path"], "(held on entering the cgroup)", "how the file first reached it")
    doc = wait_for(lambda: next((d for i in agent.reachctl("reach", "--identity", "host/inherit", "-o", "json")
                                 ["identities"] for d in i["edges"] if d["kind"] == "secret" and
                                 reader in d["executables"]), None), "the program that holds it at exec", 10)
    check_eq((doc["object"], doc["opened_as"]), (secret, "(held on entering the cgroup)"), "ledger: one secret edge")
    rc, v = _verify(agent, "host/inherit", tmp)
    check(rc in (1, 2) and v["verdict"] != "pass", f"verify must not pass: {rc} {v}")
    check(secret in v["text"], f"the finding names the real file: {v['text'][:600]}")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    check(summary["events"].get("file_via", 0) >= 2, f"entered and inherited at exec: {summary['events']}")
